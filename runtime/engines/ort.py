"""ONNX Runtime engines: CPU always; CUDA and TensorRT execution providers where installed.

>>> from runtime.engines.ort import OrtEngine
>>> eng = OrtEngine(onnx_bytes, provider="cpu")        # doctest: +SKIP
>>> eng.run({"image": batch})["embedding"].shape         # doctest: +SKIP
(8, 1280)
"""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Mapping

import numpy as np

from runtime.engines.base import ORT_INSTALL_HINT, EngineError, EngineInfo, EngineKind, EngineOptions, EngineUnavailableError, as_float32, sha256_hex

log = logging.getLogger(__name__)

PROVIDERS = {
    "cpu": "CPUExecutionProvider",
    "cuda": "CUDAExecutionProvider",
    "tensorrt": "TensorrtExecutionProvider",
}


def _ort():
    try:
        import onnxruntime as ort
    except ImportError as exc:  # pragma: no cover - a hard dependency
        raise EngineUnavailableError(f"onnxruntime is not installed; {ORT_INSTALL_HINT}") from exc
    return ort


class OrtEngine:
    """One ONNX Runtime session. ``provider`` is ``cpu``, ``cuda`` or ``tensorrt``."""

    def __init__(self, model: bytes, *, provider: str = "cpu", options: EngineOptions | None = None) -> None:
        ort = _ort()
        opts = options or EngineOptions()
        if provider not in PROVIDERS:
            raise EngineError(f"unknown ONNX Runtime provider {provider!r}; use one of {sorted(PROVIDERS)}")
        ep = PROVIDERS[provider]
        if ep not in ort.get_available_providers():
            raise EngineUnavailableError(
                f"ONNX Runtime has no {ep} here (available: {ort.get_available_providers()}); "
                "install the 'gpu' extra (onnxruntime-gpu, replacing the CPU wheel) with matching CUDA/TensorRT libraries"
            )
        so = ort.SessionOptions()
        so.intra_op_num_threads = opts.intra_op_threads
        so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        providers: list = []
        if provider == "tensorrt":
            cache = Path(opts.cache_dir) / "ort-trt"
            cache.mkdir(parents=True, exist_ok=True)
            providers.append((ep, {
                "device_id": opts.device_id,
                "trt_fp16_enable": bool(opts.fp16),
                "trt_engine_cache_enable": True,
                "trt_engine_cache_path": str(cache),
                **_trt_profile(model, opts),
            }))
        if provider in ("tensorrt", "cuda"):
            providers.append(("CUDAExecutionProvider", {"device_id": opts.device_id}))
        providers.append("CPUExecutionProvider")
        self._sha = sha256_hex(model)
        try:
            self._session = ort.InferenceSession(model, sess_options=so, providers=providers)
        except Exception as exc:  # ORT raises its own Fail/InvalidGraph types
            raise EngineError(f"ONNX Runtime could not load the model (sha256 {self._sha[:12]}): {exc}") from exc
        self.input_names = tuple(i.name for i in self._session.get_inputs())
        self.output_names = tuple(o.name for o in self._session.get_outputs())
        # shape of each input without its batch dim, where the model fixes it (for the profiler)
        self.input_shapes = {i.name: tuple(i.shape[1:]) for i in self._session.get_inputs()
                             if all(isinstance(d, int) for d in i.shape[1:])}
        self.metadata: dict[str, str] = dict(self._session.get_modelmeta().custom_metadata_map)
        used = self._session.get_providers()
        if ep not in used:
            raise EngineUnavailableError(f"ONNX Runtime fell back to {used} instead of {ep}; check the CUDA/TensorRT install")
        precision = "fp16" if provider == "tensorrt" and opts.fp16 else "fp32"
        device = "cpu" if provider == "cpu" else f"cuda:{opts.device_id}"
        self.info = EngineInfo(f"ort-{provider}", device, precision, self._sha, detail=",".join(used))

    @property
    def providers(self) -> list[str]:
        return list(self._session.get_providers())

    def run(self, feeds: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        outs = self._session.run(None, dict(feeds))
        return {name: as_float32(o) for name, o in zip(self.output_names, outs)}

    def close(self) -> None:
        self._session = None  # ORT frees the session with its last reference


def _trt_profile(model: bytes, opts: EngineOptions) -> dict[str, str]:
    """Explicit batch range for ORT's TensorRT provider (else it rebuilds per new batch size)."""
    import onnx

    g = onnx.load_from_string(model).graph
    inits = {t.name for t in g.initializer}
    spec: dict[str, list[str]] = {"min": [], "opt": [], "max": []}
    for i in g.input:
        if i.name in inits:
            continue
        rest = [d.dim_value for d in i.type.tensor_type.shape.dim[1:]]
        if not rest or any(d <= 0 for d in rest):
            return {}  # dynamic non-batch dims: let the provider decide
        for key, n in (("min", 1), ("opt", opts.opt_batch), ("max", opts.max_batch)):
            spec[key].append(f"{i.name}:" + "x".join(str(d) for d in (n, *rest)))
    return {f"trt_profile_{k}_shapes": ",".join(v) for k, v in spec.items()}


def _probe(provider: str):
    def probe() -> str | None:
        try:
            ort = _ort()
        except EngineUnavailableError as exc:
            return str(exc)
        ep = PROVIDERS[provider]
        if ep not in ort.get_available_providers():
            return f"onnxruntime has no {ep} (install the 'gpu' extra: onnxruntime-gpu instead of onnxruntime)"
        return None

    return probe


def ort_kinds() -> list[EngineKind]:
    return [
        EngineKind(f"ort-{p}", _probe(p), lambda m, o, p=p: OrtEngine(m, provider=p, options=o))
        for p in ("cpu", "cuda", "tensorrt")
    ]
