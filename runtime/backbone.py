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
    """MobileNetV2 in ONNX Runtime: ``image`` -> (``logits`` [N,1000], ``embedding`` [N,1280])."""

    def __init__(self, session, info: BackboneInfo) -> None:
        self._session = session
        self.info = info

    @classmethod
    def load(cls, path: str | Path, *, providers: Sequence[str] | None = None, intra_op_threads: int = 0) -> "Backbone":
        import onnxruntime as ort

        p = Path(path)
        if not p.is_file():
            raise BackboneError(
                f"backbone ONNX file {str(p)!r} does not exist; create it with "
                "warehouse.training.backbone_export.ensure_backbone_onnx(cache_dir)"
            )
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = intra_op_threads
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        avail = ort.get_available_providers()
        chosen = [pr for pr in (providers or avail) if pr in avail] or ["CPUExecutionProvider"]
        sess = ort.InferenceSession(str(p), sess_options=opts, providers=chosen)
        meta = sess.get_modelmeta().custom_metadata_map
        labels = tuple(json.loads(meta.get("imagenet_labels", "[]")))
        info = BackboneInfo(str(p), meta.get("weights_sha256", ""), labels, int(sess.get_outputs()[1].shape[1]))
        log.info("backbone loaded path=%s providers=%s", p, sess.get_providers())
        return cls(sess, info)

    @property
    def providers(self) -> list[str]:
        return list(self._session.get_providers())

    def run(self, batch_nchw: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        logits, emb = self._session.run(["logits", "embedding"], {"image": batch_nchw})
        return logits, emb

    def embed_frames(self, frames: Sequence[np.ndarray], *, batch_size: int = 32) -> tuple[np.ndarray, np.ndarray]:
        """Frames (BGR uint8) -> (logits [N,1000], embedding [N,1280]), in batches."""
        outs_l, outs_e = [], []
        for i in range(0, len(frames), batch_size):
            logits, emb = self.run(preprocess_bgr(frames[i : i + batch_size]))
            outs_l.append(logits)
            outs_e.append(emb)
        return np.concatenate(outs_l), np.concatenate(outs_e)
