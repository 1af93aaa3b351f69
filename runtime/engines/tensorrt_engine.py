"""Native TensorRT: an FP16 engine built from the ONNX model, cached on disk.

The plan file is keyed by the model's sha256, the GPU's name and the TensorRT version (a
plan only runs on the GPU model and TensorRT release that built it), plus precision and the
batch range. Device buffers are torch CUDA tensors, so the only extra package is
``tensorrt`` (``set_tensor_address`` / ``execute_async_v3``). Both are imported only when the
engine is built.

Supported TensorRT releases: ``>=10,<12`` (``SUPPORTED_TRT``). 10.x builds FP16 the weakly
typed way (``BuilderFlag.FP16``: TensorRT picks FP16 kernels itself). 11.x removed weak
typing, so there the ONNX graph is converted to FP16 first (``runtime.engines.onnx_fp16``)
and parsed into a strongly typed network. ``trt_build_mode`` makes that choice from the
module's version and attributes alone; anything else is an ``EngineUnavailableError``.

>>> trt_cache_key("ab" * 32, gpu_name="NVIDIA H100 80GB HBM3", trt_version="10.3.0", fp16=True, max_batch=256)
'abababababababab-nvidia-h100-80gb-hbm3-trt10.3.0-fp16-b1-256'
"""
from __future__ import annotations

import logging
import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

import numpy as np

from runtime.engines._requirements import module_present
from runtime.engines.base import EngineError, EngineInfo, EngineKind, EngineOptions, EngineUnavailableError, cuda_device_present, sha256_hex

log = logging.getLogger(__name__)


def trt_cache_key(model_sha256: str, *, gpu_name: str, trt_version: str, fp16: bool, max_batch: int, min_batch: int = 1) -> str:
    """File-name-safe cache key of a TensorRT plan (pure; tested without a GPU)."""
    gpu = re.sub(r"[^a-z0-9]+", "-", gpu_name.lower()).strip("-")
    return f"{model_sha256[:16]}-{gpu}-trt{trt_version}-{'fp16' if fp16 else 'fp32'}-b{min_batch}-{max_batch}"


# the releases whose Python API this engine is written against (pyproject pins the [gpu]
# extra to 10.x, the one whose weakly typed FP16 path it was first written for)
SUPPORTED_TRT = ">=10,<12"
_SUPPORTED_MAJORS = (10, 11)
_INSTALL_HINT = "`pip install 'tensorrt>=10,<11'` (or the 'gpu' extra), or use the torch-cuda / ort-cuda engine"


@dataclass(frozen=True, slots=True)
class TrtBuildMode:
    """How to build a plan with one TensorRT release (pure data; see ``trt_build_mode``)."""

    version: str
    strongly_typed: bool  # network created STRONGLY_TYPED: precision comes from the graph
    fp16_flag: bool  # weakly typed FP16: config.set_flag(BuilderFlag.FP16)
    fp16_graph: bool  # convert the ONNX graph to FP16 before parsing

    def network_flags(self, trt) -> int:
        flag = getattr(getattr(trt, "NetworkDefinitionCreationFlag", None), "STRONGLY_TYPED", None)
        # 11.x accepts the flag and ignores it (always strongly typed); 10.x needs it to opt in
        return (1 << int(flag)) if self.strongly_typed and flag is not None else 0


def _major(version: str) -> int | None:
    m = re.match(r"\s*(\d+)\.", str(version))
    return int(m.group(1)) if m else None


def trt_build_mode(trt, *, fp16: bool) -> TrtBuildMode:
    """Pick the build mode from a ``tensorrt`` module's version and attributes.

    Raises ``EngineUnavailableError`` naming the version and ``SUPPORTED_TRT`` when the
    release is outside the supported range or lacks both FP16 paths.

    >>> from types import SimpleNamespace as NS
    >>> trt10 = NS(__version__="10.3.0", BuilderFlag=NS(FP16=1), NetworkDefinitionCreationFlag=NS(STRONGLY_TYPED=1))
    >>> trt_build_mode(trt10, fp16=True).fp16_flag
    True
    >>> trt11 = NS(__version__="11.0.0", BuilderFlag=NS(), NetworkDefinitionCreationFlag=NS(STRONGLY_TYPED=1))
    >>> m = trt_build_mode(trt11, fp16=True); (m.strongly_typed, m.fp16_graph, m.network_flags(trt11))
    (True, True, 2)
    """
    version = str(getattr(trt, "__version__", "unknown"))
    major = _major(version)
    if major not in _SUPPORTED_MAJORS:
        raise EngineUnavailableError(
            f"TensorRT {version} is not supported by the tensorrt engine; supported range is tensorrt{SUPPORTED_TRT} "
            f"(10.x weakly typed FP16, 11.x strongly typed FP16); install {_INSTALL_HINT}"
        )
    has_fp16_flag = hasattr(getattr(trt, "BuilderFlag", None), "FP16")
    has_strong = hasattr(getattr(trt, "NetworkDefinitionCreationFlag", None), "STRONGLY_TYPED")
    if not fp16:
        # FP32 needs no precision flag; 11.x is strongly typed whatever we ask
        return TrtBuildMode(version, strongly_typed=not has_fp16_flag, fp16_flag=False, fp16_graph=False)
    if has_fp16_flag:
        return TrtBuildMode(version, strongly_typed=False, fp16_flag=True, fp16_graph=False)
    if has_strong or major >= 11:
        return TrtBuildMode(version, strongly_typed=True, fp16_flag=False, fp16_graph=True)
    raise EngineUnavailableError(
        f"TensorRT {version} has neither BuilderFlag.FP16 nor NetworkDefinitionCreationFlag.STRONGLY_TYPED, so the "
        f"engine cannot build FP16; supported range is tensorrt{SUPPORTED_TRT}; install {_INSTALL_HINT}, "
        "or build with EngineOptions(fp16=False)"
    )


def _installed_trt_version() -> str | None:
    """The installed tensorrt distribution's version, read without importing it (cheap probe)."""
    from importlib import metadata

    for dist in ("tensorrt", "tensorrt-cu12", "tensorrt-cu13", "tensorrt_cu12", "tensorrt_cu13"):
        try:
            return metadata.version(dist)
        except metadata.PackageNotFoundError:
            continue
    return None


def _imports():
    if not module_present("tensorrt"):
        raise EngineUnavailableError(f"TensorRT is not installed; install {_INSTALL_HINT} on a machine with an NVIDIA GPU")
    import tensorrt as trt

    trt_build_mode(trt, fp16=False)  # refuse an unsupported release before touching CUDA
    import torch

    if not torch.cuda.is_available():
        raise EngineUnavailableError("TensorRT needs a CUDA device and a CUDA build of PyTorch for its buffers")
    return trt, torch


def _build_plan(trt, model: bytes, opts: EngineOptions) -> bytes:
    mode = trt_build_mode(trt, fp16=opts.fp16)
    if mode.fp16_graph:
        from runtime.engines.onnx_fp16 import convert_to_fp16

        model = convert_to_fp16(model)  # strongly typed: the graph's types are the precision
    logger = trt.Logger(trt.Logger.WARNING)
    builder = trt.Builder(logger)
    network = builder.create_network(mode.network_flags(trt))  # explicit batch is the only mode since 10
    parser = trt.OnnxParser(network, logger)
    if not parser.parse(model):
        errs = "; ".join(str(parser.get_error(i)) for i in range(parser.num_errors))
        raise EngineError(f"TensorRT could not parse the ONNX model: {errs}")
    config = builder.create_builder_config()
    config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, 2 << 30)
    if mode.fp16_flag:
        config.set_flag(trt.BuilderFlag.FP16)
    profile = builder.create_optimization_profile()
    opt_b = max(1, min(opts.opt_batch, opts.max_batch))
    for i in range(network.num_inputs):
        inp = network.get_input(i)
        rest = tuple(int(d) for d in inp.shape[1:])
        if any(d < 0 for d in rest):
            raise EngineError(f"input {inp.name!r} has dynamic non-batch dims {inp.shape}; export with fixed HxW")
        profile.set_shape(inp.name, (1, *rest), (opt_b, *rest), (opts.max_batch, *rest))
    config.add_optimization_profile(profile)
    plan = builder.build_serialized_network(network, config)
    if plan is None:
        raise EngineError("TensorRT failed to build the engine (see the TensorRT log above)")
    return bytes(plan)


class TensorRTEngine:
    """A TensorRT engine over one ONNX model; FP16 by default; dynamic batch 1..max_batch."""

    def __init__(self, model: bytes, *, options: EngineOptions | None = None) -> None:
        trt, torch = _imports()
        self._trt, self._torch = trt, torch
        opts = options or EngineOptions()
        self._opts = opts
        self._device = torch.device(f"cuda:{opts.device_id}")
        sha = sha256_hex(model)
        key = trt_cache_key(sha, gpu_name=torch.cuda.get_device_name(self._device), trt_version=trt.__version__,
                            fp16=opts.fp16, max_batch=opts.max_batch)
        cache_dir = Path(opts.cache_dir) / "tensorrt"
        cache_dir.mkdir(parents=True, exist_ok=True)
        plan_path = cache_dir / f"{key}.plan"
        if plan_path.is_file():
            plan = plan_path.read_bytes()
            log.info("tensorrt plan cache hit %s", plan_path)
        else:
            log.info("tensorrt building plan %s (takes minutes once)", plan_path)
            plan = _build_plan(trt, model, opts)
            fd, tmp = tempfile.mkstemp(dir=cache_dir, suffix=".tmp")
            with os.fdopen(fd, "wb") as f:
                f.write(plan)
            os.replace(tmp, plan_path)
        self._runtime = trt.Runtime(trt.Logger(trt.Logger.WARNING))
        self._engine = self._runtime.deserialize_cuda_engine(plan)
        if self._engine is None:
            raise EngineError(f"TensorRT could not load plan {str(plan_path)!r}; delete it to rebuild")
        self._context = self._engine.create_execution_context()
        names = [self._engine.get_tensor_name(i) for i in range(self._engine.num_io_tensors)]
        is_in = {n: self._engine.get_tensor_mode(n) == trt.TensorIOMode.INPUT for n in names}
        self.input_names = tuple(n for n in names if is_in[n])
        self.output_names = tuple(n for n in names if not is_in[n])
        self._np_dtype = {n: np.dtype(trt.nptype(self._engine.get_tensor_dtype(n))) for n in names}
        self._stream = torch.cuda.Stream(device=self._device)
        mode = trt_build_mode(trt, fp16=opts.fp16)
        typed = "strongly typed" if mode.strongly_typed else "weakly typed"
        self.info = EngineInfo("tensorrt", str(self._device), "fp16" if opts.fp16 else "fp32", sha,
                               detail=f"TensorRT {trt.__version__} ({typed}); plan {plan_path.name}")

    def run(self, feeds: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        torch = self._torch
        n = next(iter(feeds.values())).shape[0]
        if n > self._opts.max_batch:
            # the optimisation profile stops at max_batch: split rather than fail
            parts = [self.run({k: v[i : i + self._opts.max_batch] for k, v in feeds.items()})
                     for i in range(0, n, self._opts.max_batch)]
            return {k: np.concatenate([p[k] for p in parts]) for k in self.output_names}
        with torch.cuda.stream(self._stream):
            keep = []
            for name in self.input_names:
                arr = np.ascontiguousarray(feeds[name], dtype=self._np_dtype[name])
                t = torch.from_numpy(arr).to(self._device, non_blocking=True)
                keep.append(t)
                self._context.set_input_shape(name, tuple(arr.shape))
                self._context.set_tensor_address(name, t.data_ptr())
            outs = {}
            for name in self.output_names:
                shape = tuple(self._context.get_tensor_shape(name))
                t = torch.empty(shape, dtype=getattr(torch, str(self._np_dtype[name])), device=self._device)
                outs[name] = t
                self._context.set_tensor_address(name, t.data_ptr())
            if not self._context.execute_async_v3(self._stream.cuda_stream):
                raise EngineError(f"TensorRT execution failed for batch {n} ({self.info})")
            self._stream.synchronize()
            return {k: v.float().cpu().numpy() for k, v in outs.items()}

    def close(self) -> None:
        self._context = self._engine = self._runtime = None


def _probe() -> str | None:
    if not module_present("tensorrt"):
        return "tensorrt is not installed"
    version = _installed_trt_version()
    if version is not None and _major(version) not in _SUPPORTED_MAJORS:
        return f"TensorRT {version} is installed; the tensorrt engine supports tensorrt{SUPPORTED_TRT}"
    if not module_present("torch"):
        return "PyTorch (CUDA build) is not installed; the TensorRT engine uses it for device buffers"
    if not cuda_device_present():
        return "no NVIDIA GPU on this machine"
    return None


def tensorrt_kinds() -> list[EngineKind]:
    return [EngineKind("tensorrt", _probe, lambda m, o: TensorRTEngine(m, options=o))]
