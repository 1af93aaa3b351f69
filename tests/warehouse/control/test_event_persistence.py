"""Each head's persistence window travels from the catalog's taxonomy through desired state to the worker's event logic."""
from __future__ import annotations

import time

import numpy as np

from catalog import ArtifactStore, linear_head_onnx
from runtime import InferenceWorker, inference_core_scorer_factory
from runtime.work import CameraWork, HeadWork
from warehouse.control import AlgorithmRuntime, CameraInput, Choice, NodeView, VersionRef, build_instance, desired_state, plan_city
from warehouse.control.desired import head_persistence
from warehouse.control.hooks import ArtifactFetcher, EvidenceWriter

NODES = [NodeView("node-a" + "0" * 20, 2.0)]


def test_head_persistence_comes_from_the_event_taxonomy_or_the_algorithms_override():
    assert head_persistence(("standing_water",)) == (3.0, 0.8)  # a state: most of 3 s
    assert head_persistence(("red_light_running",)) == (0.5, 0.5)  # momentary
    assert head_persistence(("smoke",), {"event_window_s": 6.0}) == (6.0, 0.8)  # the algorithm's own override
    assert head_persistence(("smoke",), {"event_window_s": "later"}) == (None, 0.8)  # bad override: event_k of event_n frames
    assert head_persistence(("smoke",), {"event_window_s": None}) == (None, 0.8)  # asked for event_k of event_n frames


def _desired(window: tuple[float | None, float], **kw):
    algs = {"scene.road.smoke": AlgorithmRuntime("scene.road.smoke", True, VersionRef(3, "ab" * 32, 0.7), None, frozenset(), *window)}
    cams = {"c0": CameraInput("c0", "synthetic://road?seed=0")}
    plan, _ = plan_city(build_instance(list(cams.values()), {"c0": [Choice("scene.road.smoke", 90, 2.0)]}, algs, NODES))
    [head] = desired_state(plan, cams, algs, NODES, **kw).cameras["c0"].work.heads
    return head, desired_state(plan, cams, algs, NODES, **kw).cameras["c0"].work.revision


def test_desired_state_gives_each_head_its_window_and_keeps_event_k_of_n_as_the_fallback():
    head, rev = _desired((3.0, 0.8), event_k=4, event_n=6)
    assert (head.window_s, head.window_share, head.k, head.n) == (3.0, 0.8, 4, 6)
    fallback, rev_fallback = _desired((None, 0.8), event_k=4, event_n=6)
    assert (fallback.window_s, fallback.k, fallback.n) == (None, 4, 6)
    assert rev != rev_fallback  # a changed window is a changed work: the worker is reconfigured


def test_the_worker_alerts_by_the_window_it_was_given(tmp_path, backbone_path):
    root = str(tmp_path / "artifacts")
    sha = ArtifactStore(root).put_bytes(linear_head_onnx(np.zeros((1280, 1), np.float32), np.array([8.0], np.float32), labels=["on"]))
    first = {}
    for window in (None, 2.0):
        w = InferenceWorker("w-test", [], scorer_factory=inference_core_scorer_factory(backbone_path, {}), put_evidence=EvidenceWriter(root),
                            fetch_artifact=ArtifactFetcher(root))  # fmt: skip
        try:  # a head over threshold on every frame of a 10 fps stream (stream time, not wall clock)
            w.configure_camera(CameraWork.build("cam", heads=[HeadWork("scene.road.smoke", "1", artifact_sha256=sha, k=2, n=3,
                                                                       window_s=window)]))
            w.start_stream("cam", "synthetic://road?seed=1&fps=10&n=30", fps=10.0, gate=False)
            deadline = time.monotonic() + 60
            while w.stats()["frames_scored"] < 30 and time.monotonic() < deadline:
                time.sleep(0.05)
            first[window] = [a.frame_index for a in w.drain_alerts()]
        finally:
            w.close()
    assert first[None] == [1]  # 2 of 3 frames: the second frame
    assert first[2.0] == [20]  # the stream must cover the 2 s window first: 2.0 s of stream time in


def test_after_a_change_the_gate_passes_frames_across_the_cameras_longest_window(tmp_path, backbone_path):
    root = str(tmp_path / "artifacts")
    w = InferenceWorker("w-gate", [], scorer_factory=inference_core_scorer_factory(backbone_path, {}), put_evidence=EvidenceWriter(root),
                        fetch_artifact=ArtifactFetcher(root))  # fmt: skip
    try:
        w.configure_camera(CameraWork.build("cam", heads=[HeadWork("scene.road.smoke", "1", window_s=3.0),
                                                          HeadWork("scene.road.jaywalking", "1", window_s=0.5)]))
        assert w._hold_for_windows("cam", 2.0, None) == {"hold_frames": 7}  # 3 s at 2 fps, and the frame at its end
        assert w._hold_for_windows("cam", 2.0, {"hold_frames": 1}) == {"hold_frames": 1}  # the caller's choice stands
        assert w._hold_for_windows("unknown", 2.0, None) == {}  # no heads with a window: the gate's own default
    finally:
        w.close()


def test_an_event_in_view_when_a_gated_stream_starts_alerts_within_its_window(tmp_path, backbone_path):
    """The gate holds a stream's first frames like a change, so a state already in view is
    confirmed after its window, not at the next keyframe (50 frames later, or never in a short clip)."""
    root = str(tmp_path / "artifacts")
    sha = ArtifactStore(root).put_bytes(linear_head_onnx(np.zeros((1280, 1), np.float32), np.array([8.0], np.float32), labels=["on"]))
    w = InferenceWorker("w-start", [], scorer_factory=inference_core_scorer_factory(backbone_path, {}), put_evidence=EvidenceWriter(root),
                        fetch_artifact=ArtifactFetcher(root))  # fmt: skip
    try:
        w.configure_camera(CameraWork.build("cam", heads=[HeadWork("scene.road.smoke", "1", artifact_sha256=sha, window_s=2.0)]))
        w.start_stream("cam", "synthetic://road?seed=3&fps=10&n=45", fps=10.0, gate=True)  # a static road, gate on
        deadline = time.monotonic() + 60
        while w.streams().get("cam", {}).get("finished") is not True and time.monotonic() < deadline:
            time.sleep(0.05)
        assert [a.frame_index for a in w.drain_alerts()] == [20]  # 2 s of stream time in, as with the gate off
        assert w.stats()["frames_scored"] < 45  # the gate still skipped the static rest
    finally:
        w.close()
