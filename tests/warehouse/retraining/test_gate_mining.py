from __future__ import annotations

import numpy as np
import pytest

from catalog import read_linear_head, linear_head_onnx
from warehouse.errors import InvalidInputError
from warehouse.framepool import FramePool, RetainedFrame
from warehouse.retraining.dataset import HELDOUT, TRAIN, LabeledDataset
from warehouse.retraining.gate import gate
from warehouse.retraining.labeling import GroundTruthLabeler
from warehouse.retraining.mining import MiningRegistry, mine


@pytest.mark.parametrize(
    "cand, prod, fixed, total, passed",
    [
        (0.90, 0.85, 1, 1, True),  # better and fixes the mistake
        (0.84, 0.85, 1, 1, True),  # within the allowed 0.02 drop
        (0.80, 0.85, 1, 1, False),  # loses held-out F1
        (0.95, 0.85, 0, 2, False),  # better on held-out but does not fix the mistakes
        (0.70, None, 1, 2, True),  # first version: only the mistakes count
    ],
)
def test_gate(cand, prod, fixed, total, passed):
    d = gate(candidate_f1=cand, production_f1=prod, mistakes_fixed=fixed, mistakes_total=total)
    assert d.passed is passed and str(d).startswith("PASS" if passed else "FAIL")


def _pool(n=40, dim=8, seed=0):
    rng = np.random.default_rng(seed)
    pool = FramePool("sqlite://")
    centers = {"fire": rng.normal(size=dim) * 4, "none": rng.normal(size=dim) * 4}
    for i in range(n):
        kind = "fire" if i % 4 == 0 else "none"
        pool.add(RetainedFrame(f"f{i}", "cam", i, i, (centers[kind] + rng.normal(size=dim) * 0.3).astype(np.float32),
                               truth=("fire",) if kind == "fire" else ()))
    return pool


def test_similar_mining_finds_frames_like_the_mistake():
    pool = _pool()
    got = mine(pool, MiningRegistry(), {"similar": 5}, miss_frames=["f0"], head=None, threshold=0.5, exclude={"f0"})
    # f0 is a fire frame: its nearest neighbours are the other fire frames (every 4th)
    assert all(int(f[1:]) % 4 == 0 for f in got["similar"]) and "f0" not in got["similar"]


def test_uncertain_mining_picks_frames_near_threshold():
    pool = _pool()
    w = np.zeros((8, 1), np.float32)
    w[0, 0] = 1.0
    head = read_linear_head(linear_head_onnx(w, np.zeros(1, np.float32), labels=["fire"]))
    got = mine(pool, MiningRegistry(), {"uncertain": 3}, miss_frames=[], head=head, threshold=0.5, exclude=set())["uncertain"]
    _, m = pool.matrix()
    margins = np.abs(head.scores(m)[:, 0] - 0.5)
    assert sorted(margins)[2] >= max(margins[[int(f[1:]) for f in got]]) - 1e-6


def test_unknown_strategy_lists_valid_names():
    with pytest.raises(InvalidInputError, match="similar"):
        MiningRegistry().get("random")


def test_ground_truth_labeler_refuses_unlabeled_frames():
    pool = _pool(4)
    pool.add(RetainedFrame("real-1", "cam", 99, 99, np.zeros(8, np.float32), truth=None))
    lab = GroundTruthLabeler(pool)
    assert lab.label(["f0", "f1"], event_type="fire") == {"f0": True, "f1": False}
    with pytest.raises(InvalidInputError, match="real-1"):
        lab.label(["real-1"], event_type="fire")


def test_dataset_roundtrip_and_extension():
    ds = LabeledDataset(np.eye(3, dtype=np.float32), np.array([1, 0, 0], np.int8), ("a", "b", "c"), np.array([TRAIN, TRAIN, HELDOUT], np.int8))
    back = LabeledDataset.from_bytes(ds.to_bytes())
    assert back.sample_ids == ds.sample_ids and np.array_equal(back.embeddings, ds.embeddings)
    ext = ds.extended(np.ones((2, 3), np.float32), np.array([1, 1]), ["c", "d"])
    assert ext.sample_ids == ("a", "b", "c", "d") and ext.stats()["train"] == 3
    with pytest.raises(InvalidInputError, match="duplicate"):
        LabeledDataset(np.eye(2, dtype=np.float32), np.zeros(2, np.int8), ("a", "a"), np.zeros(2, np.int8))


def test_pool_trims_oldest_per_camera():
    pool = FramePool("sqlite://", max_frames_per_camera=3)
    for i in range(5):
        pool.add(RetainedFrame(f"f{i}", "cam", i, i, np.zeros(2, np.float32)))
    assert [f.frame_id for f in pool.frames(camera_id="cam")] == ["f2", "f3", "f4"]
    with pytest.raises(InvalidInputError, match="f0"):
        pool.get("f0")
