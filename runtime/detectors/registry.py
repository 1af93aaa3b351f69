"""Lookup of real detectors by name: a registry object you build and pass around, not a global.

>>> reg = default_detector_registry()
>>> "detector.face_mtcnn" in reg
True
>>> reg.create("detector.fase_mtcnn")  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
runtime.detectors.base.UnknownDetectorError: unknown detector 'detector.fase_mtcnn' (did you mean 'detector.face_mtcnn'?); valid names: ...
"""
from __future__ import annotations

import difflib
import logging
from typing import Any, Callable

from runtime.detectors.base import Detector, DetectorError, UnknownDetectorError

log = logging.getLogger(__name__)

DetectorFactory = Callable[..., Detector]


class DetectorRegistry:
    """Name -> factory. Factories load weights only when :meth:`create` is called."""

    def __init__(self) -> None:
        self._factories: dict[str, DetectorFactory] = {}

    def register(self, name: str, factory: DetectorFactory, *, replace: bool = False) -> None:
        if not isinstance(name, str) or not name:
            raise DetectorError(f"detector name {name!r} must be a non-empty string (e.g. 'detector.face_mtcnn')")
        if name in self._factories and not replace:
            raise DetectorError(f"detector {name!r} is registered already; pass replace=True to override it")
        self._factories[name] = factory

    def names(self) -> tuple[str, ...]:
        return tuple(sorted(self._factories))

    def __contains__(self, name: object) -> bool:
        return name in self._factories

    def __len__(self) -> int:
        return len(self._factories)

    def create(self, name: str, **kwargs: Any) -> Detector:
        """Build the detector ``name`` (keyword arguments go to its factory)."""
        try:
            factory = self._factories[name]
        except (KeyError, TypeError):
            close = difflib.get_close_matches(str(name), list(self._factories), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise UnknownDetectorError(f"unknown detector {name!r}{hint}; valid names: {', '.join(self.names())}") from None
        detector = factory(**kwargs)
        log.info("detector created name=%s", name)
        return detector


def _ocr(**kw: Any) -> Detector:
    from runtime.detectors.ocr import PpOcrTextReader

    return PpOcrTextReader.from_package(**kw)


def _mtcnn(**kw: Any) -> Detector:
    from runtime.detectors.face_mtcnn import MtcnnFaceDetector

    return MtcnnFaceDetector.from_package(**kw)


def _hog(**kw: Any) -> Detector:
    from runtime.detectors.hog import HogPeopleDetector

    return HogPeopleDetector(**kw)


def _nanodet(**kw: Any) -> Detector:
    from runtime.detectors.nanodet import NanoDetDetector

    return NanoDetDetector.from_cache(**kw)


def _movenet(**kw: Any) -> Detector:
    from runtime.detectors.movenet import MoveNetPeopleDetector

    return MoveNetPeopleDetector.from_cache(**kw)


def _haar(name: str) -> DetectorFactory:
    def build() -> Detector:
        from runtime.detectors.haar import HaarCascadeDetector

        return HaarCascadeDetector.builtin(name)

    return build


def _readout(*, backbone: Any = None, min_score: float = 0.3) -> Detector:
    from runtime.detectors.imagenet_readout import ImagenetReadout, ImagenetReadoutDetector

    if backbone is None:
        raise DetectorError("imagenet.readout needs the shared backbone: create('imagenet.readout', backbone=Backbone.load(path))")
    return ImagenetReadoutDetector(backbone, ImagenetReadout(backbone.info.imagenet_labels, min_score=min_score))


def default_detector_registry() -> DetectorRegistry:
    """A new registry holding every real detector that ships inside an installed package."""
    from runtime.detectors.haar import BUILTIN_CASCADES

    reg = DetectorRegistry()
    reg.register("ocr.text_ppocr", _ocr)
    reg.register("detector.face_mtcnn", _mtcnn)
    reg.register("detector.people_hog", _hog)
    reg.register("detector.coco_nanodet", _nanodet)
    reg.register("detector.movenet_people", _movenet)
    for name in BUILTIN_CASCADES:
        reg.register(name, _haar(name))
    reg.register("imagenet.readout", _readout)
    return reg
