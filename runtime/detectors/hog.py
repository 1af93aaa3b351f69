"""People detection with OpenCV 4.x's HOG + linear SVM default people detector (Dalal-Triggs).

A 64x128 window slides over an image pyramid; OpenCV groups overlapping hits. The SVM
margin is squashed with a logistic into ``score`` (margin 0 -> 0.5). Two knobs beyond
OpenCV's: ``input_height_px`` resizes the frame first (people must be >= ~100 px tall; a
1080p frame resized to 540 keeps that and quarters the time) and ``pad_frac`` replicates
the frame's border so that a person cut by the frame edge (a portrait) still fits the
window. OpenCV 5 dropped this detector: keep ``opencv-python-headless<5``.

>>> hog = HogPeopleDetector()                                   # doctest: +SKIP
>>> [d.label for d in hog.detect(frame_bgr)]                    # doctest: +SKIP
['person']
"""
from __future__ import annotations

import logging
from dataclasses import dataclass

import cv2
import numpy as np

from runtime.detectors.base import Detection, DetectorError, DetectorUnavailableError, check_image, clip_xyxy, logistic

log = logging.getLogger(__name__)

WINDOW_WH = (64, 128)


@dataclass(frozen=True, slots=True)
class HogConfig:
    win_stride_px: int = 8
    padding_px: int = 8
    scale: float = 1.05  # pyramid step
    hit_threshold: float = 0.0  # SVM margin a window needs
    min_score: float = 0.5  # on the logistic of the grouped margin
    input_height_px: int | None = None  # resize the frame to this height first (None: as is)
    pad_frac: float = 0.0  # replicate this fraction of the (resized) height around the frame


class HogPeopleDetector:
    """OpenCV's default HOG people detector; boxes labelled ``person``."""

    name = "detector.people_hog"

    def __init__(self, config: HogConfig = HogConfig()) -> None:
        if not hasattr(cv2, "HOGDescriptor") or not hasattr(cv2, "HOGDescriptor_getDefaultPeopleDetector"):
            raise DetectorUnavailableError(
                f"OpenCV {cv2.__version__} has no HOGDescriptor (OpenCV 5 removed it); `pip install 'opencv-python-headless<5'`"
            )
        if config.scale <= 1.0 or config.win_stride_px < 1 or config.pad_frac < 0:
            raise DetectorError(f"{self.name}: invalid config {config}; expected scale > 1, win_stride_px >= 1, pad_frac >= 0")
        self.config = config
        self._hog = cv2.HOGDescriptor()
        self._hog.setSVMDetector(cv2.HOGDescriptor_getDefaultPeopleDetector())

    def config_dict(self) -> dict:
        """The configuration as plain JSON data (stored as the catalog artifact)."""
        c = self.config
        return {"detector": "opencv_hog_default_people", "window_wh": list(WINDOW_WH), "win_stride_px": c.win_stride_px,
                "padding_px": c.padding_px, "scale": c.scale, "hit_threshold": c.hit_threshold, "min_score": c.min_score,
                "input_height_px": c.input_height_px, "pad_frac": c.pad_frac}

    def detect(self, image_bgr: np.ndarray) -> list[Detection]:
        image = check_image(image_bgr, who=self.name)
        c = self.config
        h, w = image.shape[:2]
        s = 1.0 if c.input_height_px is None else c.input_height_px / h
        work = image if s == 1.0 else cv2.resize(image, (max(1, round(w * s)), max(1, round(h * s))), interpolation=cv2.INTER_AREA)
        pad = int(round(c.pad_frac * work.shape[0]))
        # OpenCV crashes (SIGSEGV) when the image is smaller than the 64x128 window: pad up to it
        extra_y = max(0, WINDOW_WH[1] - (work.shape[0] + 2 * pad))
        extra_x = max(0, WINDOW_WH[0] - (work.shape[1] + 2 * pad))
        if pad or extra_x or extra_y:
            work = cv2.copyMakeBorder(work, pad, pad + extra_y, pad, pad + extra_x, cv2.BORDER_REPLICATE)
        rects, weights = self._hog.detectMultiScale(
            work, hitThreshold=c.hit_threshold, winStride=(c.win_stride_px,) * 2, padding=(c.padding_px,) * 2, scale=c.scale
        )
        out = []
        for (x, y, bw, bh), margin in zip(np.asarray(rects).reshape(-1, 4), np.ravel(weights)):
            score = float(logistic(margin))
            if score < c.min_score:
                continue
            box = ((x - pad) / s, (y - pad) / s, (x - pad + bw) / s, (y - pad + bh) / s)
            out.append(Detection(label="person", score=score, xyxy=clip_xyxy(box, w, h)))
        out.sort(key=lambda d: -d.score)
        log.debug("%s found %d people in %dx%d", self.name, len(out), w, h)
        return out
