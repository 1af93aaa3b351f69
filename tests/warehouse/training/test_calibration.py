"""Threshold calibration for a false-alarm budget, against the runtime's own event logic."""
from __future__ import annotations

import hashlib

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from warehouse.training.calibration import CalibrationConfig, CalibrationError, calibrate_threshold, count_alarms, firing_levels


def _detector_alarms(scores, threshold, k, n, cooldown_s, fps) -> int:
    from runtime import Detection, EventDetector, EventPolicy, FrameEvent

    det = EventDetector(put_evidence=lambda b: hashlib.sha256(b).hexdigest(),
                        policy=EventPolicy(threshold=threshold, k=k, n=n, cooldown_s=cooldown_s))  # fmt: skip
    img = np.zeros((16, 16, 3), np.uint8)
    alerts = 0
    for i, s in enumerate(scores):
        frame = FrameEvent("cam", i, int(round(i * 1000.0 / fps)), img)
        alerts += len(det.update(frame, {"scene.road.smoke": Detection(score=float(s), xyxy=(0, 0, 16, 16))}))
    return alerts


@settings(max_examples=60, deadline=None)
@given(
    bits=st.lists(st.booleans(), min_size=1, max_size=120),
    kn=st.sampled_from([(1, 1), (2, 3), (3, 5), (4, 4)]),
    cooldown_s=st.sampled_from([0.0, 1.0, 30.0]),
)
def test_count_alarms_is_the_event_detector(bits, kn, cooldown_s):
    # the pure count the calibration optimises must be exactly what the runtime raises
    scores = np.where(bits, 0.9, 0.1)
    k, n = kn
    assert count_alarms(scores, 0.5, k=k, n=n, cooldown_s=cooldown_s, fps=10.0) == _detector_alarms(scores, 0.5, k, n, cooldown_s, 10.0)


@settings(max_examples=40, deadline=None)
@given(scores=st.lists(st.floats(0, 1), min_size=1, max_size=40), t=st.floats(0.01, 0.99))
def test_a_window_fires_exactly_when_its_level_reaches_the_threshold(scores, t):
    s = np.array(scores)
    lv = firing_levels(s, k=2, n=3)
    for i in range(len(s)):
        w = s[max(0, i - 2) : i + 1]
        fires = s[i] >= t and (w >= t).sum() >= 2
        assert fires == (lv[i] >= t)


def _quiet(seed: int, n: int = 400) -> np.ndarray:
    return 1 / (1 + np.exp(-np.random.default_rng(seed).normal(-5, 1.2, n)))


def test_threshold_rises_as_the_budget_falls_and_never_alarms_on_its_own_frames():
    s = _quiet(1)
    loose = calibrate_threshold([s], fps=10.0, threshold_f1=0.001, budget_per_hour=10.0)
    tight = calibrate_threshold([s], fps=10.0, threshold_f1=0.001, budget_per_hour=0.01)
    # above every window's firing level: the event logic would not fire on these frames
    assert tight.threshold > loose.threshold > firing_levels(s, k=2, n=3).max()
    assert tight.alarms_on_frames == loose.alarms_on_frames == 0
    assert tight.expected_alarms_per_hour <= 0.01 + 1e-9
    # a threshold already above the budget's is kept: calibration only ever raises it
    high = calibrate_threshold([s], fps=10.0, threshold_f1=0.999, budget_per_hour=0.01)
    assert high.threshold == pytest.approx(0.999) and high.threshold_f1 == 0.999


def test_held_out_footage_of_the_same_camera_stays_within_budget():
    cal = calibrate_threshold([_quiet(2)], fps=10.0, threshold_f1=0.1, budget_per_hour=0.03)
    later = _quiet(3, 36_000)  # an hour at 10 fps from the same (modelled) camera
    assert count_alarms(later, cal.threshold) <= 1


def test_metrics_are_flat_floats_with_the_policy():
    m = CalibrationConfig(budget_per_hour=0.5, k=2, n=3, cooldown_s=10).calibrate([_quiet(4)], fps=10.0, threshold_f1=0.2).as_metrics()
    assert m["calibration_budget_per_hour"] == 0.5 and (m["calibration_k"], m["calibration_n"], m["calibration_cooldown_s"]) == (2, 3, 10)
    assert m["calibration_frames"] == 400 and all(isinstance(v, float) for v in m.values())


def test_every_quiet_camera_meets_the_budget_not_their_mixture():
    """Two quiet cameras: the binding one is the wider; pooling them would fit their mixture,
    whose spread is mostly the gap between the cameras (a far higher, needless threshold)."""
    rng = np.random.default_rng(7)
    low = 1 / (1 + np.exp(-rng.normal(-9, 0.6, 600)))
    wide = 1 / (1 + np.exp(-rng.normal(-5, 1.2, 300)))
    both = calibrate_threshold([low, wide], fps=10.0, threshold_f1=0.001, budget_per_hour=0.03)
    alone = [calibrate_threshold([s], fps=10.0, threshold_f1=0.001, budget_per_hour=0.03) for s in (low, wide)]
    assert both.threshold == pytest.approx(max(c.threshold for c in alone)) and both.threshold == pytest.approx(alone[1].threshold)
    assert both.level_mu_logit == pytest.approx(alone[1].level_mu_logit)  # the binding camera's fit is recorded
    assert both.expected_alarms_per_hour <= 0.03 + 1e-9 and both.stream_frames == 900
    pooled = calibrate_threshold([low, wide], fps=10.0, threshold_f1=0.001, budget_per_hour=0.03, per_stream=False)
    assert pooled.threshold > both.threshold and pooled.level_sigma_logit > 1.5
    # a clip too short for its own tail still cannot alarm: it sets the floor through its highest window
    spike = np.r_[np.full(10, 1e-4), [0.97, 0.97], np.full(10, 1e-4)]
    with_spike = calibrate_threshold([low, spike], fps=10.0, threshold_f1=0.001, budget_per_hour=0.03)
    assert with_spike.threshold > 0.97 and with_spike.alarms_on_frames == 0


def test_other_cameras_set_the_floor_but_not_the_tail_by_default():
    rng = np.random.default_rng(8)
    own = 1 / (1 + np.exp(-rng.normal(-9, 0.6, 600)))
    other = 1 / (1 + np.exp(-rng.normal(-5, 1.2, 300)))  # an unlike camera: higher and wider
    floor = CalibrationConfig().calibrate([own, other], fps=10.0, threshold_f1=0.001)
    tail = CalibrationConfig(other_streams="tail").calibrate([own, other], fps=10.0, threshold_f1=0.001)
    alone = CalibrationConfig().calibrate([own], fps=10.0, threshold_f1=0.001)
    assert floor.level_mu_logit == pytest.approx(alone.level_mu_logit)  # the tail is the camera's own
    assert floor.threshold > firing_levels(other, k=2, n=3).max() and floor.alarms_on_frames == 0  # never fires on the other
    assert tail.threshold > floor.threshold >= alone.threshold and floor.stream_frames == 900
    off = CalibrationConfig(other_streams="off").calibrate([own, other], fps=10.0, threshold_f1=0.001)
    assert off.threshold == pytest.approx(alone.threshold) and off.stream_frames == 600
    with pytest.raises(CalibrationError, match="other_streams='both'"):
        CalibrationConfig(other_streams="both")


def test_pictures_alone_calibrate_when_there_is_no_footage():
    stills = _quiet(5, 50)
    cal = CalibrationConfig().calibrate([], fps=10.0, threshold_f1=0.2, stills=stills)
    assert cal.frames == 50 and cal.stream_frames == 0 and cal.threshold > stills.max()


@pytest.mark.parametrize(
    "kwargs,match",
    [
        (dict(streams=[]), "needs >= 2 real negative windows"),  # nothing to calibrate on
        (dict(budget_per_hour=0.0), "budget_per_hour=0.0"),  # a zero budget cannot be met
        (dict(threshold_f1=1.5), "threshold_f1=1.5"),  # not a probability
        (dict(k=4, n=3), "k=4 of n=3"),  # window shorter than k
        (dict(fps=0.0), "fps=0.0"),  # no frame rate
    ],
)
def test_bad_inputs_are_refused(kwargs, match):
    args = dict(streams=[_quiet(6)], fps=10.0, threshold_f1=0.3)
    args.update(kwargs)
    with pytest.raises(CalibrationError, match=match):
        calibrate_threshold(args.pop("streams"), **args)


# --- the persistence window (time rule): the calibration models what the runtime runs -----------------


def _detector_alarms_window(scores, threshold, window_s, share, cooldown_s, fps) -> int:
    from runtime import Detection, EventDetector, EventPolicy, FrameEvent

    det = EventDetector(put_evidence=lambda b: hashlib.sha256(b).hexdigest(),
                        policy=EventPolicy(threshold=threshold, cooldown_s=cooldown_s, window_s=window_s, window_share=share))
    img = np.zeros((16, 16, 3), np.uint8)
    return sum(len(det.update(FrameEvent("cam", i, int(round(i * 1000.0 / fps)), img),
                              {"scene.road.smoke": Detection(score=float(s), xyxy=(0, 0, 16, 16))})) for i, s in enumerate(scores))


@settings(max_examples=60, deadline=None)
@given(
    bits=st.lists(st.booleans(), min_size=1, max_size=120),
    rule=st.sampled_from([(3.0, 0.8), (0.5, 0.5), (1.25, 0.6)]),
    fps=st.sampled_from([10.0, 4.0, 3.0, 1.0]),
    cooldown_s=st.sampled_from([0.0, 30.0]),
)
def test_count_alarms_with_a_window_is_the_event_detector(bits, rule, fps, cooldown_s):
    from warehouse.training.calibration import window_levels

    scores = np.where(bits, 0.9, 0.1)
    w, share = rule
    got = count_alarms(scores, 0.5, cooldown_s=cooldown_s, fps=fps, window_s=w, window_share=share)
    assert got == _detector_alarms_window(scores, 0.5, w, share, cooldown_s, fps)
    # a window's firing level is over a threshold exactly when the rule fires there: a stream with no level
    # over 0.5 raises no alarm, and one with any does (cooldown 0: every onset alerts)
    lv = window_levels(scores, fps=fps, window_s=w, window_share=share)
    assert (got > 0) == bool((lv >= 0.5).any())


def test_a_window_level_is_the_highest_threshold_that_fires():
    from warehouse.training.calibration import window_levels

    rng = np.random.default_rng(3)
    s = rng.uniform(0, 1, 60)
    lv = window_levels(s, fps=4.0, window_s=3.0, window_share=0.8)
    assert len(lv) == 60 - 12  # the first 12 frames (3 s at 4 fps) cannot see a whole window
    for t in np.unique(np.r_[lv, lv - 1e-9, lv + 1e-9]):
        fires = count_alarms(s, float(t), fps=4.0, window_s=3.0, window_share=0.8, cooldown_s=0.0) > 0
        assert fires == bool((lv >= t).any())


def test_calibration_through_a_window_records_it_and_a_state_window_needs_no_higher_threshold():
    rng = np.random.default_rng(1)
    stream = 1 / (1 + np.exp(-rng.normal(-4, 1.2, 400)))  # a quiet camera, 40 s at 10 fps
    frames = CalibrationConfig(persistence="frames").calibrate([stream], fps=10.0, threshold_f1=0.05, event_types=("smoke",))
    state = CalibrationConfig().calibrate([stream], fps=10.0, threshold_f1=0.05, event_types=("smoke",))
    momentary = CalibrationConfig().calibrate([stream], fps=10.0, threshold_f1=0.05, event_types=("red_light_running",))
    assert (frames.window_s, state.window_s, state.window_share, momentary.window_s) == (0.0, 3.0, 0.8, 0.5)
    assert state.as_metrics()["calibration_window_s"] == 3.0
    # persistence over 2.4 s is rarer than 2 of 3 frames: the same budget needs a lower threshold
    assert state.threshold < frames.threshold
    for cal in (frames, state, momentary):  # and none of them alarms on its own calibration stream
        assert cal.alarms_on_frames == 0
    with pytest.raises(CalibrationError, match="persistence='seconds'"):
        CalibrationConfig(persistence="seconds")
    with pytest.raises(CalibrationError, match="window_share=0"):
        calibrate_threshold([stream], fps=10.0, threshold_f1=0.05, window_s=3.0, window_share=0)
