from __future__ import annotations

import numpy as np
import pytest

from warehouse.errors import InvalidInputError
from warehouse.framepool import EmbeddingIndex, FramePool, RetainedFrame
from warehouse.retraining.labeling import GroundTruthLabeler, SimulatedLabeler
from warehouse.retraining.mining import ArrayPool, MiningRegistry, MiningRequest, select_batch
from warehouse.retraining.simulation import rare_event_pool


def _pool(n=40, dim=8, seed=0):
    rng = np.random.default_rng(seed)
    pool = FramePool("sqlite://")
    centers = {"fire": rng.normal(size=dim) * 4, "none": rng.normal(size=dim) * 4}
    for i in range(n):
        kind = "fire" if i % 4 == 0 else "none"
        pool.add(RetainedFrame(f"f{i}", "cam", i, i, (centers[kind] + rng.normal(size=dim) * 0.3).astype(np.float32),
                               truth=("fire",) if kind == "fire" else ()))
    return pool


def test_index_is_kept_in_step_with_the_pool_incrementally():
    pool = FramePool("sqlite://", max_frames_per_camera=30)
    pool.add(*[RetainedFrame(f"a{i}", "cam", i, i, np.eye(8, dtype=np.float32)[i % 8]) for i in range(10)])
    ix = pool.index()
    assert len(ix) == 10
    pool.add(*[RetainedFrame(f"b{i}", "cam", 10 + i, 10 + i, np.eye(8, dtype=np.float32)[i % 8]) for i in range(25)])
    assert pool.index() is ix and len(ix) == 30  # the 5 oldest were trimmed and left the index
    assert "a0" not in ix and "b24" in ix
    # a second process writes to the same database: the next index() call picks its rows up
    other = FramePool.__new__(FramePool)
    other.engine, other.max_frames_per_camera, other._index = pool.engine, 1000, None
    import threading
    other._index_lock = threading.Lock()
    other.add(RetainedFrame("c0", "cam2", 0, 0, np.ones(8, np.float32)))
    assert "c0" in pool.index()
    hits = ix.search(np.ones((1, 8), np.float32), k=1)[0]
    assert hits[0][0] == "c0"


def test_index_search_skips_removed_and_excluded_and_rebuilds():
    ix = EmbeddingIndex(4, rebuild_dead_fraction=0.5)
    rng = np.random.default_rng(1)
    ix.add([f"x{i}" for i in range(20)], rng.normal(size=(20, 4)).astype(np.float32))
    q = ix.vectors(["x3"])
    assert ix.search(q, k=1)[0][0][0] == "x3"
    assert "x3" not in [f for f, _ in ix.search(q, k=5, exclude={"x3"})[0]]
    ix.remove([f"x{i}" for i in range(12)])  # > half dead: rebuilt without tombstones
    assert len(ix) == 8 and all(int(f[1:]) >= 12 for f, _ in ix.search(q, k=8)[0])
    with pytest.raises(InvalidInputError, match="dimension 3"):
        ix.add(["bad"], np.zeros((1, 3), np.float32))


def test_seals_mining_finds_frames_like_the_mistake_and_scans_only_candidates():
    pool = _pool()
    got = MiningRegistry().get("seals").mine(pool, MiningRequest(queries=("f0",), labeled=frozenset({"f0"}), score=None,
                                                                 budget=5, k_per_query=8, quotas=(("similar", 1.0),)))
    assert all(int(f[1:]) % 4 == 0 for f in got.selected) and "f0" not in got.selected
    assert got.scanned == 8 and got.pool_size == 40 and got.scanned_fraction == pytest.approx(0.2)


def test_seals_refuses_queries_not_in_the_pool():
    with pytest.raises(InvalidInputError, match="frame_ref"):
        MiningRegistry().get("seals").mine(_pool(), MiningRequest(queries=("nope",), labeled=frozenset(), score=None))


@pytest.mark.parametrize(
    "quotas, expect",
    [
        ((("likely", 1.0),), ["c", "b"]),  # highest scores first
        ((("uncertain", 1.0),), ["a", "b"]),  # closest to the 0.5 threshold first
        ((("similar", 1.0),), ["d", "a"]),  # most similar to a mistake first
    ],
)
def test_select_batch_rankings(quotas, expect):
    u = np.eye(4, dtype=np.float32)
    got, why = select_batch(["a", "b", "c", "d"], u, np.array([0.5, 0.8, 0.95, 0.1]), np.array([0.8, 0.1, 0.2, 0.9]),
                            threshold=0.5, budget=2, quotas=quotas, dup_cosine=0.99)
    assert got == expect and why == [quotas[0][0]] * 2


def test_select_batch_skips_near_duplicates():
    u = np.array([[1, 0], [1, 0], [0, 1]], np.float32)  # a and b are the same frame
    got, _ = select_batch(["a", "b", "c"], u, np.array([0.9, 0.89, 0.1]), np.zeros(3), threshold=0.5, budget=2,
                          quotas=(("likely", 1.0),), dup_cosine=0.99)
    assert got == ["a", "c"]


def test_seals_beats_random_on_a_rare_event():
    sp = rare_event_pool(4000, positive_rate=0.005, seed=3)
    pool = ArrayPool(sp.frame_ids, sp.embeddings)
    pos = [f for f, y in zip(sp.frame_ids, sp.labels) if y]
    found = {}
    for name in ("seals", "random"):
        lab = SimulatedLabeler(sp.truth())
        r = MiningRegistry().get(name).mine(pool, MiningRequest(queries=tuple(pos[:3]), labeled=frozenset(pos[:3]),
                                                                 score=None, budget=60, k_per_query=40, seed=1))
        found[name] = sum(lab.label(list(r.selected), event_type="e").values())
        assert lab.labels_given == len(r.selected)
    assert found["seals"] >= 5 > found["random"]  # 17 hidden positives; random expects 0.3


def test_unknown_strategy_lists_valid_names():
    with pytest.raises(InvalidInputError, match="seals"):
        MiningRegistry().get("nearest")


def test_ground_truth_labeler_refuses_unlabeled_frames():
    pool = _pool(4)
    pool.add(RetainedFrame("real-1", "cam", 99, 99, np.zeros(8, np.float32), truth=None))
    lab = GroundTruthLabeler(pool)
    assert lab.label(["f0", "f1"], event_type="fire") == {"f0": True, "f1": False}
    assert lab.labels_given == 2
    with pytest.raises(InvalidInputError, match="real-1"):
        lab.label(["real-1"], event_type="fire")


from hypothesis import given, settings
from hypothesis import strategies as st


@settings(max_examples=60, deadline=None)
@given(n=st.integers(0, 40), budget=st.integers(0, 50), seed=st.integers(0, 10_000),
       w=st.lists(st.floats(0.01, 1.0), min_size=1, max_size=3))
def test_select_batch_invariants(n, budget, seed, w):
    """Whatever the scores: picks are distinct candidates, at most the budget, one reason each,
    and no two picks are near-copies."""
    rng = np.random.default_rng(seed)
    u = rng.normal(size=(n, 6)).astype(np.float32)
    u /= np.linalg.norm(u, axis=1, keepdims=True) + 1e-9
    if n > 3:
        u[1] = u[0]  # one exact duplicate
    names = ("likely", "uncertain", "similar")
    quotas = tuple((names[i], x) for i, x in enumerate(w))
    ids = [f"c{i}" for i in range(n)]
    got, why = select_batch(ids, u, rng.random(n), rng.random(n), threshold=0.5, budget=budget, quotas=quotas, dup_cosine=0.999)
    assert len(got) == len(set(got)) == len(why) <= min(budget, n)
    assert set(got) <= set(ids) and set(why) <= {q for q, _ in quotas}
    idx = [ids.index(g) for g in got]
    sims = u[idx] @ u[idx].T - np.eye(len(idx)) * 2
    assert len(idx) < 2 or sims.max() <= 0.999 + 1e-6
    if n > 3 and budget >= n:
        assert not {"c0", "c1"} <= set(got)
