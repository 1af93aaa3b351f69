"""EmbeddingCache: content keys, round trip, atomic writes, corrupt entries."""
from __future__ import annotations

import numpy as np

from warehouse.training.embedding_cache import EmbeddingCache


def test_round_trip_and_hit_rate(tmp_path):
    cache = EmbeddingCache(tmp_path)
    key = cache.key_for_recipe(backbone_sha="b1", recipe={"scene": "road", "seeds": [1, 2]})
    assert cache.load(key) is None
    emb = np.arange(12, dtype=np.float32).reshape(3, 4)
    path = cache.save(key, embedding=emb)
    assert path.parent == tmp_path / "embeddings" and path.suffix == ".npz"
    np.testing.assert_array_equal(cache.load(key)["embedding"], emb)
    assert (cache.hits, cache.misses, cache.hit_rate) == (1, 1, 0.5)
    assert [p.name for p in (tmp_path / "embeddings").iterdir()] == [path.name]  # no temp files left


def test_keys_depend_on_content():
    k = EmbeddingCache.key_for_recipe
    assert k(backbone_sha="a", recipe={"s": 1}) != k(backbone_sha="b", recipe={"s": 1})
    assert k(backbone_sha="a", recipe={"s": 1}) != k(backbone_sha="a", recipe={"s": 2})
    img = np.zeros((4, 4, 3), np.uint8)
    img2 = img.copy()
    img2[0, 0, 0] = 1
    ki = EmbeddingCache.key_for_images
    assert ki(backbone_sha="a", images=[img]) == ki(backbone_sha="a", images=[img.copy()])
    assert ki(backbone_sha="a", images=[img]) != ki(backbone_sha="a", images=[img2])


def test_corrupt_entry_is_a_miss(tmp_path):
    cache = EmbeddingCache(tmp_path)
    (tmp_path / "embeddings").mkdir()
    cache.path("r-bad").write_bytes(b"not a zip")
    assert cache.load("r-bad") is None and cache.misses == 1
