"""The application's hooks in a worker: typed alerts on the bus, frames retained for mining."""
from __future__ import annotations

import pickle
import time

import numpy as np

from catalog import ArtifactStore, linear_head_onnx
from runtime import InferenceWorker, inference_core_scorer_factory
from runtime.work import CameraWork, HeadWork
from warehouse.bus import open_bus
from warehouse.bus.events import parse_event
from warehouse.control.hooks import ArtifactFetcher, BusAlertPublisher, EvidenceWriter, FramePoolHook
from warehouse.framepool import FramePool


def _worker(tmp_path, backbone_path, **kw) -> tuple[InferenceWorker, str]:
    root = str(tmp_path / "artifacts")
    store = ArtifactStore(root)
    sha = store.put_bytes(linear_head_onnx(np.zeros((1280, 1), np.float32), np.array([8.0], np.float32), labels=["on"]))
    # every factory travels to a Ray actor: it must survive pickling
    factories = {k: pickle.loads(pickle.dumps(v)) for k, v in dict(
        put_evidence=EvidenceWriter(root), fetch_artifact=ArtifactFetcher(root), **kw).items()}
    w = InferenceWorker("w-test", [], scorer_factory=inference_core_scorer_factory(backbone_path, {}), **factories)
    return w, sha


def test_alerts_reach_the_bus_as_typed_events_with_wall_clock_time(tmp_path, backbone_path):
    url = f"sqlite:///{tmp_path / 'bus.db'}"
    w, sha = _worker(tmp_path, backbone_path, alert_sink_factory=BusAlertPublisher(url))
    try:
        w.configure_camera(CameraWork.build("cam-7", heads=[HeadWork("scene.road.smoke", "3", artifact_sha256=sha, k=1, n=1)]))
        w.start_stream("cam-7", "synthetic://road?seed=1&fps=10&n=6", fps=10.0, gate=False)
        deadline = time.monotonic() + 30
        while w.stats()["alerts"] == 0 and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        w.close()
    bus = open_bus(url)
    try:
        [rec] = bus.consumer("alerts", group="t").poll(timeout_s=2)
    finally:
        bus.close()
    ev = parse_event("alerts", rec.value)
    assert rec.key == "cam-7" and ev.algorithm_id == "scene.road.smoke" and ev.model_version == "3"
    assert ev.frame_ref == f"cam-7:{ev.frame_index}" and ev.worker_id == "w-test"
    assert abs(ev.ts_ms / 1000 - time.time()) < 120  # wall clock, not the video's offset
    assert ev.stream_ts_ms == ev.frame_index * 100  # the stream's own clock, kept beside it
    assert rec.value["time_utc"].endswith("Z") and rec.value["schema_version"] == 1


def test_every_scored_frame_is_retained_with_its_exact_labels(tmp_path, backbone_path):
    pool_url = f"sqlite:///{tmp_path / 'pool.db'}"
    w, sha = _worker(tmp_path, backbone_path, frame_hook_factory=FramePoolHook(pool_url))
    try:
        w.configure_camera(CameraWork.build("cam-1", heads=[HeadWork("scene.road.smoke", "1", artifact_sha256=sha)]))
        w.start_stream("cam-1", "synthetic://road?seed=2&fps=10&n=8&events=smoke:4-8", fps=10.0, gate=False)
        deadline = time.monotonic() + 30
        while not w.streams()["cam-1"]["finished"] and time.monotonic() < deadline:
            time.sleep(0.05)
        sent = w.streams()["cam-1"]["frames_sent"]
    finally:
        w.close()
    frames = {f.frame_index: f for f in FramePool(pool_url).frames(camera_id="cam-1")}
    assert len(frames) == sent == 8
    assert [frames[i].truth for i in range(8)] == [()] * 4 + [("smoke",)] * 4
    assert frames[0].embedding.shape == (1280,)


def test_a_head_budget_smaller_than_the_assigned_heads_loads_and_evicts_by_use(tmp_path, backbone_path):
    root = str(tmp_path / "artifacts")
    store = ArtifactStore(root)
    shas = [store.put_bytes(linear_head_onnx(np.zeros((1280, 1), np.float32), np.array([float(i)], np.float32), labels=["on"]))
            for i in range(4)]
    w = InferenceWorker("w-mem", [], scorer_factory=inference_core_scorer_factory(backbone_path, {}),
                        put_evidence=EvidenceWriter(root), fetch_artifact=ArtifactFetcher(root), memory_budget_mib=2.5)
    try:  # four heads of 1 MiB each (as measured) on two cameras; the budget holds two
        for cam, algs in (("a", (0, 1)), ("b", (2, 3))):
            w.configure_camera(CameraWork.build(cam, heads=[HeadWork(f"scene.road.e{i}", "1", artifact_sha256=shas[i], size_mib=1.0)
                                                             for i in algs]))
        from runtime.streams import FrameEvent

        img = np.zeros((64, 64, 3), np.uint8)
        for i in range(3):
            w.process([FrameEvent("a", i, i * 100, img), FrameEvent("b", i, i * 100, img)])
        st = w.status()
        assert st["memory_used_mib"] <= 2.5 and st["evictions"] >= 2 and len(st["resident"]) <= 2
        assert set(st["heads"]) == {f"scene.road.e{i}" for i in range(4)}  # all assigned, not all resident
    finally:
        w.close()



def test_the_detector_stage_gets_the_plans_detectors_and_the_cameras_zones(tmp_path, backbone_path):
    from warehouse.control.hooks import CityStageFactory

    w, sha = _worker(tmp_path, backbone_path, stage_factory=CityStageFactory(rate_fps=1.0))
    zones = {"items": [{"name": "lawn", "kind": "no_pedestrian", "points_xy": [[0, 300], [700, 300], [700, 570], [0, 570]]}]}
    try:
        w.configure_camera(CameraWork.build("cam-v", detectors={"track.pedestrian_on_road": 1.0, "detector.unknown": 1.0},
                                            zones=zones))
        assert w._stage.assignment("cam-v") == {"track.pedestrian_on_road": 1.0}  # what the stage knows, at the plan's rate
        assert [z.name for z in w._stage.track_hub._cams["cam-v"].geometry.zones] == ["lawn"]
        w.remove_camera("cam-v")
        assert w._stage.assignment("cam-v") == {}
    finally:
        w.close()
