"""Change gating: skips what is static, never misses an event, bounded by keyframes."""
from __future__ import annotations

import numpy as np
import pytest

from runtime.gating import ChangeGate, change_score, frame_signature
from runtime.streams import StreamConfigError, open_source


def _scene(seed=0, h=180, w=320):
    rng = np.random.default_rng(seed)
    return rng.integers(40, 200, (h // 20, w // 20, 3), dtype=np.uint8).repeat(20, 0).repeat(20, 1)


def _noisy(img, seed, sigma=3.0):
    rng = np.random.default_rng(seed)
    return np.clip(img + rng.normal(0, sigma, img.shape), 0, 255).astype(np.uint8)


def test_static_noisy_frames_are_skipped():
    gate, base = ChangeGate(keyframe_every=1000), _scene()
    reasons = [gate.decide(_noisy(base, i)).reason for i in range(100)]
    # the first frame is held like a change: whatever is in view at the start reaches the event
    # logic on hold_frames + 1 frames (a persistence window needs more than one)
    assert reasons[:3] == ["first", "hold", "hold"] and set(reasons[3:]) == {"static"}
    assert gate.skip_rate == pytest.approx(0.97)
    gate.reset()  # a reconnect: the scene may have moved, so the start is held again
    assert [gate.decide(_noisy(base, i)).reason for i in range(4)] == ["first", "hold", "hold", "static"]


@pytest.mark.parametrize(
    "box, passes",
    [
        ((60, 100, 100, 140), True),  # a 40x40 object appears: a change
        ((60, 100, 63, 103), False),  # 3x3 pixels: below the changed-fraction threshold
    ],
)
def test_an_object_opens_the_gate_and_a_speck_does_not(box, passes):
    gate, base = ChangeGate(keyframe_every=1000, hold_frames=0), _scene()  # no hold after the first frame
    gate.decide(base)
    img = base.copy()
    y0, x0, y1, x1 = box
    img[y0:y1, x0:x1] = (255, 255, 255)
    assert gate.decide(img).passed is passes


def test_hold_frames_follow_a_change_then_static_again():
    gate, base = ChangeGate(hold_frames=2, keyframe_every=1000), _scene()
    gate.decide(base)
    obj = base.copy()
    obj[50:110, 100:160] = 255
    assert [gate.decide(obj).reason for _ in range(5)] == ["change", "hold", "hold", "static", "static"]


def test_global_brightness_shift_is_not_a_change():
    gate, base = ChangeGate(keyframe_every=1000, hold_frames=0), _scene()
    gate.decide(base)
    brighter = np.clip(base.astype(int) + 25, 0, 255).astype(np.uint8)
    assert not gate.decide(brighter).passed


def test_slow_change_is_never_missed():
    """An object fading in by 2 grey levels a frame never differs much from the previous
    frame, but the reference is the last *passed* frame, so the change accumulates."""
    gate, base = ChangeGate(keyframe_every=10_000, hold_frames=0), _scene()
    gate.decide(base)
    passed = []
    for i in range(1, 60):
        img = base.astype(int)
        img[40:120, 100:200] += 2 * i
        passed.append(gate.decide(np.clip(img, 0, 255).astype(np.uint8)).reason == "change")
    assert any(passed)


def test_keyframes_bound_the_longest_gap():
    gate, base = ChangeGate(keyframe_every=7, hold_frames=0), _scene()
    decisions = [gate.decide(_noisy(base, i)) for i in range(50)]
    passed_at = [i for i, d in enumerate(decisions) if d.passed]
    assert max(b - a for a, b in zip(passed_at, passed_at[1:])) == 7
    assert {d.reason for d in decisions if d.passed} == {"first", "keyframe"}


def test_change_score_counts_changed_fraction():
    a = np.zeros((10, 10), np.float32)
    b = a.copy()
    b[:5, :2] = 50
    assert change_score(b, a, pixel_delta=10) == pytest.approx(0.1)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"min_changed_fraction": 1.5}, "min_changed_fraction=1.5"),  # fraction above 1
        ({"pixel_delta": 0}, "pixel_delta=0"),  # every pixel would count
        ({"keyframe_every": 0}, "keyframe_every=0"),  # no keyframe rule
        ({"size_wh": (2, 2)}, "size_wh"),  # signature too small
    ],
)
def test_gate_validation(kwargs, match):
    with pytest.raises(StreamConfigError, match=match):
        ChangeGate(**kwargs)


def test_signature_rejects_non_images():
    with pytest.raises(StreamConfigError, match="expected HxWx3 BGR"):
        frame_signature(np.zeros((0,), np.uint8))


@pytest.mark.parametrize(
    "url",
    [
        "synthetic://road?seed=1&n=240&events=pothole:60-75,170-185",  # catalog scene, static events
        "synthetic://plaza?seed=2&n=240&events=40-55,150-165",  # another scene, its first event
    ],
)
def test_static_synthetic_scene_skip_rate_and_no_missed_event(url):
    from benchmarks.gating import measure

    src = open_source(url, "cam")
    result = measure(src)
    assert result["missed_events"] == 0
    assert result["skip_rate"] >= 0.8
