"""Hot swap of a head while frames flow: no frame dropped or scored twice, each score from one version."""
from __future__ import annotations

import threading
import time
from collections import defaultdict

import numpy as np
import pytest

from catalog import ArtifactStore, linear_head_onnx
from runtime.actors import InferenceWorker
from runtime.batching import BatchPolicy
from runtime.events import EventPolicy
from runtime.scoring import inference_core_scorer_factory, linear_head_scorer_factory
from runtime.streams import FrameEvent
from scheduler import Assignment


def _head(bias: float) -> bytes:
    # old version never fires (~0), new version always does (~1): a score tells its version
    return linear_head_onnx(np.zeros((1280, 1), np.float32), np.array([bias], np.float32), labels=["on"])


def _check_versions(scored, alerts) -> None:
    """Each camera's frames: a run of v1 scores then a run of v2 scores, scores matching the version."""
    keys = [(s.camera_id, s.frame_index) for s in scored]
    assert len(set(keys)) == len(keys)  # no frame scored twice
    by_cam = defaultdict(list)
    for s in sorted(scored, key=lambda s: (s.camera_id, s.frame_index)):
        d = s.detections["flip"]
        assert (d.model_version, d.score > 0.5) in {("flip@1", False), ("flip@2", True)}
        by_cam[s.camera_id].append(d.model_version)
    for cam, versions in by_cam.items():
        assert versions == sorted(versions), f"camera {cam} went back to the old version: {versions}"
    assert alerts and {a.model_version for a in alerts} == {"flip@2"}


@pytest.mark.parametrize("make", [linear_head_scorer_factory, inference_core_scorer_factory])
def test_swap_while_threads_feed_frames_drops_none(backbone_path, tmp_path, make):
    cams = ["cam-a", "cam-b"]
    store = ArtifactStore(tmp_path / "artifacts")
    w = InferenceWorker("w0", [Assignment(c, "flip", fps=10) for c in cams],
                        scorer_factory=make(backbone_path, {"flip": _head(-8.0)}, versions={"flip": "flip@1"}),
                        put_evidence=store.put_bytes, policy=EventPolicy(k=2, n=3, cooldown_s=60),
                        batch_policy=BatchPolicy(max_batch=4, max_wait_ms=5), keep_scores=10_000)
    swapped, sent = threading.Event(), defaultdict(list)
    rng = np.random.default_rng(0)
    image = rng.integers(0, 255, (72, 96, 3), dtype=np.uint8)

    def feed(cam: str) -> None:  # a reader: streams until 5 frames after the swap were scored
        i, after = 0, 0
        while after < 5:
            after += swapped.is_set()
            w.process([FrameEvent(cam, i, i * 100, image)])
            sent[cam].append(i)
            i += 1

    threads = [threading.Thread(target=feed, args=(c,)) for c in cams]
    try:
        [t.start() for t in threads]
        while w.stats()["frames_scored"] < 6:  # the stream is flowing
            time.sleep(0.01)
        assert w.swap_model("flip", _head(8.0), "flip@2") == "flip@1"
        swapped.set()
        [t.join() for t in threads]
        scored = w.drain_scores()
        assert sorted((s.camera_id, s.frame_index) for s in scored) == sorted((c, i) for c in cams for i in sent[c])
        assert {s.detections["flip"].model_version for s in scored} == {"flip@1", "flip@2"}
        _check_versions(scored, w.drain_alerts())
        assert w.stats()["frames_in"] == w.stats()["frames_scored"] == len(scored)
    finally:
        w.close()
