"""The shared backbone on the serving path: ONNX Runtime, no torch.

Every frame pays the backbone once; every head reads its pooled embedding.

>>> bb = Backbone.load("var/cache/backbone/mobilenet_v2-b0353104-onnx1.onnx")   # doctest: +SKIP
>>> logits, emb = bb.embed_frames([frame_bgr])                                    # doctest: +SKIP
>>> emb.shape                                                                     # doctest: +SKIP
(1, 1280)
"""
from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import cv2
import numpy as np

log = logging.getLogger(__name__)

INPUT_HW = (224, 224)
_MEAN = np.array([0.485, 0.456, 0.406], dtype=np.float32).reshape(1, 3, 1, 1)
_STD = np.array([0.229, 0.224, 0.225], dtype=np.float32).reshape(1, 3, 1, 1)
# (x/255 - mean)/std == x*scale + shift, one fused multiply-add per pixel
_SCALE = (1.0 / (255.0 * _STD)).astype(np.float32)
_SHIFT = (-_MEAN / _STD).astype(np.float32)


class BackboneError(RuntimeError):
    pass


def preprocess_bgr(frames: Sequence[np.ndarray], *, input_hw: tuple[int, int] = INPUT_HW) -> np.ndarray:
    """BGR uint8 frames (any size) -> ImageNet-normalised RGB NCHW float32 batch."""
    if len(frames) == 0:
        raise BackboneError("preprocess_bgr got an empty list of frames; pass at least one HxWx3 uint8 image")
    h, w = input_hw
    batch = np.empty((len(frames), h, w, 3), dtype=np.uint8)
    for i, f in enumerate(frames):
        if f is None or f.ndim != 3 or f.shape[2] != 3 or f.dtype != np.uint8:
            shape = None if f is None else (f.shape, f.dtype)
            raise BackboneError(f"frame {i} has shape/dtype {shape}; expected HxWx3 uint8 BGR")
        batch[i] = f if f.shape[:2] == (h, w) else cv2.resize(f, (w, h), interpolation=cv2.INTER_AREA)
    rgb = batch[..., ::-1].transpose(0, 3, 1, 2).astype(np.float32)
    rgb *= _SCALE
    rgb += _SHIFT
    return np.ascontiguousarray(rgb)


@dataclass(frozen=True, slots=True)
class BackboneInfo:
    path: str
    weights_sha256: str
    imagenet_labels: tuple[str, ...]
    embedding_dim: int


class Backbone:
    """MobileNetV2 on any :class:`runtime.engines.Engine`: ``image`` -> (``logits`` [N,1000], ``embedding`` [N,1280])."""

    def __init__(self, engine, info: BackboneInfo) -> None:
        self._engine = engine
        self.info = info

    @classmethod
    def load(
        cls,
        path: str | Path,
        *,
        providers: Sequence[str] | None = None,
        intra_op_threads: int = 0,
        engine: str | None = None,
        registry=None,
        options=None,
    ) -> "Backbone":
        """Load the ONNX backbone.

        Default: ONNX Runtime with the best of ``providers`` (ORT names) that is installed.
        ``engine="auto"`` picks the best engine of ``registry`` (TensorRT, torch-cuda, ...);
        any other name asks for that engine.
        """
        from runtime.engines import EngineOptions, default_engine_registry

        p = Path(path)
        if not p.is_file():
            raise BackboneError(
                f"backbone ONNX file {str(p)!r} does not exist; create it with "
                "warehouse.training.backbone_export.ensure_backbone_onnx(cache_dir)"
            )
        reg = registry or default_engine_registry()
        opts = options or EngineOptions(intra_op_threads=intra_op_threads)
        if engine is None:
            engine = _ort_engine_for(providers, reg.available())
        eng = reg.create(p, engine=None if engine == "auto" else engine, options=opts)
        return cls.from_engine(eng, path=p)

    @classmethod
    def from_engine(cls, engine, *, path: str | Path) -> "Backbone":
        """Wrap an already built engine of the backbone ONNX file at ``path``."""
        meta = getattr(engine, "metadata", None)
        if meta is None:
            import onnx

            proto = onnx.load(str(path), load_external_data=False)
            meta = {m.key: m.value for m in proto.metadata_props}
        missing = {"image"} - set(engine.input_names) | {"logits", "embedding"} - set(engine.output_names)
        if missing:
            raise BackboneError(
                f"model {str(path)!r} lacks tensors {sorted(missing)} (inputs {engine.input_names}, outputs "
                f"{engine.output_names}); export it with warehouse.training.backbone_export"
            )
        labels = tuple(json.loads(meta.get("imagenet_labels", "[]")))
        probe = engine.run({"image": np.zeros((1, 3, *INPUT_HW), np.float32)})
        info = BackboneInfo(str(path), meta.get("weights_sha256", ""), labels, int(probe["embedding"].shape[1]))
        log.info("backbone loaded path=%s engine=%s", path, engine.info)
        return cls(engine, info)

    @property
    def engine(self):
        return self._engine

    @property
    def providers(self) -> list[str]:
        return list(getattr(self._engine, "providers", [self._engine.info.name]))

    def run(self, batch_nchw: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        out = self._engine.run({"image": batch_nchw})
        return out["logits"], out["embedding"]

    def embed_frames(self, frames: Sequence[np.ndarray], *, batch_size: int = 32) -> tuple[np.ndarray, np.ndarray]:
        """Frames (BGR uint8) -> (logits [N,1000], embedding [N,1280]), in batches."""
        outs_l, outs_e = [], []
        for i in range(0, len(frames), batch_size):
            logits, emb = self.run(preprocess_bgr(frames[i : i + batch_size]))
            outs_l.append(logits)
            outs_e.append(emb)
        return np.concatenate(outs_l), np.concatenate(outs_e)


_ORT_BY_PROVIDER = {"TensorrtExecutionProvider": "ort-tensorrt", "CUDAExecutionProvider": "ort-cuda", "CPUExecutionProvider": "ort-cpu"}


def _ort_engine_for(providers: Sequence[str] | None, available: Sequence[str]) -> str:
    """ORT provider names (the old ``providers=`` argument) -> the first available ORT engine."""
    wanted = [_ORT_BY_PROVIDER[p] for p in (providers or _ORT_BY_PROVIDER) if p in _ORT_BY_PROVIDER]
    for name in wanted:
        if name in available:
            return name
    return "ort-cpu"
