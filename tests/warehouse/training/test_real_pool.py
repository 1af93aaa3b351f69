"""The real pool: splits disjoint by source, labels by event, embedded once and cached."""
from __future__ import annotations

import numpy as np

from warehouse.training.embedding_cache import EmbeddingCache
from warehouse.training.real_frames import PICTURE_SPLITS, VTEST_CALIBRATE, VTEST_FIT
from warehouse.training.real_pool import RealConfig, build_real_pool, plan_real_pool


def test_splits_are_disjoint_by_source_and_never_touch_the_held_out_half():
    recipes = plan_real_pool(["smoke", "fire", "graffiti"], RealConfig())
    for r in recipes:
        if r.source == "picture":
            assert r.ref in PICTURE_SPLITS[r.split], r
        else:
            assert int(r.ref) in (VTEST_FIT if r.split == "train" else VTEST_CALIBRATE), r
            assert r.split != "test"  # vtest's test frames are its held-out half: not here
    comps = [r for r in recipes if r.kind == "composite"]
    assert {(r.event, r.split) for r in comps} == {(e, s) for e in ("smoke", "fire", "graffiti") for s in ("train", "val", "test")}
    assert [r for r in recipes if r.kind == "negative" and r.source == "vtest" and r.split == "val" and r.condition is None] != []


def test_opencv_doc_extras_come_after_the_other_negatives_and_split_by_source():
    from warehouse.training.real_frames import OPENCV_DOC_CLIPS, OPENCV_DOC_PICTURE_SPLITS, OPENCV_DOC_PREFIX, clip_halves

    base = plan_real_pool(["smoke"], RealConfig())
    more = plan_real_pool(["smoke"], RealConfig(), with_extras=True)
    assert plan_real_pool(["smoke"], RealConfig(opencv_doc=False), with_extras=True) == base
    extra = [r for r in more if r not in base]
    # appended after every other negative: the cached chunks of the old rows are reused
    n_neg = sum(1 for r in base if r.kind == "negative")
    assert more[:n_neg] == base[:n_neg] and more[n_neg + len(extra):] == base[n_neg:]
    for r in extra:
        assert r.kind == "negative" and r.event is None
        if r.source == "picture":
            assert r.ref.startswith(OPENCV_DOC_PREFIX) and r.ref[len(OPENCV_DOC_PREFIX):] in OPENCV_DOC_PICTURE_SPLITS[r.split]
        else:
            name, k = r.ref.rsplit(":", 1)
            fit, cal = clip_halves(name)
            assert r.source == "clip" and r.split == ("train" if int(k) in fit else "val")
    assert sum(r.source == "clip" for r in extra) == sum(OPENCV_DOC_CLIPS.values())


def test_an_extra_event_leaves_every_other_recipe_alone():
    # the cache is keyed by recipe: a catalog with one more event must reuse every other chunk
    a = plan_real_pool(["smoke"], RealConfig())
    b = plan_real_pool(["smoke", "fire"], RealConfig())
    assert [r for r in b if r.event != "fire"] == a


def test_built_pool_labels_rows_by_event_and_is_cached(tmp_path, backbone_path):
    from runtime import Backbone

    bb = Backbone.load(backbone_path, intra_op_threads=1)
    cfg = RealConfig(crops_per_picture=1, composites_per_event=3)
    cache = EmbeddingCache(tmp_path)
    pool = build_real_pool(["smoke", "litter"], bb, cache, cfg, backbone_sha="t", vtest=None)
    assert pool.embeddings.shape == (len(pool.recipes), 1280) and pool.calibration.shape == (0, 1280)
    x, y, split, comp = pool.rows_for(["litter"])
    assert len(x) == sum(1 for r in pool.recipes if r.kind == "negative" or r.event == "litter")
    assert y[:, 0].sum() == comp.sum() == 3 and set(split) == {"train", "val", "test"}
    misses = cache.misses
    again = build_real_pool(["smoke", "litter"], bb, cache, cfg, backbone_sha="t", vtest=None)
    assert cache.misses == misses and np.array_equal(again.embeddings, pool.embeddings)
