"""The JSON bundle that is a real detector's catalog artifact."""
from __future__ import annotations

import hashlib
import json

import pytest

from runtime.detectors import BUNDLE_FORMAT, DetectorError, HogPeopleDetector, detector_from_bundle, make_bundle, read_bundle
from runtime.detectors.haar import BUILTIN_CASCADES, cascade_path
from tests.runtime.detectors._pictures import picture, render_label


def test_equal_content_gives_equal_bytes():
    a = make_bundle("hog", files={}, config={"scale": 1.05, "pad_frac": 0.0})
    b = make_bundle("hog", files={}, config={"pad_frac": 0.0, "scale": 1.05})
    assert a == b and json.loads(a)["format"] == BUNDLE_FORMAT


def test_haar_bundle_round_trip_fetches_by_sha():
    xml = cascade_path(BUILTIN_CASCADES["detector.plate_haar"].cascade_file).read_bytes()
    blobs = {hashlib.sha256(xml).hexdigest(): xml}
    cfg = BUILTIN_CASCADES["detector.plate_haar"]
    bundle = make_bundle("haar", files={"cascade.xml": next(iter(blobs))},
                         config={"cascade_file": cfg.cascade_file, "label": cfg.label, "scale_factor": cfg.scale_factor})
    det = detector_from_bundle(bundle, blobs.__getitem__, name="detector.plate_haar")
    img, _ = render_label(picture("coffee"), "A123BC77", x=60, y=300, width_px=160, aspect=4.6)
    assert det.name == "detector.plate_haar" and [d.label for d in det.detect(img)] == ["license_plate"]


def test_hog_bundle_keeps_the_config():
    det = detector_from_bundle(make_bundle("hog", files={}, config={"pad_frac": 0.35, "input_height_px": 180}), {}.__getitem__)
    assert isinstance(det, HogPeopleDetector) and det.config.pad_frac == 0.35


@pytest.mark.parametrize(
    ("build", "match"),
    [
        (lambda: read_bundle(b'{"format": "zip"}'), "format 'zip'"),  # not ours
        (lambda: make_bundle("yolo", files={}, config={}), "bundle detector 'yolo' is unknown"),
        (lambda: detector_from_bundle(make_bundle("mtcnn", files={"pnet.onnx": "x"}, config={}), {}.get), r"lacks 'rnet.onnx'"),
        (lambda: detector_from_bundle(make_bundle("imagenet_readout", files={}, config={"classes": [], "min_score": 0.3}), {}.get),
         "needs imagenet_labels"),
    ],
)
def test_bundle_errors(build, match):
    with pytest.raises(DetectorError, match=match):
        build()
