"""OpenCV HOG people detector on real pictures.

No picture bundled with scikit-image / scikit-learn shows a whole standing pedestrian: the
only people are the cameraman (cut at the thighs) and the astronaut (half-body portrait).
HOG's 64x128 window needs the whole figure, so the positive case pads the frame (border
replicate) so that the window can extend past the frame edge. See docs/real-detectors.md.
"""
from __future__ import annotations

import numpy as np
import pytest

from runtime.detectors import DetectorError, HogConfig, HogPeopleDetector
from tests.runtime.detectors._pictures import CAMERAMAN_PERSON_XYXY, iou, picture

PORTRAIT = HogConfig(win_stride_px=4, input_height_px=180, pad_frac=0.35)


@pytest.mark.parametrize("name", ["coffee", "brick", "flower", "china"])  # no person
def test_no_person_with_default_config(name):
    assert HogPeopleDetector().detect(picture(name)) == []


def test_finds_the_cameraman_in_portrait_mode():
    people = HogPeopleDetector(PORTRAIT).detect(picture("camera"))
    best = max(people, key=lambda d: iou(d.xyxy, CAMERAMAN_PERSON_XYXY), default=None)
    assert best is not None and iou(best.xyxy, CAMERAMAN_PERSON_XYXY) > 0.5, [str(p) for p in people]
    assert best.label == "person" and 0.5 < best.score <= 1.0
    h, w = picture("camera").shape[:2]
    assert all(0 <= p.xyxy[0] <= p.xyxy[2] <= w and 0 <= p.xyxy[1] <= p.xyxy[3] <= h for p in people)  # clipped


def test_portrait_padding_is_what_finds_him():
    # the same resize without the padding misses him: his figure does not fit the window
    unpadded = HogConfig(win_stride_px=4, input_height_px=180, pad_frac=0.0)
    people = HogPeopleDetector(unpadded).detect(picture("camera"))
    assert not any(iou(p.xyxy, CAMERAMAN_PERSON_XYXY) > 0.5 for p in people)


@pytest.mark.parametrize(
    "shape",
    [(40, 40, 3), (100, 50, 3), (127, 63, 3)],  # smaller than the 64x128 window (OpenCV would segfault)
)
def test_frames_smaller_than_the_window_do_not_crash(shape):
    assert HogPeopleDetector().detect(np.full(shape, 127, np.uint8)) == []


@pytest.mark.parametrize(
    ("config", "match"),
    [
        (HogConfig(scale=1.0), "scale > 1"),  # the pyramid must grow
        (HogConfig(pad_frac=-0.1), "pad_frac >= 0"),
    ],
)
def test_rejects_bad_config(config, match):
    with pytest.raises(DetectorError, match=match):
        HogPeopleDetector(config)
