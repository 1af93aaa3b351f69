"""Readers and inference workers: locally, then as Ray actors placed by a plan."""
from __future__ import annotations

import numpy as np
import pytest

from catalog import ArtifactStore, linear_head_onnx
from runtime.actors import InferenceWorker, StreamReader, deploy_plan
from runtime.events import EventPolicy
from runtime.scoring import inference_core_scorer_factory, linear_head_scorer_factory
from scheduler import Assignment, Worker, simple_plan


def _heads() -> dict[str, bytes]:
    # 'always' scores ~1 on every frame, 'never' ~0: the plumbing is under test, not a model
    w = np.zeros((1280, 1), np.float32)
    return {"always": linear_head_onnx(w, np.array([8.0], np.float32), labels=["on"]),
            "never": linear_head_onnx(w, np.array([-8.0], np.float32), labels=["on"])}


@pytest.mark.parametrize("factory", [linear_head_scorer_factory, inference_core_scorer_factory])
def test_local_reader_and_worker_raise_one_deduplicated_alert(backbone_path, tmp_path, factory):
    store = ArtifactStore(tmp_path / "artifacts")
    asg = [Assignment("cam", "always", fps=5), Assignment("cam", "never", fps=5)]
    worker = InferenceWorker("w0", asg, scorer_factory=factory(backbone_path, _heads()), put_evidence=store.put_bytes,
                             policy=EventPolicy(k=2, n=3, cooldown_s=60), model_versions={"always": "always@1"})
    reader = StreamReader("cam", "synthetic://plain?seed=1&fps=10&n=60&events=20-30", fps=5, worker=worker)
    stats = reader.run()
    assert stats["frames_read"] == 60 and stats["frames_sampled"] == 30
    assert 0 < stats["frames_sent"] < stats["frames_sampled"]  # the gate skipped the static frames
    alerts = worker.drain_alerts()
    assert [(a.camera_id, a.algorithm_id, a.model_version) for a in alerts] == [("cam", "always", "always@1")]
    assert store.get_bytes(alerts[0].evidence_sha256)[:2] == b"\xff\xd8"  # a JPEG
    assert worker.drain_alerts() == []


@pytest.mark.ray
@pytest.mark.slow
def test_deploy_plan_runs_readers_and_workers_on_ray(backbone_path, tmp_path):
    import ray

    cams = ["cam-a", "cam-b", "cam-c"]
    asg = [Assignment(c, alg, fps=5) for c in cams for alg in ("always", "never")]
    plan = simple_plan(cams, asg, [Worker("w0", compute_fps=50, memory_mib=512), Worker("w1", compute_fps=50, memory_mib=512)])
    store = ArtifactStore(tmp_path / "artifacts")
    sources = {c: f"synthetic://plain?seed={i}&fps=10&n=40&events=10-20" for i, c in enumerate(cams)}
    sources["cam-c"] = "rtsp://127.0.0.1:9/unreachable"  # a broken camera must not disturb the others
    from runtime.streams import Backoff

    try:
        dep = deploy_plan(plan, sources=sources, scorer_factory=inference_core_scorer_factory(backbone_path, _heads()),
                          put_evidence=store.put_bytes, policy=EventPolicy(k=2, n=3, cooldown_s=60),
                          model_versions={"always": "always@1", "never": "never@1"},
                          source_options={"cam-c": {"backoff": Backoff(initial_s=0.2, max_s=0.5), "open_timeout_s": 1.0}})
        assert set(dep.workers) == {"w0", "w1"} and set(dep.readers) == set(cams)
        dep.start()
        done = dep.wait(timeout_s=120)
        assert set(done) >= {"cam-a", "cam-b"}
        assert all(done[c]["frames_read"] == 40 for c in ("cam-a", "cam-b"))
        health = dep.health()
        assert health["cam-c"].state.value == "unhealthy" and health["cam-c"].consecutive_failures >= 1
        alerts = dep.drain_alerts()
        assert sorted((a.camera_id, a.algorithm_id) for a in alerts) == [("cam-a", "always"), ("cam-b", "always")]
        assert all(store.exists(a.evidence_sha256) for a in alerts)
        dep.stop()
        dep.shutdown()
    finally:
        ray.shutdown()
