"""Camera-centred index, the round's ranker, and the search along its direction."""
from __future__ import annotations

import numpy as np
import pytest

from warehouse.errors import InvalidInputError
from warehouse.framepool import EmbeddingIndex, FramePool, RetainedFrame
from warehouse.retraining.mining import ArrayPool, MiningRegistry, MiningRequest
from warehouse.retraining.ranker import fit_ranker
from warehouse.retraining.simulation import rare_event_pool


def _unit(x):
    return x / np.linalg.norm(x, axis=-1, keepdims=True)


def test_centred_index_indexes_each_frame_minus_its_cameras_mean():
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(20, 6)) + 5, rng.normal(size=(12, 6)) - 5
    ix = EmbeddingIndex(6, centred=True)
    ix.add([f"a{i}" for i in range(20)] + [f"b{i}" for i in range(12)], np.concatenate([a, b]), cameras=["A"] * 20 + ["B"] * 12)
    np.testing.assert_allclose(ix.vectors(["a3", "b7"]), _unit(np.stack([a[3] - a.mean(0), b[7] - b.mean(0)])), atol=1e-5)


def test_centred_index_recentres_a_camera_as_it_fills():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(32, 4)) + 3
    ix = EmbeddingIndex(4, centred=True)
    ix.add([f"f{i}" for i in range(8)], x[:8], cameras=["cam"] * 8)
    np.testing.assert_allclose(ix.vectors(["f0"])[0], _unit(x[0] - x[:8].mean(0)), atol=1e-5)
    ix.add([f"f{i}" for i in range(8, 32)], x[8:], cameras=["cam"] * 24)  # the camera's count doubled: its mean is re-fixed
    np.testing.assert_allclose(ix.vectors(["f0", "f31"]), _unit(np.stack([x[0], x[31]]) - x.mean(0)), atol=1e-5)
    assert len(ix) == 32 and sorted(ix.ids()) == sorted(f"f{i}" for i in range(32))  # re-inserted once, not duplicated
    assert ix.search(ix.vectors(["f5"]), k=1)[0][0][0] == "f5"


def test_centred_index_needs_cameras_and_a_small_camera_is_not_centred():
    ix = EmbeddingIndex(3, centred=True)
    with pytest.raises(InvalidInputError, match="cameras="):
        ix.add(["x"], np.ones((1, 3), np.float32))
    ix.add(["x"], np.array([[3, 0, 0]], np.float32), cameras=["lonely"])  # one frame: its own mean would leave nothing
    np.testing.assert_allclose(ix.vectors(["x"])[0], [1, 0, 0], atol=1e-6)


def test_frame_pool_index_is_centred_by_camera_id():
    pool = FramePool("sqlite://")
    rng = np.random.default_rng(2)
    x = rng.normal(size=(10, 5)).astype(np.float32) + 4
    pool.add(*[RetainedFrame(f"c:{i}", "c", i, i, x[i]) for i in range(10)])
    ix = pool.index()
    assert ix.centred
    np.testing.assert_allclose(ix.vectors(["c:4"])[0], _unit(x[4] - x.mean(0)), atol=1e-5)


def test_sample_is_seeded_and_skips_excluded():
    ix = EmbeddingIndex(2)
    ix.add([f"s{i}" for i in range(50)], np.random.default_rng(0).normal(size=(50, 2)).astype(np.float32))
    got = ix.sample(10, seed=3, exclude={"s0", "s1"})
    assert got == ix.sample(10, seed=3, exclude={"s0", "s1"}) and len(set(got)) == 10 and not {"s0", "s1"} & set(got)


def test_ranker_refuses_one_class():
    with pytest.raises(InvalidInputError, match="both labels"):
        fit_ranker(np.eye(3, dtype=np.float32), np.ones(3))


def test_ranker_direction_reaches_an_appearance_no_query_shows():
    """Queries show one appearance of the event; neighbours alone never reach the other two, the
    search along the ranker's direction (what all appearances share) does, and the background it
    reads counts as scanned."""
    sp = rare_event_pool(6000, positive_rate=0.01, n_modes=3, n_contexts=30, seed=2)
    seeds = [f for f, y, m in zip(sp.frame_ids, sp.labels, sp.modes) if y and m == 0][:3]
    others = {f for f, y, m in zip(sp.frame_ids, sp.labels, sp.modes) if y and m != 0}
    pool = ArrayPool(sp.frame_ids, sp.embeddings, cameras=[f"cam{c}" for c in sp.contexts])
    found = {}
    for with_labels in (False, True):
        r = MiningRegistry().get("seals").mine(pool, MiningRequest(
            queries=tuple(seeds), labeled=frozenset(seeds), score=None, budget=60, k_per_query=20, seed=1,
            labels={s: 1 for s in seeds} if with_labels else None))
        found[with_labels] = len(set(r.selected) & others)
        if with_labels:
            assert r.stats["ranker"] and r.stats["background"] == 256 and r.scanned >= 256 + 60
            assert not set(r.selected) & set(seeds)
    assert found[False] == 0 and found[True] >= 8  # measured 17 of 41


def test_rebuild_after_removals_centres_by_the_mean_of_what_is_left():
    rng = np.random.default_rng(4)
    x = rng.normal(size=(20, 4)) + 2
    x[10:] += 3  # the camera's later frames look different (the light changed)
    ix = EmbeddingIndex(4, centred=True)
    ix.add([f"f{i}" for i in range(20)], x, cameras=["cam"] * 20)
    ix.remove([f"f{i}" for i in range(10)])  # half dead: rebuilt
    assert len(ix) == 10 and "f3" not in ix
    np.testing.assert_allclose(ix.vectors(["f12"])[0], _unit(x[12] - x[10:].mean(0)), atol=1e-5)


@pytest.mark.parametrize(
    "misses, expect",
    [
        ([{"frame_ref": "c:1", "kind": "missed_event"}], {"c:1": 1}),  # a missed event: the ranker's positive
        ([{"frame_ref": "c:2", "kind": "false_alarm"}], {"c:2": 0}),  # a false alarm: its negative
        ([{"frame_ref": "c:3", "kind": "other"}], {}),  # a kind that says nothing about the label
        ([{"frame_ref": "gone:9", "kind": "missed_event"}], {}),  # a frame the pool no longer holds
    ],
)
def test_the_loop_passes_the_reported_labels_to_mining(misses, expect):
    from warehouse.retraining.loop import _reported_labels

    assert _reported_labels(misses, ["c:1", "c:2", "c:3"]) == expect
