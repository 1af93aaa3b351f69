"""The inference worker: cross-camera batches, real detectors at their own rates, alert sinks."""
from __future__ import annotations

import threading
from functools import partial

import numpy as np
import pytest

from catalog import ArtifactStore, linear_head_onnx
from runtime.actors import InferenceWorker
from runtime.batching import BatchPolicy
from runtime.detector_stage import DetectorSpec, DetectorStage
from runtime.detectors.base import Detection as DetectorDetection
from runtime.events import EventPolicy
from runtime.scoring import inference_core_scorer_factory, linear_head_scorer_factory
from runtime.streams import FrameEvent, StreamConfigError
from scheduler import Assignment

FACTORIES = [linear_head_scorer_factory, inference_core_scorer_factory]


def _heads(seed: int = 0) -> dict[str, bytes]:
    # random heads: scores depend on the frame, so batched and single scores can be compared
    rng = np.random.default_rng(seed)
    return {a: linear_head_onnx(rng.normal(0, 0.05, (1280, 1)).astype(np.float32), np.zeros(1, np.float32), labels=["on"])
            for a in ("fire", "litter")}


def _frames(cams: list[str], n: int, *, fps: float = 10.0) -> list[FrameEvent]:
    rng = np.random.default_rng(1)
    return [FrameEvent(c, i, int(i * 1000 / fps), rng.integers(0, 255, (72, 96, 3), dtype=np.uint8))
            for i in range(n) for c in cams]


def _worker(tmp_path, factory, asg, **kw) -> InferenceWorker:
    store = ArtifactStore(tmp_path / "artifacts")
    return InferenceWorker("w0", asg, scorer_factory=factory, put_evidence=store.put_bytes, **kw)


@pytest.mark.parametrize("make", FACTORIES)
def test_one_call_with_frames_of_four_cameras_is_one_backbone_batch(backbone_path, tmp_path, make):
    cams = [f"cam-{i}" for i in range(4)]
    asg = [Assignment(c, a, fps=10) for c in cams for a in ("fire", "litter")]
    w = _worker(tmp_path, make(backbone_path, _heads()), asg, batch_policy=BatchPolicy(max_batch=8, max_wait_ms=1000),
                keep_scores=100)
    frames = _frames(cams, 2)  # two frames per camera: the batch may hold both
    try:
        w.process(frames)
        st = w.stats()
        assert (st["batches"], st["batch_sizes"]) == (1, {8: 1})
        got = {(s.camera_id, s.frame_index): s.detections for s in w.drain_scores()}
        assert sorted(got) == sorted((f.camera_id, f.frame_index) for f in frames)  # each frame once
        single = make(backbone_path, _heads())()
        for f in frames:  # the batch gives the scores of one-at-a-time scoring
            [ref] = single.score_frames([f], [{"fire", "litter"}])
            for alg in ("fire", "litter"):
                assert got[(f.camera_id, f.frame_index)][alg].score == pytest.approx(ref[alg][0], abs=1e-4)
    finally:
        w.close()


def test_frames_pushed_by_many_threads_are_each_scored_once(backbone_path, tmp_path):
    cams = [f"cam-{i}" for i in range(4)]
    asg = [Assignment(c, "fire", fps=10) for c in cams]
    w = _worker(tmp_path, inference_core_scorer_factory(backbone_path, _heads()), asg,
                batch_policy=BatchPolicy(max_batch=4, max_wait_ms=30), keep_scores=1000)
    frames = _frames(cams, 12)

    def feed(cam: str) -> None:  # a reader: one frame per call, in order
        for f in frames:
            if f.camera_id == cam:
                w.process([f])

    threads = [threading.Thread(target=feed, args=(c,)) for c in cams]
    try:
        [t.start() for t in threads]
        [t.join() for t in threads]
        st = w.stats()
        keys = [(s.camera_id, s.frame_index) for s in w.drain_scores()]
        assert sorted(keys) == sorted((f.camera_id, f.frame_index) for f in frames) and len(set(keys)) == len(keys)
        assert sum(k * v for k, v in st["batch_sizes"].items()) == st["frames_scored"] == len(frames)
        for c in cams:  # per camera, frames are scored in the order they were pushed
            idx = [i for cam, i in keys if cam == c]
            assert idx == sorted(idx)
    finally:
        w.close()


@pytest.mark.parametrize("fps, expected", [
    (10, 10),  # every frame of a 10 fps camera
    (5, 5),  # every other frame
    (2, 2),  # one in five
])
def test_each_head_is_scored_at_its_own_rate_within_a_batch(backbone_path, tmp_path, fps, expected):
    asg = [Assignment("cam", "fire", fps=10), Assignment("cam", "litter", fps=fps)]
    w = _worker(tmp_path, inference_core_scorer_factory(backbone_path, _heads()), asg,
                batch_policy=BatchPolicy(max_batch=10, max_wait_ms=1000), keep_scores=100)
    try:
        w.process(_frames(["cam"], 10))
        scores = w.drain_scores()
        assert sum("fire" in s.detections for s in scores) == 10
        assert sum("litter" in s.detections for s in scores) == expected
    finally:
        w.close()


class _CornerDetector:
    """A real (if tiny) detector: a bright square in the top-left corner is a 'sign'."""

    def detect(self, image: np.ndarray) -> list[DetectorDetection]:
        patch = image[:16, :16]
        return [DetectorDetection(label="sign", score=0.95, xyxy=(0, 0, 16, 16))] if patch.mean() > 200 else []


def _stage() -> DetectorStage:
    return DetectorStage({"detector.sign": DetectorSpec(_CornerDetector(), rate_fps=1.0, version="sign@7")})


def test_detector_assignments_run_in_the_stage_at_their_rate_and_raise_alerts(backbone_path, tmp_path):
    asg = [Assignment("cam", "fire", fps=2), Assignment("cam", "detector.sign", fps=2.5)]
    w = _worker(tmp_path, linear_head_scorer_factory(backbone_path, _heads()), asg, stage_factory=partial(_stage),
                policy=EventPolicy(k=1, n=1, cooldown_s=60), batch_policy=BatchPolicy(max_batch=20, max_wait_ms=1000),
                keep_scores=100)
    frames = _frames(["cam"], 20)  # 2 s at 10 fps
    for f in frames:
        f.image[:16, :16] = 255
    try:
        w.process(frames)
        assert w._stage.assignment("cam") == {"detector.sign": 2.5}  # the plan's rate, not the spec's 1 fps
        scores = w.drain_scores()
        sign = [s.frame_index for s in scores if "detector.sign" in s.detections]
        fire = [s.frame_index for s in scores if "fire" in s.detections]
        assert sign == [0, 4, 8, 12, 16] and fire == [0, 5, 10, 15]  # the detector runs where no head is due too
        assert w.stats()["detector_runs"] == {"detector.sign": 5}
        alerts = [a for a in w.drain_alerts() if a.algorithm_id == "detector.sign"]
        assert [(a.frame_index, a.model_version, a.xyxy) for a in alerts] == [(0, "sign@7", (0.0, 0.0, 16.0, 16.0))]
    finally:
        w.close()


def _always_heads() -> dict[str, bytes]:
    w = np.zeros((1280, 1), np.float32)
    return {"always": linear_head_onnx(w, np.array([8.0], np.float32), labels=["on"])}


class _Collect:
    def __init__(self, fail: bool) -> None:
        self.fail, self.got = fail, []

    def __call__(self, alert: dict) -> None:
        if self.fail:
            raise ConnectionError("bus is down")
        self.got.append(alert)


@pytest.mark.parametrize("fail", [
    False,  # every alert reaches the sink as a dict, as it is produced
    True,  # a failing sink is counted; the alerts stay in drain_alerts
])
def test_alert_sink_gets_each_alert_and_its_failures_do_not_lose_alerts(backbone_path, tmp_path, fail):
    sink = _Collect(fail)
    w = _worker(tmp_path, linear_head_scorer_factory(backbone_path, _always_heads()),
                [Assignment(c, "always", fps=10) for c in ("a", "b")], alert_sink_factory=lambda: sink,
                policy=EventPolicy(k=2, n=3, cooldown_s=60), model_versions={"always": "always@1"})
    try:
        raised = w.process(_frames(["a", "b"], 4))
        alerts = w.drain_alerts()
        assert raised == len(alerts) == 2 and {a.model_version for a in alerts} == {"always@1"}
        if fail:
            assert sink.got == []
        else:  # the bus record: the alert, the stream's clock kept beside the wall clock, and the frame's key
            import time as _t

            assert [g["alert_id"] for g in sink.got] == [a.alert_id for a in alerts]
            for g, a in zip(sink.got, alerts):
                assert g["stream_ts_ms"] == a.ts_ms and abs(g["ts_ms"] - _t.time() * 1000) < 60_000
                assert g["frame_ref"] == f"{a.camera_id}:{a.frame_index}" and g["worker_id"] == w.worker_id
        assert w.stats()["sink_errors"] == (2 if fail else 0)
    finally:
        w.close()


class _ScoreOnly:
    """A FrameScorer with only ``score`` (one frame per camera per call), no swap."""

    def __init__(self) -> None:
        self.calls = []

    def score(self, batch, assignments):
        assert len({f.camera_id for f in batch}) == len(batch)
        self.calls.append(len(batch))
        return {(f.camera_id, a): (0.9, (0.0, 0.0, 1.0, 1.0)) for f in batch for c, a in assignments if c == f.camera_id}


def test_a_score_only_scorer_is_called_in_rounds_of_one_frame_per_camera(tmp_path):
    scorer = _ScoreOnly()
    w = _worker(tmp_path, lambda: scorer, [Assignment(c, "x", fps=10) for c in ("a", "b")],
                batch_policy=BatchPolicy(max_batch=6, max_wait_ms=1000), keep_scores=10, model_versions={"x": "x@2"})
    try:
        w.process(_frames(["a", "b"], 3))
        assert scorer.calls == [2, 2, 2]
        assert {s.detections["x"].model_version for s in w.drain_scores()} == {"x@2"}
        with pytest.raises(StreamConfigError, match="has no swap"):
            w.swap_model("x", b"", "x@3")
    finally:
        w.close()


def test_swapping_a_detector_as_a_head_is_refused(backbone_path, tmp_path):
    w = _worker(tmp_path, linear_head_scorer_factory(backbone_path, _heads()), [Assignment("cam", "detector.sign", fps=1)],
                stage_factory=_stage)
    with pytest.raises(StreamConfigError, match="is a real detector"):
        w.swap_model("detector.sign", _heads()["fire"], "2")
    w.close()
