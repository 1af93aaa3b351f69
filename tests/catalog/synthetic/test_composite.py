"""composite_frame: the generator's events on real pictures, exact labels, clear errors."""
from __future__ import annotations

import numpy as np
import pytest
from skimage import data

from catalog import TaxonomyError, load_taxonomy
from catalog.synthetic import CONDITIONS, REAL_CONDITION, SyntheticSceneError, background_zones, composite_frame

TAX = load_taxonomy()
SMALL = (144, 256)


def _real(hw=SMALL) -> np.ndarray:
    import cv2

    rgb = data.coffee()  # a real photo shipped in scikit-image
    return np.ascontiguousarray(cv2.resize(rgb, (hw[1], hw[0]))[..., ::-1])


@pytest.mark.parametrize("event", sorted(TAX.events))
def test_each_event_changes_pixels_only_inside_its_label_box(event):
    bg = _real()
    f = composite_frame(bg, events=(event,), seed=9)
    (label,) = f.labels
    x0, y0, x1, y1 = label.xyxy
    assert label.event == event and 0 <= x0 < x1 <= SMALL[1] and 0 <= y0 < y1 <= SMALL[0]
    changed = np.any(f.image != bg, axis=2)
    assert changed[y0:y1, x0:x1].mean() > 0.05
    outside = changed.copy()
    outside[y0:y1, x0:x1] = False
    assert not outside.any()  # exact: nothing changed outside the box


def test_deterministic_and_the_background_is_untouched():
    bg = _real()
    before = bg.copy()
    a = composite_frame(bg, events=("smoke", "litter"), seed=4, condition="fog")
    b = composite_frame(bg, events=("smoke", "litter"), seed=4, condition="fog")
    assert a.image.tobytes() == b.image.tobytes() and a.labels == b.labels
    assert np.array_equal(bg, before)
    assert composite_frame(bg, events=("smoke",), seed=5).image.tobytes() != composite_frame(bg, events=("smoke",), seed=6).image.tobytes()


@pytest.mark.parametrize("condition", CONDITIONS)
def test_conditions_apply_after_painting(condition):
    f = composite_frame(_real(), events=("fire",), seed=2, condition=condition)
    assert f.condition == condition and f.events == ("fire",)


def test_own_light_size_and_scene_name():
    f = composite_frame(_real((300, 400)), events=("graffiti",), seed=1, scene="market_street", size_hw=(180, 320))
    assert f.image.shape == (180, 320, 3) and f.condition == REAL_CONDITION and f.scene == "market_street"
    # zones are inside the frame and ordered
    for x0, y0, x1, y1 in background_zones((180, 320), 1).values():
        assert 0 <= x0 < x1 <= 320 and 0 <= y0 < y1 <= 180


@pytest.mark.parametrize(
    "kwargs,error,match",
    [
        (dict(background=np.zeros((144, 256), np.uint8)), SyntheticSceneError, "HxWx3 uint8"),  # grey picture, not converted
        (dict(background=np.zeros((50, 60, 3), np.uint8)), SyntheticSceneError, "too small"),  # below the minimum size
        (dict(events=("not_an_event",)), TaxonomyError, "not_an_event"),  # unknown event
        (dict(events=("boat_in_restricted_zone",), scene="tunnel"), TaxonomyError, "not allowed in scene"),  # wrong scene
        (dict(events=("smoke", "smoke")), SyntheticSceneError, "distinct"),  # repeated event
        (dict(condition="snow"), SyntheticSceneError, "unknown condition 'snow'"),  # not a condition
        (dict(zones={"upper": (0, 0, 10, 10)}), TaxonomyError, "lack 'ground'"),  # no fallback zone
    ],
)
def test_bad_input_is_refused_with_the_value(kwargs, error, match):
    args = dict(background=_real(), events=("smoke",), seed=0)
    args.update(kwargs)
    bg = args.pop("background")
    with pytest.raises(error, match=match):
        composite_frame(bg, **args)
