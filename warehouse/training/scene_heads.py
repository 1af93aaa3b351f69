"""Train the scene heads (one per allowed (scene, event) pair) and register them in the catalog.

Pure part: :func:`train_scene_heads` turns a scene's embedded pool into :class:`HeadResult`
records (artifact bytes, threshold, validation and held-out metrics). Stateful part:
:func:`register_heads` writes specs, dataset versions, training runs and versions, and
promotes a version to production when its held-out F1 clears ``promote_min_f1``.
:func:`build_catalog` does both for a list of pairs, reusing one pool per scene.

>>> algorithm_id("seafront", "boat_in_restricted_zone")
'scene.seafront.boat_in_restricted_zone'
"""
from __future__ import annotations

import logging
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

from catalog import AlgorithmSpec, ArtifactStore, Catalog, ModelVersion, Stage, load_taxonomy
from catalog.synthetic import generator_fingerprint
from warehouse.training.embedding_cache import EmbeddingCache
from warehouse.training.heads import evaluate_head, train_heads
from warehouse.training.synthetic_pool import EmbedsFrames, PoolConfig, ScenePool, build_scene_pool

log = logging.getLogger(__name__)

OWNER = "synthetic-scene-heads"
PROMOTE_MIN_F1 = 0.8


def algorithm_id(scene: str, event: str) -> str:
    return f"scene.{scene}.{event}"


def head_spec(scene: str, event: str, *, embedding_dim: int = 1280) -> AlgorithmSpec:
    """The catalog contract of the head for (scene, event); identical on every build."""
    tax = load_taxonomy()
    sc, ev = tax.require_scene(scene), tax.require_event(event)
    return AlgorithmSpec(
        id=algorithm_id(scene, event),
        name=f"{ev.name} ({sc.name})",
        description=f"Linear head on the shared MobileNetV2 embedding: is there '{ev.name}' in this {sc.name.lower()} frame?",
        event_types=(event,),
        scene_tags=(scene,),
        kind="classification_head",
        input_spec={"input": "embedding", "embedding_dim": embedding_dim, "backbone": "mobilenet_v2"},
        preprocess={"backbone_input_hw": [224, 224], "color": "RGB", "normalize": "imagenet"},
        postprocess={"activation": "sigmoid", "threshold_metric": "threshold"},
        labels=(event,),
        owner=OWNER,
    )


@dataclass(frozen=True, slots=True)
class HeadResult:
    scene: str
    event: str
    onnx_bytes: bytes
    threshold: float
    val_metrics: dict
    test_metrics: dict
    train_seed_range: tuple[int, int]
    dataset_stats: dict = field(default_factory=dict)

    @property
    def algorithm_id(self) -> str:
        return algorithm_id(self.scene, self.event)


def train_scene_heads(pool: ScenePool, events: Sequence[str], *, seed: int = 0) -> list[HeadResult]:
    """Train the heads for ``events`` of ``pool.scene`` (pure: returns records, writes nothing)."""
    cols = [pool.events.index(e) for e in events]
    tr, va, te = (pool.splits == s for s in ("train", "val", "test"))
    heads = train_heads(pool.embeddings[tr], pool.labels[tr][:, cols], labels=list(events),
                        validation=(pool.embeddings[va], pool.labels[va][:, cols]), seed=seed)  # fmt: skip
    out = []
    for j, (event, head) in enumerate(zip(events, heads)):
        test = evaluate_head(head.onnx_bytes, pool.embeddings[te], pool.labels[te][:, cols[j]], head.threshold)
        stats = {split: {"pos": int(pool.labels[m][:, cols[j]].sum()), "n": int(m.sum())} for split, m in (("train", tr), ("val", va), ("test", te))}
        out.append(HeadResult(pool.scene, event, head.onnx_bytes, head.threshold, head.metrics, test,
                              (int(pool.seeds.min()), int(pool.seeds.max())), stats))  # fmt: skip
    return out


def register_heads(cat: Catalog, store: ArtifactStore, results: Iterable[HeadResult], *, pool_config: PoolConfig,
                   promote_min_f1: float = PROMOTE_MIN_F1, cost_profiles: dict | None = None) -> list[ModelVersion]:  # fmt: skip
    """Register each head (spec, dataset version, training run, version; promote if good enough).

    ``cost_profiles`` (algorithm id -> ``catalog.CostProfile``) are the heads' measured marginal
    costs in the fused head bank; the shared backbone pass is profiled once, separately.
    """
    versions = []
    fp = generator_fingerprint()
    for r in results:
        aid = r.algorithm_id
        try:
            cat.register_algorithm(head_spec(r.scene, r.event))
            sha = store.put_bytes(r.onnx_bytes, suffix=".onnx")
            lo, hi = r.train_seed_range
            ds = cat.record_dataset_version(
                aid,
                sample_ids=[f"synthetic:{r.scene}:seeds:{lo}-{hi}"],
                stats={"generator": "catalog.synthetic", "generator_fingerprint": fp, "pool": pool_config.as_recipe_key(), "splits": r.dataset_stats},
            )
            run = cat.record_training_run(
                aid, dataset_version_id=ds, params={"trainer": "warehouse.training.heads.train_heads", "C": r.val_metrics.get("C"), "seed": r.val_metrics.get("seed", 0)},
                metrics={k: float(v) for k, v in r.val_metrics.items() if isinstance(v, (int, float))},
            )  # fmt: skip
            metrics = {k: float(r.test_metrics[k]) for k in ("precision", "recall", "f1", "threshold")}
            metrics.update({"val_f1": float(r.val_metrics["val_f1"]), "test_pos": float(r.test_metrics["n_pos"]), "test_neg": float(r.test_metrics["n_neg"])})
            v = cat.add_version(aid, artifact_sha256=sha, metrics=metrics, stage=Stage.CANDIDATE, dataset_version_id=ds, training_run_id=run,
                                cost_profile=(cost_profiles or {}).get(aid),
                                notes="synthetic scene head; metrics are on held-out synthetic frames (disjoint seeds)")  # fmt: skip
            if metrics["f1"] >= promote_min_f1:
                v = cat.promote(aid, v.number, to=Stage.PRODUCTION)
            versions.append(v)
        except Exception:  # one head's failure must not sink the catalog build: log with ids, carry on
            log.exception("registering head %s failed", aid)
    return versions


def _head_costs(results: list[HeadResult]) -> dict:
    """Each head's measured share of the fused head bank (time per frame and batch, memory)."""
    from runtime import HeadBank, profile_head_bank

    try:
        bank = HeadBank({r.algorithm_id: r.onnx_bytes for r in results})
        return profile_head_bank(bank, batch_sizes=(1, 8, 32), repeats=3)
    except Exception:  # a profile is an annotation: never fail the build for it
        log.exception("profiling %d heads failed; registering them without cost profiles", len(results))
        return {}


@dataclass(frozen=True)
class BuildReport:
    results: list[HeadResult]
    versions: list[ModelVersion]
    seconds: float
    pool_seconds: float
    render_seconds: float
    embed_seconds: float
    train_seconds: float
    register_seconds: float
    cache_hits: int
    cache_misses: int
    frames: int

    def f1s(self) -> np.ndarray:
        return np.array([r.test_metrics["f1"] for r in self.results], np.float64)

    def summary(self) -> dict:
        f1 = self.f1s()
        hits, total = self.cache_hits, self.cache_hits + self.cache_misses
        return {
            "algorithms": len(self.results),
            "registered": len(self.versions),
            "production": sum(1 for v in self.versions if v.stage == Stage.PRODUCTION),
            "frames": self.frames,
            "seconds": round(self.seconds, 2),
            "pool_seconds": round(self.pool_seconds, 2),
            "render_seconds": round(self.render_seconds, 2),
            "embed_seconds": round(self.embed_seconds, 2),
            "train_seconds": round(self.train_seconds, 2),
            "register_seconds": round(self.register_seconds, 2),
            "f1_p10": round(float(np.percentile(f1, 10)), 4) if len(f1) else None,
            "f1_median": round(float(np.median(f1)), 4) if len(f1) else None,
            "f1_min": round(float(f1.min()), 4) if len(f1) else None,
            "frac_f1_ge_0_8": round(float((f1 >= 0.8).mean()), 4) if len(f1) else None,
            "cache_hit_rate": round(hits / total, 4) if total else 0.0,
        }


def build_catalog(
    cat: Catalog | None,
    store: ArtifactStore | None,
    *,
    pairs: Sequence[tuple[str, str]],
    backbone: EmbedsFrames,
    backbone_sha: str,
    cache_dir: str | Path,
    config: PoolConfig = PoolConfig(),
    seed: int = 0,
    promote_min_f1: float = PROMOTE_MIN_F1,
) -> BuildReport:
    """Train (and, given a catalog, register) the heads for ``pairs``; one pool per scene."""
    t0 = time.perf_counter()
    cache = EmbeddingCache(cache_dir)
    by_scene: dict[str, list[str]] = defaultdict(list)
    for s, e in pairs:
        by_scene[s].append(e)
    results: list[HeadResult] = []
    versions: list[ModelVersion] = []
    pool_s = render_s = embed_s = train_s = reg_s = 0.0
    frames = 0
    for scene, events in by_scene.items():
        t = time.perf_counter()
        pool = build_scene_pool(scene, backbone, cache, config, backbone_sha=backbone_sha)
        pool_s += time.perf_counter() - t
        render_s += pool.stats["render_s"]
        embed_s += pool.stats["embed_s"]
        frames += pool.stats["frames"]
        t = time.perf_counter()
        res = train_scene_heads(pool, events, seed=seed)
        train_s += time.perf_counter() - t
        results.extend(res)
        if cat is not None and store is not None:
            t = time.perf_counter()
            versions.extend(register_heads(cat, store, res, pool_config=config, promote_min_f1=promote_min_f1,
                                           cost_profiles=_head_costs(res)))
            reg_s += time.perf_counter() - t
        log.info("scene %s: %d heads, median f1 %.3f", scene, len(res), float(np.median([r.test_metrics["f1"] for r in res])))
    return BuildReport(results, versions, time.perf_counter() - t0, pool_s, render_s, embed_s, train_s, reg_s, cache.hits, cache.misses, frames)
