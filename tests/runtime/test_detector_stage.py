"""DetectorStage: per-camera rates, no starvation, failure backoff, residency, the EventDetector adapter."""
from __future__ import annotations

import functools
import hashlib
import random

import numpy as np
import pytest

from runtime import Detection as EventDetection
from runtime import EventDetector, EventPolicy, FrameEvent, ModelResidency
from runtime.detector_stage import (
    DetectorSpec,
    DetectorStage,
    DetectorStageConfigError,
    EventMapping,
    UnknownAlgorithmError,
    detector_due,
    event_inputs,
    next_anchor_ms,
)
from runtime.detectors import Detection, MtcnnFaceDetector
from tests.runtime.detectors._pictures import ASTRONAUT_FACE_XYXY, iou, picture

IMG = np.zeros((48, 64, 3), np.uint8)


class Recorder:
    """A real (tiny) detector: records the timestamps it saw, fails on demand."""

    name = "recorder"

    def __init__(self, *, fail_until_ms: float = -1.0, label: str = "thing") -> None:
        self.seen_ms: list[int] = []
        self.fail_until_ms = fail_until_ms
        self.label = label
        self.current_ms = 0

    def detect(self, image_bgr):
        if self.current_ms < self.fail_until_ms:
            raise RuntimeError(f"broken until {self.fail_until_ms} ms")
        self.seen_ms.append(self.current_ms)
        return [Detection(label=self.label, score=0.8, xyxy=(1, 2, 30, 40))]


def frames(camera_id: str, ts_list, image=IMG):
    return [FrameEvent(camera_id, i, int(t), image) for i, t in enumerate(ts_list)]


def drive(stage: DetectorStage, recorders: dict, evs) -> list[dict]:
    out = []
    for ev in evs:
        for r in recorders.values():
            r.current_ms = ev.ts_ms
        out.append(stage.run(ev))
    return out


# -- the pure rate functions ---------------------------------------------------------------
@pytest.mark.parametrize(
    ("anchor_ms", "now_ms", "fps", "due", "anchor_after"),
    [
        (None, 700, 1.0, True, 700),  # never ran: due, anchor starts at now
        (0, 999, 1.0, False, None),  # a period has not passed
        (0, 1000, 1.0, True, 1000),  # exactly one period: due, on the grid
        (0, 1300, 1.0, True, 1000),  # late frame: anchor stays on the grid (no drift)
        (0, 2500, 1.0, True, 2500),  # gap of 2+ periods: restart at now, no catch-up burst
        (9000, 100, 1.0, True, 100),  # time went back (looped file): restart
        (9000, 8500, 1.0, False, None),  # small step back: not due
    ],
)
def test_detector_due_and_anchor(anchor_ms, now_ms, fps, due, anchor_after):
    assert detector_due(anchor_ms, now_ms, fps) is due
    if due:
        assert next_anchor_ms(anchor_ms, now_ms, fps) == anchor_after


# -- rate control through the stage --------------------------------------------------------
@pytest.mark.parametrize(
    ("rate_fps", "expected_runs", "every_nth"),
    [
        (1.0, 10, 10),  # 1 fps on a 10 fps camera: 1 frame in 10
        (2.5, 25, 4),  # 2.5 fps: 1 in 4
        (10.0, 100, 1),  # camera rate: every frame
    ],
)
def test_exact_run_counts_over_100_frames(rate_fps, expected_runs, every_nth):
    recs = {a: Recorder() for a in ("a1", "a2.5", "a10")}
    stage = DetectorStage({"a1": (recs["a1"], 1.0, "1"), "a2.5": (recs["a2.5"], 2.5, "1"), "a10": (recs["a10"], 10.0, "1")})
    stage.assign("cam", ["a1", "a2.5", "a10"])
    drive(stage, recs, frames("cam", range(0, 10_000, 100)))
    alg = {1.0: "a1", 2.5: "a2.5", 10.0: "a10"}[rate_fps]
    assert recs[alg].seen_ms == list(range(0, 10_000, 100 * every_nth))
    st = stage.stats().of(alg)
    assert (st.runs, st.skipped_not_due, st.errors) == (expected_runs, 100 - expected_runs, 0)


@pytest.mark.parametrize(
    ("rate_fps", "source_fps", "jitter_ms", "seed"),
    [
        (3.0, 10.0, 0, 1),  # rate that does not divide the camera's
        (0.7, 25.0, 8, 2),  # slow rate, jittery 25 fps live stream
        (5.0, 30.0, 5, 3),  # 30 fps with rounding jitter
        (12.0, 10.0, 10, 4),  # asked faster than the camera: every frame, never more
    ],
)
def test_never_more_often_than_rate_and_long_run_rate(rate_fps, source_fps, jitter_ms, seed):
    rng = random.Random(seed)
    ts = sorted(int(i * 1000 / source_fps + rng.uniform(-jitter_ms, jitter_ms)) + 100 for i in range(int(60 * source_fps)))
    rec = Recorder()
    stage = DetectorStage({"alg": (rec, rate_fps, "1")})
    stage.assign("cam", ["alg"])
    drive(stage, {"alg": rec}, frames("cam", ts))
    runs = np.array(rec.seen_ms, dtype=np.float64)
    period_ms = 1000 / rate_fps
    # the guarantee: runs i < j are more than (j - i - 1) periods apart, so a window of w periods
    # holds at most ceil(w) + 1 runs and the sustained rate never exceeds rate_fps
    i, j = np.triu_indices(len(runs), k=1)
    assert np.all(runs[j] - runs[i] > (j - i - 1) * period_ms - 1e-9)
    span_s = (ts[-1] - ts[0]) / 1000
    assert len(runs) <= span_s * min(rate_fps, source_fps) + 2
    assert len(runs) >= span_s * min(rate_fps, source_fps) * 0.9  # jitter does not drag the rate down


@pytest.mark.parametrize(
    "passed",
    [
        lambda i: i % 7 == 3,  # the gate passes every 7th frame
        lambda i: random.Random(i).random() < 0.1,  # ~10 % pass, irregularly
        lambda i: i % 80 < 5,  # bursts: 5 frames every 8 s, then stillness
        lambda i: i % 49 == 0,  # a pass every 4.9 s: just under the detector's period
    ],
)
def test_no_starvation_with_gated_frames(passed):
    rec = Recorder()
    stage = DetectorStage({"slow": (rec, 0.2, "1")})
    stage.assign("cam", ["slow"])
    reached = [t for i, t in enumerate(range(0, 120_000, 100)) if passed(i)]  # only frames the gate passed reach the stage
    drive(stage, {"slow": rec}, frames("cam", reached))
    runs = rec.seen_ms
    assert runs[0] == reached[0]
    max_arrival_gap = max(np.diff(reached))
    # a run comes on the first frame that reaches the stage once 5 s have passed since the last one
    assert max(np.diff(runs)) <= 5000 + max_arrival_gap
    for a, b in zip(runs, runs[1:]):
        assert not any(a + 5000 <= t < b for t in reached), (a, b)
    # and never more often than the rate: at most two runs in any 5 s
    assert all(c - a > 5000 for a, c in zip(runs, runs[2:]))


def test_per_camera_rates_and_timing_are_independent():
    rec = Recorder()
    stage = DetectorStage({"alg": (rec, 1.0, "1")})
    stage.assign("c1", ["alg"])
    stage.assign("c2", {"alg": 5.0})  # plan rate overrides the spec's
    for a, b in zip(frames("c1", range(0, 2000, 100)), frames("c2", range(0, 2000, 100))):
        stage.run(a)
        stage.run(b)
    assert stage.assignment("c2") == {"alg": 5.0}
    assert stage.stats().of("alg").runs == 2 + 10
    assert stage.run(FrameEvent("no-detectors", 0, 0, IMG)) == {}  # a heads-only camera passes through


# -- failures ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("fail_until_ms", "backoff_s", "first_retry_ms"),
    [
        (1000, (2.0, 60.0), 2000),  # one failure at 0 ms, rests 2 s, recovers on retry
        (2500, (2.0, 60.0), 6000),  # fails at 0 and 2000 (rests 2 s then 4 s), recovers at 6000
        (2500, (1.0, 1.0), 3000),  # capped at 1 s: fails 0, 1000, 2000, recovers 3000
    ],
)
def test_failing_detector_backs_off_and_recovers_without_stopping_others(caplog, fail_until_ms, backoff_s, first_retry_ms):
    bad, good = Recorder(fail_until_ms=fail_until_ms), Recorder()
    stage = DetectorStage({"bad": (bad, 10.0, "1"), "good": (good, 10.0, "1")}, backoff_s=backoff_s)
    stage.assign("cam-7", ["bad", "good"])
    results = drive(stage, {"bad": bad, "good": good}, frames("cam-7", range(0, 8000, 100)))
    assert len(good.seen_ms) == 80  # never stopped
    assert all("good" in r for r in results)
    assert bad.seen_ms[0] == first_retry_ms and len(bad.seen_ms) == (8000 - first_retry_ms) // 100
    st = stage.stats().of("bad")
    assert st.errors >= 1 and st.runs == len(bad.seen_ms)
    assert st.skipped_unhealthy == 80 - st.runs - st.errors
    assert "camera=cam-7 algorithm=bad" in caplog.text
    (h_bad, h_good) = stage.health()
    assert (h_bad.algorithm_id, h_bad.healthy, h_good.healthy) == ("bad", True, True)


def test_health_reports_the_resting_detector():
    bad = Recorder(fail_until_ms=10_000)
    stage = DetectorStage({"bad": (bad, 1.0, "1")}, backoff_s=(5.0, 5.0))
    stage.assign("cam", ["bad"])
    drive(stage, {"bad": bad}, frames("cam", [0, 1000]))
    [h] = stage.health()
    assert (h.healthy, h.consecutive_failures, h.retry_at_ts_ms) == (False, 1, 5000)
    assert "broken until 10000" in h.last_error


# -- residency -----------------------------------------------------------------------------
def _counting_factory(loads: dict, name: str):
    loads[name] = loads.get(name, 0) + 1
    return Recorder(label=name)


@pytest.mark.parametrize(
    ("budget_mib", "pinned", "expected_loads"),
    [
        (10.0, None, {"a": 3, "b": 3, "c": 3}),  # two of three 4 MiB detectors fit: LRU evicts the one needed next
        (10.0, "b", {"a": 3, "b": 1, "c": 3}),  # b pinned: loaded once and kept; a and c evict each other
        (100.0, None, {"a": 1, "b": 1, "c": 1}),  # room for all: each loaded once, on first use
    ],
)
def test_residency_eviction_under_a_tiny_budget_reloads_on_next_use(budget_mib, pinned, expected_loads):
    loads: dict[str, int] = {}
    res = ModelResidency(budget_mib=budget_mib)
    specs = {n: DetectorSpec(functools.partial(_counting_factory, loads, n), 10.0, "1", memory_mib=4, pinned=n == pinned)
             for n in ("a", "b", "c")}
    stage = DetectorStage(specs, residency=res)
    for n in specs:
        stage.assign(f"cam-{n}", [n])
    for t in (0, 100, 200):
        for n in ("a", "b", "c"):
            assert stage.run(FrameEvent(f"cam-{n}", t, t, IMG))[n][0].label == n  # reloaded model serves
    assert loads == expected_loads
    assert res.stats().used_mib <= budget_mib
    if pinned:
        assert pinned in res.resident()


# -- the adapter to EventDetector ----------------------------------------------------------
@pytest.mark.parametrize(
    ("dets", "mapping", "score", "xyxy"),
    [
        ([], None, 0.0, (0, 0, 64, 48)),  # ran, found nothing: a miss on the whole frame
        ([Detection(label="car", score=0.4, xyxy=(1, 1, 5, 5)),
          Detection(label="car", score=0.7, xyxy=(9, 9, 20, 20))], None, 0.7, (9, 9, 20, 20)),  # best
        ([Detection(label="cat", score=0.9, xyxy=(1, 1, 5, 5)), Detection(label="person", score=0.6, xyxy=(2, 2, 8, 8))], EventMapping(labels={"person"}), 0.6,
         (2, 2, 8, 8)),  # only the mapped label counts
        ([Detection(label="text", score=0.95, xyxy=(1, 1, 5, 5), text="SALE"), Detection(label="text", score=0.8, xyxy=(3, 3, 9, 9), text="NO PARKING")],
         EventMapping(text_regex="NO (PARKING|DUMPING)"), 0.8, (3, 3, 9, 9)),  # OCR text must match
        ([Detection(label="face", score=0.3, xyxy=(1, 1, 5, 5))], EventMapping(min_score=0.5), 0.0, (0, 0, 64, 48)),  # below min_score
    ],
)
def test_event_inputs_best_accepted_detection(dets, mapping, score, xyxy):
    ev = event_inputs({"alg": dets}, image_wh=(64, 48), model_versions={"alg": "v3"}, mappings={"alg": mapping})
    assert list(ev) == ["alg"]
    assert (ev["alg"].score, ev["alg"].xyxy, ev["alg"].model_version) == (score, tuple(map(float, xyxy)), "v3")


@pytest.fixture(scope="module")
def mtcnn_stage_factory():
    def make() -> DetectorStage:
        factory = functools.partial(MtcnnFaceDetector.from_package, intra_op_threads=1)
        return DetectorStage({"detector.face_mtcnn": DetectorSpec(factory, 1.0, "mtcnn@1", memory_mib=2)})

    return make


@pytest.mark.parametrize(
    ("picture_name", "n_alerts"),
    [
        ("astronaut", 1),  # a face on every frame: one alert (dedup), box on the face
        ("coffee", 0),  # no face: no alert
    ],
)
def test_mtcnn_on_a_real_picture_raises_a_face_alert(mtcnn_stage_factory, picture_name, n_alerts):
    stage = mtcnn_stage_factory()
    stage.assign("lobby", ["detector.face_mtcnn"])
    store: dict[str, bytes] = {}

    def put(b: bytes) -> str:
        sha = hashlib.sha256(b).hexdigest()
        store[sha] = b
        return sha

    events = EventDetector(put_evidence=put, policy=EventPolicy(threshold=0.9, k=3, n=5))
    image = picture(picture_name)
    alerts = []
    for ev in frames("lobby", range(0, 4000, 500), image):  # 2 fps camera, detector at 1 fps: 4 runs
        alerts += events.update(ev, stage.event_inputs(ev, stage.run(ev)))
    assert stage.stats().of("detector.face_mtcnn").runs == 4
    assert len(alerts) == n_alerts
    for a in alerts:
        assert (a.camera_id, a.algorithm_id, a.model_version) == ("lobby", "detector.face_mtcnn", "mtcnn@1")
        assert a.score > 0.9 and iou(a.xyxy, ASTRONAUT_FACE_XYXY) > 0.5
        assert a.evidence_sha256 in store


# -- configuration errors ------------------------------------------------------------------
@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (lambda s: s.assign("cam", ["detector.face_mtcnm"]), UnknownAlgorithmError,
         r"unknown algorithm id\(s\) \['detector.face_mtcnm'\].*detector.face_mtcnn, ocr.text_ppocr"),  # lists valid ids
        (lambda s: s.swap("nope", Recorder(), version="2"), UnknownAlgorithmError, r"'nope'.*valid|this stage has"),
        (lambda s: s.assign("cam", {"ocr.text_ppocr": 0}), DetectorStageConfigError, r"rate 0 .*cam.*fps > 0"),  # bad plan rate
        (lambda s: DetectorStage({"x": (Recorder(), -1, "1")}), DetectorStageConfigError, r"rate_fps=-1"),
        (lambda s: DetectorStage({"x": ("not a detector", 1, "1")}), DetectorStageConfigError, r"neither a detector"),
        (lambda s: DetectorStage({}), DetectorStageConfigError, r"specs is empty"),
        (lambda s: EventMapping(text_regex="(unclosed"), DetectorStageConfigError, r"not a valid regular expression"),
    ],
)
def test_configuration_errors(call, error, match):
    stage = DetectorStage({"detector.face_mtcnn": (Recorder(), 1, "1"), "ocr.text_ppocr": (Recorder(), 0.2, "1")})
    with pytest.raises(error, match=match):
        call(stage)


def test_unknown_algorithm_is_a_key_error_with_a_readable_message():
    stage = DetectorStage({"a": (Recorder(), 1, "1")})
    with pytest.raises(KeyError) as info:
        stage.spec("b")
    assert str(info.value).startswith("unknown algorithm id(s) ['b']")


# -- evidence readers as a cascade (runtime.cascade) ------------------------------------------
PARKING = "scene.road.illegal_parking"
HEAD_FIRED = EventDetection(score=0.9, xyxy=(0, 0, 64, 48))  # a scene head's frame-level score over its threshold


class Cropper(Recorder):
    """Records the shape of every picture it is handed (a crop or the frame)."""

    def __init__(self, **kw) -> None:
        super().__init__(**kw)
        self.shapes: list[tuple[int, int]] = []

    def detect(self, image_bgr):
        self.shapes.append(image_bgr.shape[:2])
        return super().detect(image_bgr)


def _cascade_stage(reader, *, rule=None, rate_fps=10.0, **extra):
    specs = {"ocr.text_ppocr": DetectorSpec(reader, rate_fps, "ocr@1"), **extra}
    return DetectorStage(specs, cascades={"ocr.text_ppocr": {"scene.*.illegal_parking": None} if rule is None else rule})


@pytest.mark.parametrize(
    ("fired_at", "reread_s", "expected_runs_ms"),
    [
        ((), 10.0, []),  # the trigger never fires: the reader never runs
        ((300,), 10.0, [300]),  # one firing frame: one read, there
        ((300, 400, 500), 10.0, [300]),  # it keeps firing: one read per reread_s, not one per frame
        ((300, 400, 500), 0.0, [300, 400, 500]),  # reread_s=0: every firing frame (still capped by the 10 fps rate)
        ((100, 900), 0.5, [100, 900]),  # two firings further apart than reread_s: two reads
    ],
)
def test_a_cascaded_reader_runs_only_on_frames_where_its_trigger_fired(fired_at, reread_s, expected_runs_ms):
    from runtime import Cascade

    reader = Recorder()
    stage = _cascade_stage(reader, rule=Cascade.of({"scene.*.illegal_parking": None}, reread_s=reread_s))
    stage.assign("cam", ["ocr.text_ppocr"])
    for ev in frames("cam", range(0, 1000, 100)):  # a 10 fps camera, the reader's rate is 10 fps
        reader.current_ms = ev.ts_ms
        fired = {PARKING: HEAD_FIRED} if ev.ts_ms in fired_at else {}
        out = stage.run(ev, fired=fired, assigned=[PARKING])
        assert ("ocr.text_ppocr" in out) == (ev.ts_ms in expected_runs_ms)
    assert reader.seen_ms == expected_runs_ms
    st = stage.stats().of("ocr.text_ppocr")
    assert st.runs == len(expected_runs_ms) and st.skipped_not_triggered == 10 - len(fired_at)
    assert stage.cascaded("cam", [PARKING]) == {"ocr.text_ppocr": (PARKING,)}


def test_a_reader_runs_at_its_rate_on_a_camera_that_runs_none_of_its_triggers():
    reader = Recorder()
    stage = _cascade_stage(reader, rate_fps=2.0)
    stage.assign("cam", ["ocr.text_ppocr"])
    drive(stage, {"r": reader}, [ev for ev in frames("cam", range(0, 1000, 100))])  # no fired, no assigned heads
    assert reader.seen_ms == [0, 500] and stage.cascaded("cam") == {}  # chosen for its own event: not a cascade here


def test_the_reader_reads_the_plate_detectors_crops_and_boxes_come_back_in_frame_pixels():
    plate = Recorder(label="plate")  # finds a plate at (1, 2, 30, 40) of a 64x48 frame
    reader = Cropper(label="text")
    stage = _cascade_stage(reader, rule={"scene.*.illegal_parking": "detector.plate_haar"},
                           **{"detector.plate_haar": DetectorSpec(plate, 10.0, "plate@1")})
    stage.assign("cam", ["ocr.text_ppocr", "detector.plate_haar"])
    ev = FrameEvent("cam", 0, 0, IMG)
    out = stage.run(ev, fired={PARKING: HEAD_FIRED}, assigned=[PARKING])
    # the plate box grown by 10% a side, clipped: (0, 0) .. (33, 44) -> a 44x33 crop, not the 48x64 frame
    assert reader.shapes == [(44, 33)]
    [text] = out["ocr.text_ppocr"]
    assert text.label == "text" and text.xyxy == (1.0, 2.0, 30.0, 40.0)  # (1, 2, 30, 40) in the crop at (0, 0)
    assert stage.stats().of("ocr.text_ppocr").crops == 1


def test_the_text_reader_reads_only_fresh_plates_never_the_whole_frame_between_plate_reads():
    # the head fires on every frame; the plate detector re-reads its (whole-frame) region every 60 s,
    # so on the frames between there are no fresh plates and the text reader must not fall back to
    # reading the whole frame
    from runtime import Cascade

    plate = Recorder(label="plate")  # finds a plate at (1, 2, 30, 40)
    reader = Cropper(label="text")
    rules = {"ocr.text_ppocr": Cascade.of({"scene.*.illegal_parking": "detector.plate_haar"}, reread_s=60.0),
             "detector.plate_haar": Cascade.of({"scene.*.illegal_parking": None}, reread_s=60.0)}
    stage = DetectorStage({"ocr.text_ppocr": DetectorSpec(reader, 10.0, "ocr@1"), "detector.plate_haar": DetectorSpec(plate, 10.0, "p@1")},
                          cascades=rules)
    stage.assign("cam", ["ocr.text_ppocr", "detector.plate_haar"])
    for ev in frames("cam", range(0, 2000, 100)):
        plate.current_ms = reader.current_ms = ev.ts_ms
        stage.run(ev, fired={PARKING: HEAD_FIRED}, assigned=[PARKING])
    assert plate.seen_ms == [0] and reader.seen_ms == [0] and reader.shapes == [(44, 33)]  # the plate's crop, once


def test_a_stage_detector_can_trigger_a_reader_and_the_trigger_box_is_the_crop():
    # a city algorithm of the stage (track.illegal_parking) fires with the parked car's box
    car = Recorder(label="illegal_parking")
    reader = Cropper(label="text")
    stage = _cascade_stage(reader, rule={"track.illegal_parking": None},
                           **{"track.illegal_parking": DetectorSpec(car, 10.0, "t@1")})
    stage.assign("cam", ["ocr.text_ppocr", "track.illegal_parking"])
    stage.run(FrameEvent("cam", 0, 0, IMG))
    assert reader.shapes == [(44, 33)]  # inside the car's box, grown by the margin


def test_a_reader_reads_a_new_region_at_once_and_one_it_read_only_every_reread_s():
    # the parking track fires on every frame; a second car (a box the reader has not read) appears at 300 ms
    from runtime import Cascade

    one, two = EventDetection(score=0.9, xyxy=(2, 2, 20, 20)), EventDetection(score=0.9, xyxy=(40, 20, 60, 40))
    reader = Cropper(label="text")
    stage = _cascade_stage(reader, rule=Cascade.of({"track.illegal_parking": None}, reread_s=10.0))
    stage.assign("cam", ["ocr.text_ppocr"])
    for ev in frames("cam", range(0, 1000, 100)):
        reader.current_ms = ev.ts_ms
        jitter = EventDetection(score=0.9, xyxy=(3, 2, 21, 21))  # the same car, its box a pixel off: not new
        boxes = [one if ev.ts_ms % 200 else jitter] + ([two] if ev.ts_ms >= 300 else [])
        stage.run(ev, fired={"track.illegal_parking": boxes}, assigned=["track.illegal_parking"])
    assert reader.seen_ms == [0, 300]  # the first car once, the second car as soon as it came
    strict = Cropper(label="text")
    stage = _cascade_stage(strict, rule=Cascade.of({"track.illegal_parking": None}, reread_s=10.0, new_region_iou=1.0))
    stage.assign("cam", ["ocr.text_ppocr"])
    for ev in frames("cam", range(0, 400, 100)):
        strict.current_ms = ev.ts_ms
        stage.run(ev, fired={"track.illegal_parking": [one if ev.ts_ms % 200 else jitter]}, assigned=["track.illegal_parking"])
    assert strict.seen_ms == [0, 100]  # new_region_iou=1: a box a pixel off is new; the two it has read are not


@pytest.mark.parametrize(
    ("rule", "match"),
    [
        ({}, r"at least one CascadeTrigger"),  # no trigger
        ({"": None}, r"trigger pattern ''"),  # empty pattern
        ({"scene.*.x": ""}, r"crop_from=''"),
    ],
)
def test_cascade_rules_are_checked(rule, match):
    from runtime import CascadeConfigError

    with pytest.raises(CascadeConfigError, match=match):
        _cascade_stage(Recorder(), rule=rule)


@pytest.fixture(scope="module")
def ppocr():
    from runtime.detectors import default_detector_registry

    return default_detector_registry().create("ocr.text_ppocr")


def test_real_text_reader_reads_a_banner_only_where_the_banner_head_fired(ppocr):
    import cv2

    img = np.full((360, 640, 3), 90, np.uint8)
    cv2.rectangle(img, (360, 40), (620, 110), (255, 255, 255), -1)
    cv2.putText(img, "NO PARKING", (372, 92), cv2.FONT_HERSHEY_SIMPLEX, 1.3, (0, 0, 0), 3, cv2.LINE_AA)
    stage = DetectorStage({"ocr.text_ppocr": DetectorSpec(ppocr, 5.0, "ppocr@1", events=EventMapping(text_regex="PARK"))},
                          cascades={"ocr.text_ppocr": {"scene.*.illegal_banner": None}})
    stage.assign("street", ["ocr.text_ppocr"])
    banner = EventDetection(score=0.8, xyxy=(350, 30, 630, 120))  # a localised head box: the reader reads inside it
    read = {}
    for ev in frames("street", range(0, 2000, 200), img):  # 5 fps, the head fires on 2 of the 10 frames
        fired = {"scene.market_street.illegal_banner": banner} if ev.frame_index in (2, 7) else {}
        out = stage.run(ev, fired=fired, assigned=["scene.market_street.illegal_banner"])
        if out:
            read[ev.frame_index] = stage.event_inputs(ev, out)["ocr.text_ppocr"]
    assert sorted(read) == [2]  # frame 7 is within reread_s (10 s) of the first read
    hit = read[2]
    assert "PARKING" in (hit.text or "").upper().replace(" ", "") and hit.score > 0.5
    assert 350 <= hit.xyxy[0] and hit.xyxy[2] <= 630  # found inside the crop, reported in frame pixels
    st = stage.stats().of("ocr.text_ppocr")
    assert (st.runs, st.skipped_not_triggered) == (1, 8)


def test_the_worker_runs_a_reader_only_on_cameras_and_frames_where_a_head_fired(backbone_path, tmp_path):
    from catalog import ArtifactStore, linear_head_onnx
    from runtime.actors import InferenceWorker
    from runtime.batching import BatchPolicy
    from runtime.scoring import linear_head_scorer_factory
    from scheduler import Assignment

    def head(bias: float) -> bytes:
        return linear_head_onnx(np.zeros((1280, 1), np.float32), np.array([bias], np.float32), labels=["on"])

    on, off = "scene.road.illegal_parking", "scene.sidewalk.illegal_parking"
    readers = {"fires": Recorder(), "quiet": Recorder()}

    class _PerCamera:  # one reader object per camera, to see which camera it ran for
        def detect_frame(self, frame):
            r = readers[frame.camera_id]
            r.current_ms = frame.ts_ms
            return r.detect(frame.image)

        def detect(self, image_bgr):
            raise TypeError("needs the frame's camera: the stage calls detect_frame")

    def stage():
        return DetectorStage({"ocr.text_ppocr": DetectorSpec(_PerCamera(), 10.0, "ocr@1")},
                             cascades={"ocr.text_ppocr": {"scene.*.illegal_parking": None}})

    asg = [Assignment("fires", on, fps=10), Assignment("fires", "ocr.text_ppocr", fps=10),
           Assignment("quiet", off, fps=10), Assignment("quiet", "ocr.text_ppocr", fps=10)]
    w = InferenceWorker("w0", asg, scorer_factory=linear_head_scorer_factory(backbone_path, {on: head(8.0), off: head(-8.0)}),
                        put_evidence=ArtifactStore(tmp_path / "a").put_bytes, stage_factory=stage,
                        policy=EventPolicy(threshold=0.5, k=1, n=1), batch_policy=BatchPolicy(max_batch=8, max_wait_ms=500))
    rng = np.random.default_rng(3)
    try:
        w.process([FrameEvent(c, i, i * 100, rng.integers(0, 255, (48, 64, 3), dtype=np.uint8))
                   for i in range(4) for c in ("fires", "quiet")])
    finally:
        w.close()
    assert readers["fires"].seen_ms == [0]  # the head fires on every frame; read once (reread_s 10 s)
    assert readers["quiet"].seen_ms == []  # its head never reaches its threshold: the reader never runs
    assert w._stage.stats().of("ocr.text_ppocr").skipped_not_triggered == 4


@pytest.mark.parametrize(
    ("fired_at", "hold_s", "expected_runs_ms"),
    [
        ((), 1.0, []),  # never woken
        ((200,), 1.0, [200, 400, 600, 800, 1000, 1200]),  # awake from the firing until 1 s after it, at its 5 fps
        ((200, 1000), 0.5, [200, 400, 600, 1000, 1200, 1400]),  # woken again: awake until 0.5 s after the last firing
        ((1900,), 60.0, [1900]),  # the file loops back to 0 right after: not awake in the new pass
    ],
)
def test_a_wake_up_cascade_runs_at_its_rate_while_a_trigger_fired_within_hold_s(fired_at, hold_s, expected_runs_ms):
    from runtime import Cascade

    tracker = Recorder()  # a tracker needs consecutive frames: it runs on the whole frame at its rate while awake
    stage = DetectorStage({"track.illegal_parking": DetectorSpec(tracker, 5.0, "t@1")},
                          cascades={"track.illegal_parking": Cascade.of({"scene.*.illegal_parking": None}, hold_s=hold_s)})
    stage.assign("cam", ["track.illegal_parking"])
    for ev in frames("cam", range(0, 2000, 100)):
        tracker.current_ms = ev.ts_ms
        stage.run(ev, fired={PARKING: HEAD_FIRED} if ev.ts_ms in fired_at else {}, assigned=[PARKING])
    if fired_at == (1900,):
        for ev in frames("cam", range(0, 500, 100)):  # the looped file, nothing fires
            tracker.current_ms = ev.ts_ms
            stage.run(ev, fired={}, assigned=[PARKING])
    assert tracker.seen_ms == expected_runs_ms


def test_the_control_planes_stage_runs_the_citys_readers_as_cascades():
    from warehouse.control.hooks import CityStageFactory

    stage = CityStageFactory()()  # what every serving worker builds (detectors load on first use)
    assert stage.cascade("ocr.text_ppocr").triggers_on(["scene.road.illegal_parking"]) == ("scene.road.illegal_parking",)
    assert stage.cascade("track.illegal_parking").hold_s == 300
    assert stage.cascade("detector.face_mtcnn") is None  # asked for by a task: runs at its rate
    stage.assign("road", ["ocr.text_ppocr", "detector.plate_haar"])
    assert stage.cascaded("road", ["scene.road.illegal_parking"]) == {
        "ocr.text_ppocr": ("scene.road.illegal_parking",), "detector.plate_haar": ("scene.road.illegal_parking",)}
