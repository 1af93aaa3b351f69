"""Lookup of real detectors by name."""
from __future__ import annotations

import numpy as np
import pytest

from runtime.detectors import Detector, DetectorError, DetectorRegistry, UnknownDetectorError, default_detector_registry

EXPECTED = {
    "ocr.text_ppocr",
    "detector.face_mtcnn",
    "detector.people_hog",
    "detector.coco_nanodet", "detector.movenet_people",
    "detector.fullbody_haar",
    "detector.plate_haar",
    "detector.plate_haar_16stages",
    "imagenet.readout",
}


def test_default_registry_lists_every_real_detector():
    assert set(default_detector_registry().names()) == EXPECTED


@pytest.mark.parametrize("name", sorted(EXPECTED - {"imagenet.readout"}))
def test_each_detector_builds_and_runs(name):
    det = default_detector_registry().create(name)
    assert isinstance(det, Detector) and det.name == name
    assert det.detect(np.full((160, 120, 3), 127, np.uint8)) == []  # a flat gray frame holds nothing


@pytest.mark.parametrize(
    ("name", "match"),
    [
        ("detector.fase_mtcnn", r"did you mean 'detector.face_mtcnn'\?.*valid names: .*detector.face_mtcnn"),  # typo
        ("yolo", "valid names: .*ocr.text_ppocr"),  # lists what exists
    ],
)
def test_unknown_name_lists_valid_names(name, match):
    with pytest.raises(UnknownDetectorError, match=match) as info:
        default_detector_registry().create(name)
    assert isinstance(info.value, KeyError)


def test_readout_needs_the_backbone():
    with pytest.raises(DetectorError, match="needs the shared backbone"):
        default_detector_registry().create("imagenet.readout")


def test_register_refuses_silent_replacement():
    reg = DetectorRegistry()
    reg.register("x", lambda: None)
    with pytest.raises(DetectorError, match="registered already; pass replace=True"):
        reg.register("x", lambda: None)
    reg.register("x", lambda: "new", replace=True)
    assert reg.create("x") == "new"
