"""Scene pools: the frame plan, disjoint splits, and pair datasets (with a pixel embedder)."""
from __future__ import annotations

import cv2
import numpy as np
import pytest

from warehouse.training.embedding_cache import EmbeddingCache
from warehouse.training.synthetic_pool import PoolConfig, build_scene_pool, plan_scene_pool, scene_events

CFG = PoolConfig(per_event=10, n_empty=10, size_hw=(120, 200), chunk_frames=64)


class PixelEmbedder:
    """A real (if weak) embedder: 8x8 thumbnails; counts calls so cache reuse is visible."""

    def __init__(self):
        self.frames = 0

    def embed_frames(self, frames, *, batch_size=32):
        self.frames += len(frames)
        emb = np.stack([cv2.resize(f, (8, 8), interpolation=cv2.INTER_AREA).ravel() for f in frames]).astype(np.float32)
        return np.zeros((len(frames), 1000), np.float32), emb


def test_plan_is_deterministic_with_disjoint_split_seeds():
    a, b = plan_scene_pool("tunnel", CFG), plan_scene_pool("tunnel", CFG)
    assert a == b
    seeds = {s: {r.seed for r in a if r.split == s} for s in ("train", "val", "test")}
    assert not (seeds["train"] & seeds["val"]) and not (seeds["train"] & seeds["test"]) and not (seeds["val"] & seeds["test"])
    assert len({r.seed for r in a}) == len(a)


@pytest.mark.parametrize("split", ["train", "val", "test"])
def test_every_event_has_positives_in_every_split(split):
    recipes = plan_scene_pool("seafront", CFG)
    for e in scene_events("seafront"):
        assert any(e in r.events and r.split == split for r in recipes), e


def test_pools_of_other_scenes_use_other_seeds():
    a = {r.seed for r in plan_scene_pool("road", CFG)}
    b = {r.seed for r in plan_scene_pool("park", CFG)}
    assert not a & b


def test_build_pool_caches_and_labels_pairs(tmp_path):
    emb = PixelEmbedder()
    cache = EmbeddingCache(tmp_path)
    pool = build_scene_pool("construction_site", emb, cache, CFG, backbone_sha="pixels")
    n = len(plan_scene_pool("construction_site", CFG))
    assert pool.embeddings.shape == (n, 192) and emb.frames == n
    again = build_scene_pool("construction_site", emb, cache, CFG, backbone_sha="pixels")
    assert emb.frames == n and cache.hits == again.stats["chunks"]  # second build embeds nothing
    np.testing.assert_array_equal(again.embeddings, pool.embeddings)
    ds = pool.pair_dataset("fire")
    recipes = plan_scene_pool("construction_site", CFG)
    expected_pos = sum("fire" in r.events for r in recipes if r.split == "train")
    assert ds.y["train"].sum() == expected_pos
    with pytest.raises(KeyError, match="boat_in_restricted_zone"):
        pool.pair_dataset("boat_in_restricted_zone")
