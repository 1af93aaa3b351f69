"""The runtime's one Detection type: keyword-only, validated once, at construction."""
from __future__ import annotations

import numpy as np
import pytest

import runtime
from runtime.detection import Detection, InvalidDetectionError
from runtime.detectors import Detection as DetectorsDetection
from runtime.events import Detection as EventsDetection


def test_one_type_everywhere():
    assert Detection is DetectorsDetection is EventsDetection is runtime.Detection


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        (dict(label="person", score=1.2, xyxy=(0, 0, 1, 1)), "outside \\[0, 1\\] for label 'person'"),  # raw margin
        (dict(score=float("nan"), xyxy=(0, 0, 1, 1)), "not a finite number"),  # NaN head score
        (dict(score="high", xyxy=(0, 0, 1, 1)), "not a number"),
        (dict(score=0.5, xyxy=(10, 10, 5, 20)), "x2 >= x1"),  # inverted box
        (dict(score=0.5, xyxy=(0, 0, 1)), "4 finite numbers"),  # xywh missing one
        (dict(score=0.5, xyxy=None), "4 finite numbers"),
        (dict(label="car", score=0.5, xyxy=(0, 0, 1, 1), track_id=1.5), "track_id 1.5"),
        (dict(label="car", score=0.5, xyxy=(0, 0, 1, 1), track_id=True), "track_id True"),
    ],
)
def test_validation(kwargs, match):
    with pytest.raises(InvalidDetectionError, match=match):
        Detection(**kwargs)


def test_positional_arguments_are_refused():
    with pytest.raises(TypeError):
        Detection("person", 0.5, (0, 0, 1, 1))  # keyword-only: (score, xyxy) vs (label, score, xyxy) cannot be mixed up


def test_frame_level_scores_may_leave_zero_one():
    d = Detection(score=3.5, xyxy=(0, 0, 64, 48), model_version=7)  # a head's raw output is fine without a label
    assert d.score == 3.5 and d.model_version == "7" and str(d) == "frame 3.50 [0,0,64,48]"


def test_normalises_and_serialises():
    d = Detection(label="person", score=np.float32(0.5), xyxy=np.array([1, 2, 5, 10]), track_id=np.int64(4))
    assert d.xyxy == (1.0, 2.0, 5.0, 10.0) and type(d.score) is float and d.track_id == 4 and type(d.track_id) is int
    assert d.bottom_centre_xy == (3.0, 10.0) and d.centre_xy == (3.0, 6.0)
    assert d.to_dict() == {"label": "person", "score": 0.5, "xyxy": [1.0, 2.0, 5.0, 10.0], "track_id": 4}
