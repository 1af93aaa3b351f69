"""Haar cascades that fit a city (the XML files that ship in OpenCV 4.x's ``cv2.data``).

Gray frame, histogram-equalised, ``detectMultiScale3`` with reject levels: the boosting
margin of the last stage is squashed with a logistic into ``score``.

| registry name | file | label |
| --- | --- | --- |
| ``detector.fullbody_haar`` | ``haarcascade_fullbody.xml`` | person |
| ``detector.plate_haar`` | ``haarcascade_russian_plate_number.xml`` | license_plate |
| ``detector.plate_haar_16stages`` | ``haarcascade_license_plate_rus_16stages.xml`` | license_plate |

Both plate cascades were trained on Russian plates (white, 520x112 mm, "A123BC77"):
other layouts are found less reliably.

>>> plates = HaarCascadeDetector.builtin("detector.plate_haar").detect(frame_bgr)   # doctest: +SKIP
"""
from __future__ import annotations

import logging
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from runtime.detectors.base import Detection, DetectorError, DetectorUnavailableError, check_image, logistic

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class HaarConfig:
    cascade_file: str  # file name inside cv2.data.haarcascades
    label: str
    scale_factor: float = 1.1
    min_neighbors: int = 3
    min_size_wh: tuple[int, int] = (0, 0)
    equalize: bool = True
    min_score: float = 0.0


BUILTIN_CASCADES: dict[str, HaarConfig] = {
    "detector.fullbody_haar": HaarConfig("haarcascade_fullbody.xml", "person", min_size_wh=(32, 64)),
    "detector.plate_haar": HaarConfig("haarcascade_russian_plate_number.xml", "license_plate", scale_factor=1.05),
    "detector.plate_haar_16stages": HaarConfig("haarcascade_license_plate_rus_16stages.xml", "license_plate", scale_factor=1.05),
}


def cascade_path(file_name: str) -> Path:
    """Path of a cascade XML shipped with OpenCV 4.x (raises when this OpenCV has none)."""
    folder = getattr(getattr(cv2, "data", None), "haarcascades", None)
    if not folder:
        raise DetectorUnavailableError(
            f"OpenCV {cv2.__version__} ships no Haar cascades (OpenCV 5 removed them); `pip install 'opencv-python-headless<5'`"
        )
    path = Path(folder) / file_name
    if not path.is_file():
        known = sorted(p.name for p in Path(folder).glob("*.xml"))
        raise DetectorError(f"cascade {file_name!r} is not in {folder!r}; known cascades: {known}")
    return path


def _load_cascade(path: str):
    try:
        return cv2.CascadeClassifier(path)
    except (cv2.error, SystemError):  # a malformed XML raises from inside OpenCV
        return None


class HaarCascadeDetector:
    """One OpenCV cascade classifier. Build from raw XML (a catalog artifact) or a built-in name."""

    def __init__(self, cascade_xml: bytes | str | os.PathLike, config: HaarConfig, *, name: str = "") -> None:
        self.config = config
        self.name = name or f"haar.{Path(config.cascade_file).stem}"
        if not hasattr(cv2, "CascadeClassifier"):
            raise DetectorUnavailableError(f"OpenCV {cv2.__version__} has no CascadeClassifier; `pip install 'opencv-python-headless<5'`")
        if isinstance(cascade_xml, (bytes, bytearray, memoryview)):
            # CascadeClassifier only reads files: write the bytes to a temp file, load, delete
            fd, tmp = tempfile.mkstemp(suffix=".xml")
            try:
                with os.fdopen(fd, "wb") as f:
                    f.write(bytes(cascade_xml))
                self._cascade = _load_cascade(tmp)
            finally:
                os.unlink(tmp)
            where = f"{len(cascade_xml)} bytes"
        else:
            self._cascade = _load_cascade(str(cascade_xml))
            where = str(cascade_xml)
        if self._cascade is None or self._cascade.empty():
            raise DetectorError(f"{self.name}: OpenCV could not load a cascade from {where}; pass a Haar cascade XML")

    @classmethod
    def builtin(cls, name: str) -> "HaarCascadeDetector":
        """One of :data:`BUILTIN_CASCADES` by registry name."""
        if name not in BUILTIN_CASCADES:
            raise DetectorError(f"no built-in cascade named {name!r}; use one of {sorted(BUILTIN_CASCADES)}")
        cfg = BUILTIN_CASCADES[name]
        return cls(cascade_path(cfg.cascade_file), cfg, name=name)

    def detect(self, image_bgr: np.ndarray) -> list[Detection]:
        image = check_image(image_bgr, who=self.name)
        c = self.config
        gray = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
        if c.equalize:
            gray = cv2.equalizeHist(gray)
        rects, _levels, weights = self._cascade.detectMultiScale3(
            gray, scaleFactor=c.scale_factor, minNeighbors=c.min_neighbors, minSize=c.min_size_wh, outputRejectLevels=True
        )
        out = []
        for (x, y, w, h), margin in zip(np.asarray(rects).reshape(-1, 4), np.ravel(weights)):
            score = float(logistic(margin))
            if score >= c.min_score:
                out.append(Detection(label=c.label, score=score, xyxy=(float(x), float(y), float(x + w), float(y + h))))
        out.sort(key=lambda d: -d.score)
        log.debug("%s found %d %s in %s", self.name, len(out), c.label, image.shape[:2])
        return out
