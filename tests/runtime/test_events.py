"""Event logic: k-of-n smoothing, dedup per region cell, cooldown, evidence."""
from __future__ import annotations

import hashlib

import cv2
import numpy as np
import pytest

from runtime.events import Alert, Detection, EventDetector, EventPolicy, region_cell
from runtime.streams import FrameEvent, StreamConfigError

IMG = np.full((120, 160, 3), 80, np.uint8)
LEFT = (10.0, 10.0, 40.0, 40.0)  # cell (0, 0) of a 4x4 grid
RIGHT = (130.0, 90.0, 150.0, 110.0)  # cell (3, 3)


class Store:
    def __init__(self):
        self.blobs = {}

    def put(self, data: bytes) -> str:
        sha = hashlib.sha256(data).hexdigest()
        self.blobs[sha] = data
        return sha


def run(scores, *, policy, box=LEFT, fps=10.0, camera="c1", store=None, detector=None):
    """Feed one algorithm's scores frame by frame; return the frame indices that alerted."""
    store = store or Store()
    det = detector or EventDetector(put_evidence=store.put, policy=policy)
    out = []
    for i, s in enumerate(scores):
        b = box(i) if callable(box) else box
        alerts = det.update(FrameEvent(camera, i, int(i * 1000 / fps), IMG), {"fire": Detection(score=s, xyxy=b, model_version="fire@7")})
        out += [(i, a) for a in alerts]
    return [i for i, _ in out], [a for _, a in out], det


H, L = 0.9, 0.1


@pytest.mark.parametrize(
    "scores, k, n, expected",
    [
        ([H, H, H, H], 3, 5, [2]),  # fires on the k-th hit, once
        ([H, L, H, L, H], 3, 5, [4]),  # k hits spread over n frames
        ([H, L, L, H, L, L, H], 3, 5, []),  # never k within a window of n
        ([H], 1, 1, [0]),  # no smoothing
        ([L, L, L], 1, 3, []),  # nothing above threshold
    ],
)
def test_k_of_n_smoothing(scores, k, n, expected):
    alerted, _, _ = run(scores, policy=EventPolicy(k=k, n=n, cooldown_s=0))
    assert alerted == expected


def test_one_alert_per_ongoing_event_then_again_after_it_ends():
    # on for 10 frames, off for 10 (window empties), on again; cooldown 0 s
    scores = [H] * 10 + [L] * 10 + [H] * 5
    alerted, _, _ = run(scores, policy=EventPolicy(k=2, n=3, cooldown_s=0))
    assert alerted == [1, 21]


@pytest.mark.parametrize(
    "cooldown_s, expected",
    [
        (0.0, [1, 7]),  # no cooldown: the second burst alerts
        (1.0, [1]),  # second burst 0.6 s after the first alert: suppressed
    ],
)
def test_cooldown_suppresses_a_flicker(cooldown_s, expected):
    scores = [H, H, L, L, L, L, H, H]  # two bursts, 0.6 s apart at 10 fps
    alerted, _, det = run(scores, policy=EventPolicy(k=2, n=3, cooldown_s=cooldown_s))
    assert alerted == expected
    assert det.suppressed == (1 if cooldown_s else 0)


def test_a_new_region_cell_is_a_new_alert():
    box = lambda i: LEFT if i < 5 else RIGHT  # noqa: E731 - the object jumps across the frame
    alerted, alerts, _ = run([H] * 10, policy=EventPolicy(k=2, n=3, cooldown_s=60), box=box)
    assert alerted == [1, 5]
    assert [a.region_cell for a in alerts] == [(0, 0), (3, 3)]


def test_dedup_is_per_camera_and_algorithm():
    store = Store()
    det = EventDetector(put_evidence=store.put, policy=EventPolicy(k=1, n=1, cooldown_s=60))
    f1, f2 = FrameEvent("c1", 0, 0, IMG), FrameEvent("c2", 0, 0, IMG)
    d = Detection(score=H, xyxy=LEFT, model_version="v1")
    got = det.update(f1, {"fire": d, "smoke": d}) + det.update(f2, {"fire": d}) + det.update(f1, {"fire": d})
    assert sorted((a.camera_id, a.algorithm_id) for a in got) == [("c1", "fire"), ("c1", "smoke"), ("c2", "fire")]


def test_alert_carries_version_score_box_and_a_stored_evidence_snapshot():
    store = Store()
    _, alerts, _ = run([H, H], policy=EventPolicy(k=2, n=2), store=store)
    (a,) = alerts
    assert isinstance(a, Alert)
    assert (a.camera_id, a.algorithm_id, a.model_version, a.score, a.xyxy, a.ts_ms) == ("c1", "fire", "fire@7", H, LEFT, 100)
    img = cv2.imdecode(np.frombuffer(store.blobs[a.evidence_sha256], np.uint8), cv2.IMREAD_COLOR)
    assert img.shape == IMG.shape
    # the box is drawn in red on its edge, the frame elsewhere is untouched
    assert img[10, 25, 2] > 200 and img[10, 25, 0] < 80
    assert abs(int(img[70, 100, 0]) - 80) < 10
    d = a.to_dict()
    assert d["xyxy"] == list(LEFT) and d["alert_id"] == a.alert_id and len(a.alert_id) == 20


@pytest.mark.parametrize(
    "xyxy, image_wh, expected",
    [
        ((0, 0, 10, 10), (100, 100), (0, 0)),  # top-left
        ((90, 90, 100, 100), (100, 100), (3, 3)),  # bottom-right
        ((40, 0, 60, 10), (100, 100), (2, 0)),  # centre x on a boundary goes right
        ((-50, -50, 500, 500), (100, 100), (3, 3)),  # box beyond the frame: clamped
    ],
)
def test_region_cell(xyxy, image_wh, expected):
    assert region_cell(xyxy, image_wh, (4, 4)) == expected


@pytest.mark.parametrize(
    "make, match",
    [
        (lambda: EventPolicy(k=4, n=3), "k=4 of n=3"),  # k larger than the window
        (lambda: EventPolicy(k=0), "1 <= k <= n"),  # zero hits needed
        (lambda: EventPolicy(cooldown_s=-1), "cooldown_s=-1"),  # negative cooldown
        (lambda: EventPolicy(grid_wh=(0, 4)), "grid_wh"),  # no cells
        (lambda: EventDetector(put_evidence="store"), "not callable"),  # not a function
    ],
)
def test_validation(make, match):
    with pytest.raises(StreamConfigError, match=match):
        make()


def test_per_algorithm_policy_overrides_the_default():
    store = Store()
    det = EventDetector(put_evidence=store.put, policy=EventPolicy(k=3, n=3),
                        policies={"smoke": EventPolicy(k=1, n=1)})
    got = det.update(FrameEvent("c", 0, 0, IMG), {"fire": Detection(score=H, xyxy=LEFT), "smoke": Detection(score=H, xyxy=LEFT)})
    assert [a.algorithm_id for a in got] == ["smoke"]


# --- the time-window persistence rule (EventPolicy.window_s; docs/event-logic.md) -------------------

STATE = dict(window_s=3.0, window_share=0.8, cooldown_s=0)  # the catalog's "state" kind
MOMENTARY = dict(window_s=0.5, window_share=0.5, cooldown_s=0)  # the catalog's "momentary" kind


def run_at(times_s, scores, *, policy):
    """Feed scores at the given stream times (seconds); return the alert times."""
    det = EventDetector(put_evidence=Store().put, policy=policy)
    out = []
    for i, (t, s) in enumerate(zip(times_s, scores)):
        if det.update(FrameEvent("c1", i, int(round(t * 1000)), IMG), {"fire": Detection(score=s, xyxy=LEFT)}):
            out.append(t)
    return out


@pytest.mark.parametrize("fps", [10.0, 4.0, 2.0, 1.0])
def test_a_window_means_the_same_time_at_any_frame_rate(fps):
    # quiet for 5 s, then the event stays: the alert comes once it was seen over 80% of 3 s (2.4 s),
    # at most 3 s (and a frame) after it started, at every rate
    times = [i / fps for i in range(int(20 * fps))]
    got = run_at(times, [H if t >= 5.0 else L for t in times], policy=EventPolicy(**STATE))
    assert len(got) == 1 and 7.4 - 1e-9 <= got[0] <= 8.0 + 1e-9, (fps, got)
    # the frame-count rule does not: 2 of 3 frames is 0.2 s at 10 fps and 2 s at 1 fps
    kn = run_at(times, [H if t >= 5.0 else L for t in times], policy=EventPolicy(k=2, n=3, cooldown_s=0))
    assert kn == [5.0 + 1.0 / fps]


@pytest.mark.parametrize("burst_s, state_alerts, momentary_alerts", [(0.5, 0, 1), (2.0, 0, 1), (3.5, 1, 1), (0.1, 0, 0)])
def test_a_burst_shorter_than_the_window_does_not_alert(burst_s, state_alerts, momentary_alerts):
    times = [i / 10 for i in range(100)]
    scores = [H if 4.0 <= t < 4.0 + burst_s - 1e-9 else L for t in times]
    assert len(run_at(times, scores, policy=EventPolicy(**STATE))) == state_alerts
    assert len(run_at(times, scores, policy=EventPolicy(**MOMENTARY))) == momentary_alerts


def test_most_of_the_window_is_enough_and_one_alert_per_ongoing_event():
    # over threshold 9 frames in 10 over 12 s (10 fps): the event is on once; a missed frame neither ends it nor re-alerts
    times = [i / 10 for i in range(120)]
    scores = [L if i % 10 == 3 else H for i in range(120)]
    assert run_at(times, scores, policy=EventPolicy(**STATE)) == [3.0]
    # over threshold 1 frame in 2: under the state share (0.8), never on
    assert run_at(times, [H if i % 2 else L for i in range(120)], policy=EventPolicy(**STATE)) == []


def test_frames_the_gate_skipped_hold_the_verdict_of_the_frame_before():
    # scored at 0, 2.5 and 3.1 s only (the change gate skipped the unchanged frames between): on at 3.1 s
    assert run_at([0.0, 2.5, 3.1], [H, H, H], policy=EventPolicy(**STATE)) == [3.1]
    # one frame over threshold never alerts, however long the gate then skips
    assert run_at([0.0, 10.0, 20.0], [L, H, L], policy=EventPolicy(**STATE)) == []
    # and the stream must cover the window: two hits 1 s apart at the stream's start are not 3 s seen
    assert run_at([0.0, 1.0], [H, H], policy=EventPolicy(**STATE)) == []


def test_an_event_alerts_again_after_it_ends_and_the_clock_restarting_starts_over():
    times = [i / 10 for i in range(200)]
    scores = [H if (1.0 <= t < 6.0 or 12.0 <= t < 17.0) else L for t in times]
    assert run_at(times, scores, policy=EventPolicy(**STATE)) == [3.4, 14.4]
    det = EventDetector(put_evidence=Store().put, policy=EventPolicy(**STATE))
    seen = [bool(det.update(FrameEvent("c1", i, ts, IMG), {"fire": Detection(score=H, xyxy=LEFT)}))
            for i, ts in enumerate([0, 1000, 2000, 3000, 0, 1000, 2000, 3000])]  # a file camera played again
    assert seen == [False, False, False, True, False, False, False, True]  # the replay's window starts over


def test_a_policy_switch_between_rules_takes_effect():
    det = EventDetector(put_evidence=Store().put, policy=EventPolicy(k=1, n=1, cooldown_s=0))
    assert det.update(FrameEvent("c1", 0, 0, IMG), {"fire": Detection(score=H, xyxy=LEFT)})
    det.set_policy("fire", EventPolicy(**STATE))
    got = [bool(det.update(FrameEvent("c1", i, i * 1000, IMG), {"fire": Detection(score=H, xyxy=LEFT)})) for i in range(1, 6)]
    assert got == [False, False, False, True, False]  # the window starts with the switch


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(window_s=0.0), "window_s=0.0"),
        (dict(window_s=float("nan")), "window_s=nan"),
        (dict(window_s=3.0, window_share=0.0), "window_share=0.0"),
        (dict(window_s=3.0, window_share=1.5), "window_share=1.5"),
    ],
)
def test_window_validation(kwargs, match):
    with pytest.raises(StreamConfigError, match=match):
        EventPolicy(**kwargs)


def test_head_work_carries_the_window_into_its_revision_and_refuses_a_bad_one():
    from runtime.work import CameraWork, HeadWork

    base = dict(algorithm_id="scene.road.smoke", version="3", artifact_sha256="ab" * 32)
    revs = {w: CameraWork.build("c", heads=[HeadWork(**base, window_s=w)]).revision for w in (None, 3.0, 0.5)}
    assert len(set(revs.values())) == 3  # a changed window is changed work: the worker is reconfigured
    for bad, match in ((dict(window_s=-1.0), "window_s=-1.0"), (dict(window_s=3.0, window_share=2.0), "window_share=2.0")):
        with pytest.raises(StreamConfigError, match=match):
            HeadWork(**base, **bad)
