"""Readers and inference workers: locally, then as Ray actors placed by a plan."""
from __future__ import annotations

import numpy as np
import pytest

from catalog import ArtifactStore, linear_head_onnx
from runtime.actors import InferenceWorker, StreamReader
from runtime.events import EventPolicy
from runtime.scoring import inference_core_scorer_factory, linear_head_scorer_factory
from scheduler import Assignment


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
    reader = StreamReader("cam", "synthetic://road?seed=1&fps=10&n=60&events=20-30", fps=5, worker=worker)
    stats = reader.run()
    assert stats["frames_read"] == 60 and stats["frames_sampled"] == 30
    assert 0 < stats["frames_sent"] < stats["frames_sampled"]  # the gate skipped the static frames
    alerts = worker.drain_alerts()
    assert [(a.camera_id, a.algorithm_id, a.model_version) for a in alerts] == [("cam", "always", "always@1")]
    assert store.get_bytes(alerts[0].evidence_sha256)[:2] == b"\xff\xd8"  # a JPEG
    assert worker.drain_alerts() == []
