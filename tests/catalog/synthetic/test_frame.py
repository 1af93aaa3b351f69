"""render_frame: determinism, exact labels, every scene and every allowed (scene, event) pair."""
from __future__ import annotations

import numpy as np
import pytest

from catalog import TaxonomyError, load_taxonomy
from catalog.synthetic import CONDITIONS, EVENT_STYLES, SCENE_PAINTERS, SyntheticSceneError, render_frame

TAX = load_taxonomy()
SMALL = (144, 256)  # keeps the 308-pair sweep cheap; painters scale with the frame


def test_registries_cover_the_taxonomy_exactly():
    # one painter per scene type and one style per event type, no strays
    assert set(SCENE_PAINTERS) == set(TAX.scenes)
    assert set(EVENT_STYLES) == set(TAX.events)


@pytest.mark.parametrize("condition", CONDITIONS)
def test_same_seed_same_bytes(condition):
    a = render_frame("seafront", events=("boat_in_restricted_zone", "litter"), seed=11, condition=condition)
    b = render_frame("seafront", events=("boat_in_restricted_zone", "litter"), seed=11, condition=condition)
    assert a.image.tobytes() == b.image.tobytes()
    assert a.labels == b.labels


def test_different_seed_different_frame():
    a = render_frame("road", seed=1)
    b = render_frame("road", seed=2)
    assert a.image.tobytes() != b.image.tobytes()


@pytest.mark.parametrize("scene", sorted(TAX.scenes))
def test_each_scene_renders(scene):
    f = render_frame(scene, seed=3)
    assert f.image.shape == (360, 640, 3) and f.image.dtype == np.uint8
    assert f.labels == () and f.scene == scene
    # a layout, not a flat fill: many distinct colours
    assert len(np.unique(f.image.reshape(-1, 3), axis=0)) > 50


@pytest.mark.parametrize("scene,event", TAX.scene_event_pairs())
def test_each_event_renders_in_each_allowed_scene(scene, event):
    seed = 5
    empty = render_frame(scene, seed=seed, size_hw=SMALL)
    f = render_frame(scene, events=(event,), seed=seed, size_hw=SMALL)
    (label,) = f.labels
    x0, y0, x1, y1 = label.xyxy
    h, w = SMALL
    assert label.event == event
    assert 0 <= x0 < x1 <= w and 0 <= y0 < y1 <= h
    changed = np.any(f.image != empty.image, axis=2)
    # the event changed pixels inside its box, and nothing outside it
    assert changed[y0:y1, x0:x1].mean() > 0.05
    outside = changed.copy()
    outside[y0:y1, x0:x1] = False
    assert not outside.any()
    # salient for a global-pooled embedding: the box covers a real part of the frame
    assert (x1 - x0) * (y1 - y0) / (h * w) > 0.02


def test_two_events_get_two_boxes_and_stay_in_frame():
    f = render_frame("river_bank", events=("fire", "floating_garbage"), seed=9, condition="night")
    assert [lb.event for lb in f.labels] == ["fire", "floating_garbage"]
    for lb in f.labels:
        x0, y0, x1, y1 = lb.xyxy
        assert 0 <= x0 < x1 <= 640 and 0 <= y0 < y1 <= 360


@pytest.mark.parametrize("condition", [c for c in CONDITIONS if c != "day"])
def test_conditions_alter_the_whole_frame(condition):
    day = render_frame("plaza", seed=4).image.astype(int)
    other = render_frame("plaza", seed=4, condition=condition).image.astype(int)
    diff = np.abs(day - other).max(axis=2)
    # every quarter of the frame is affected, not just a patch
    for q in (diff[:180, :320], diff[:180, 320:], diff[180:, :320], diff[180:, 320:]):
        assert (q > 0).mean() > 0.2


@pytest.mark.parametrize(
    "kwargs,exc,match",
    [
        ({"scene": "moon_base"}, TaxonomyError, "unknown scene 'moon_base'"),  # unknown scene
        ({"scene": "road", "events": ("alien_landing",)}, TaxonomyError, "unknown event type 'alien_landing'"),  # unknown event
        ({"scene": "tunnel", "events": ("boat_in_restricted_zone",)}, TaxonomyError, "not allowed in scene 'tunnel'"),  # wrong scene
        ({"scene": "road", "condition": "snow"}, SyntheticSceneError, "unknown condition 'snow'"),  # bad condition
        ({"scene": "road", "events": ("fire", "fire")}, SyntheticSceneError, "distinct"),  # repeated event
        ({"scene": "road", "size_hw": (10, 10)}, SyntheticSceneError, "too small"),  # tiny frame
    ],
)
def test_errors(kwargs, exc, match):
    with pytest.raises(exc, match=match):
        render_frame(seed=0, **kwargs)


def test_errors_subclass_value_error():
    # callers can catch ValueError without knowing the catalog's types
    with pytest.raises(ValueError):
        render_frame("road", seed=0, condition="snow")
