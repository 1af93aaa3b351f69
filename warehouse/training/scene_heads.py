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

from catalog import AlgorithmSpec, ArtifactStore, Catalog, ModelVersion, Stage, load_taxonomy, read_linear_head, scene_head_id
from catalog.synthetic import generator_fingerprint
from warehouse.training.calibration import CalibrationConfig, CalibrationError
from warehouse.training.embedding_cache import EmbeddingCache
from warehouse.training.heads import C_GRID, evaluate_head, train_heads
from warehouse.training.real_pool import RealConfig, RealPool, build_real_pool
from warehouse.training.synthetic_pool import EmbedsFrames, PoolConfig, ScenePool, build_scene_pool

log = logging.getLogger(__name__)

OWNER = "synthetic-scene-heads"
PROMOTE_MIN_F1 = 0.8
# a weaker regularisation joins the grid when real rows are in the training set: measured on 49
# heads (road, intersection, construction_site) it kept one more head at held-out F1 >= 0.8
ROBUST_C_GRID = (0.02, 0.2, 1.0)


def algorithm_id(scene: str, event: str) -> str:
    return scene_head_id(scene, event)


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
    calibration: dict = field(default_factory=dict)  # calibration_* and composite_* metrics (floats); empty when not calibrated

    @property
    def algorithm_id(self) -> str:
        return algorithm_id(self.scene, self.event)


def train_scene_heads(pool: ScenePool, events: Sequence[str], *, seed: int = 0, real: RealPool | None = None,
                      calibration: CalibrationConfig | None = None, c_grid: tuple[float, ...] = C_GRID) -> list[HeadResult]:  # fmt: skip
    """Train the heads for ``events`` of ``pool.scene`` (pure: returns records, writes nothing).

    ``real``: real negatives and composites to train and validate on beside the synthetic pool
    (its train rows join training, its val rows validation; its test composites give
    ``composite_*`` metrics). ``calibration``: raise each threshold for a false-alarm budget
    per camera-hour on ``real``'s calibration stream and validation pictures (needs ``real``).
    Held-out synthetic metrics are always on the synthetic test split, at the final threshold.
    """
    if calibration is not None and real is None:
        raise CalibrationError("calibration needs real negative frames; pass real=build_real_pool(...) or calibration=None")
    cols = [pool.events.index(e) for e in events]
    tr, va, te = (pool.splits == s for s in ("train", "val", "test"))
    x_tr, y_tr = pool.embeddings[tr], pool.labels[tr][:, cols]
    x_va, y_va = pool.embeddings[va], pool.labels[va][:, cols]
    if real is not None:
        xr, yr, sr, comp = real.rows_for(list(events))
        x_tr, y_tr = np.concatenate([x_tr, xr[sr == "train"]]), np.concatenate([y_tr, yr[sr == "train"]])
        x_va, y_va = np.concatenate([x_va, xr[sr == "val"]]), np.concatenate([y_va, yr[sr == "val"]])
        stills = real.embeddings[[i for i, r in enumerate(real.recipes) if r.kind == "negative" and r.split == "val" and r.source == "picture"]]
    heads = train_heads(x_tr, y_tr, labels=list(events), validation=(x_va, y_va), seed=seed, c_grid=c_grid)
    out = []
    for j, (event, head) in enumerate(zip(events, heads)):
        threshold, cal = head.threshold, {}
        if calibration is not None and real is not None:
            lh = read_linear_head(head.onnx_bytes)
            c = calibration.calibrate([lh.scores(x)[:, 0] for x in real.calibration_streams()], fps=real.calibration_fps,
                                      threshold_f1=head.threshold, stills=lh.scores(stills)[:, 0] if len(stills) else None,
                                      event_types=(event,))  # fmt: skip
            threshold, cal = c.threshold, c.as_metrics()
        test = evaluate_head(head.onnx_bytes, pool.embeddings[te], pool.labels[te][:, cols[j]], threshold)
        if cal:
            cal["f1_uncalibrated"] = float(evaluate_head(head.onnx_bytes, pool.embeddings[te], pool.labels[te][:, cols[j]], head.threshold)["f1"])
        if real is not None:
            m = (sr == "test") & comp
            if yr[m][:, j].sum():
                cm = evaluate_head(head.onnx_bytes, xr[m], yr[m][:, j], threshold)
                cal.update({"composite_f1": cm["f1"], "composite_recall": cm["recall"], "composite_test_pos": float(cm["n_pos"])})
            neg_te = real.negatives("test")
            if len(neg_te):
                cal["real_test_negatives_over_threshold"] = float((read_linear_head(head.onnx_bytes).scores(neg_te)[:, 0] >= threshold).sum())
        stats = {split: {"pos": int(pool.labels[m][:, cols[j]].sum()), "n": int(m.sum())} for split, m in (("train", tr), ("val", va), ("test", te))}
        if real is not None:
            stats["real"] = {split: {"pos": int(yr[sr == split][:, j].sum()), "n": int((sr == split).sum())} for split in ("train", "val", "test")}
        out.append(HeadResult(pool.scene, event, head.onnx_bytes, threshold, head.metrics, test,
                              (int(pool.seeds.min()), int(pool.seeds.max())), stats, cal))  # fmt: skip
    return out


def register_heads(cat: Catalog, store: ArtifactStore, results: Iterable[HeadResult], *, pool_config: PoolConfig,
                   promote_min_f1: float = PROMOTE_MIN_F1, cost_profiles: dict | None = None,
                   real_provenance: dict | None = None) -> list[ModelVersion]:  # fmt: skip
    """Register each head (spec, dataset version, training run, version; promote if good enough).

    ``cost_profiles`` (algorithm id -> ``catalog.CostProfile``) are the heads' measured marginal
    costs in the fused head bank; the shared backbone pass is profiled once, separately.
    ``real_provenance`` (:func:`real_provenance`): which real frames trained, validated and
    calibrated the heads; it goes to the dataset version. A head's calibration (threshold,
    budget, frames used) is in its version's metrics (``threshold``, ``calibration_*``).
    """
    versions = []
    fp = generator_fingerprint()
    for r in results:
        aid = r.algorithm_id
        try:
            cat.register_algorithm(head_spec(r.scene, r.event))
            sha = store.put_bytes(r.onnx_bytes, suffix=".onnx")
            lo, hi = r.train_seed_range
            stats = {"generator": "catalog.synthetic", "generator_fingerprint": fp, "pool": pool_config.as_recipe_key(), "splits": r.dataset_stats}
            sample_ids = [f"synthetic:{r.scene}:seeds:{lo}-{hi}"]
            if real_provenance:
                stats["real"] = real_provenance
                sample_ids += list(real_provenance.get("sample_ids", ()))
            ds = cat.record_dataset_version(aid, sample_ids=sample_ids, stats=stats)
            run = cat.record_training_run(
                aid, dataset_version_id=ds, params={"trainer": "warehouse.training.heads.train_heads", "C": r.val_metrics.get("C"), "seed": r.val_metrics.get("seed", 0)},
                metrics={k: float(v) for k, v in r.val_metrics.items() if isinstance(v, (int, float))},
            )  # fmt: skip
            metrics = {k: float(r.test_metrics[k]) for k in ("precision", "recall", "f1", "threshold")}
            metrics.update({"val_f1": float(r.val_metrics["val_f1"]), "test_pos": float(r.test_metrics["n_pos"]), "test_neg": float(r.test_metrics["n_neg"])})
            metrics.update({k: float(v) for k, v in r.calibration.items()})
            note = "synthetic scene head; metrics are on held-out synthetic frames (disjoint seeds)"
            if "calibration_budget_per_hour" in r.calibration:
                note += (f"; trained with real negatives and composites; threshold calibrated for "
                         f"{r.calibration['calibration_budget_per_hour']:g} false alarms per camera-hour on real frames")  # fmt: skip
            v = cat.add_version(aid, artifact_sha256=sha, metrics=metrics, stage=Stage.CANDIDATE, dataset_version_id=ds, training_run_id=run,
                                cost_profile=(cost_profiles or {}).get(aid), notes=note)  # fmt: skip
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


def real_provenance(real: RealPool) -> dict:
    """Which real frames a build used, for the dataset version (JSON-able)."""
    from warehouse.training.real_frames import PICTURE_SPLITS, VTEST_CALIBRATE, VTEST_FIT, VTEST_HELDOUT

    vt = real.stats.get("vtest_sha256")
    ids = [f"pictures:{s}:{','.join(n)}" for s, n in PICTURE_SPLITS.items()]
    out = {"pictures": {s: list(n) for s, n in PICTURE_SPLITS.items()}, "negatives": real.stats.get("negatives"),
           "composites": real.stats.get("composites"), "rows": real.stats.get("rows")}  # fmt: skip
    if vt:
        out.update({"vtest_sha256": vt, "vtest_train_frames": f"{VTEST_FIT.start}-{VTEST_FIT.stop - 1}",
                    "vtest_calibration_frames": f"{VTEST_CALIBRATE.start}-{VTEST_CALIBRATE.stop - 1}",
                    "vtest_heldout_frames_unused": f"{VTEST_HELDOUT.start}-{VTEST_HELDOUT.stop - 1}"})  # fmt: skip
        ids += [f"vtest:{vt[:12]}:frames:{VTEST_FIT.start}-{VTEST_FIT.stop - 1}", f"vtest:{vt[:12]}:frames:{VTEST_CALIBRATE.start}-{VTEST_CALIBRATE.stop - 1}"]
    clips = real.stats.get("opencv_doc_clips") or {}
    if clips:  # opencv-doc's extras: photos (negatives by split) and clips (validation + calibration streams)
        from warehouse.training.real_frames import OPENCV_DOC_PICTURE_SPLITS

        out.update({"opencv_doc_pictures": {s: list(n) for s, n in OPENCV_DOC_PICTURE_SPLITS.items()},
                    "opencv_doc_clips": {n: f"frames 0-{a - 1} train, {a}-{k - 1} validate + calibrate, at {real.stats.get('clip_fps')} fps"
                                         for n, (a, k) in clips.items()}})
        ids += [f"opencv-doc:pictures:{s}:{','.join(n)}" for s, n in OPENCV_DOC_PICTURE_SPLITS.items()]
        ids += [f"opencv-doc:clip:{n}:frames:0-{k - 1}" for n, (_, k) in clips.items()]
    out["sample_ids"] = ids
    return out


def _find_extras(vtest: Path | None, real: RealConfig) -> Path | None:
    """opencv-doc's extras next to vtest.avi (``<dir>/opencv-doc``) when the build uses vtest and
    ``real.opencv_doc``; missing ones are an error naming the fetch (they are part of the build)."""
    from warehouse.training.real_frames import opencv_doc_dir

    if vtest is None or not real.opencv_doc:
        return None
    return opencv_doc_dir(Path(vtest).parent / "opencv-doc")


def _find_vtest(vtest: str | Path | None, cache_dir: str | Path) -> Path | None:
    from warehouse.training.real_frames import RealFramesError, vtest_path

    if vtest != "auto":
        return Path(vtest) if vtest is not None else None
    for root in (cache_dir, None):  # the build's cache, then fetch_vtest.sh's default ($WAREHOUSE_CACHE_DIR or var/cache)
        try:
            return vtest_path(root)
        except RealFramesError:
            pass
    log.warning("vtest.avi is not under %s/real: training scene heads on package pictures only as real negatives "
                "(run `bash scripts/fetch_vtest.sh` for the real camera)", cache_dir)  # fmt: skip
    return None


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
    real_seconds: float = 0.0
    real_stats: dict = field(default_factory=dict)

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
            **self._real_summary(),
        }

    def _real_summary(self) -> dict:
        cal = [r.calibration for r in self.results if "calibration_budget_per_hour" in r.calibration]
        if not self.real_stats:
            return {"real_negatives": False}
        out = {"real_negatives": True, "real_seconds": round(self.real_seconds, 2), "real_rows": self.real_stats.get("rows"),
               "real_embed_seconds": round(self.real_stats.get("embed_s", 0.0), 2), "vtest": bool(self.real_stats.get("vtest_sha256"))}  # fmt: skip
        if cal:
            unc = np.array([c["f1_uncalibrated"] for c in cal])
            out.update({"calibrated": len(cal), "calibration_budget_per_hour": cal[0]["calibration_budget_per_hour"],
                        "frac_f1_ge_0_8_uncalibrated": round(float((unc >= 0.8).mean()), 4),
                        "threshold_raised": sum(1 for r in self.results if r.threshold > r.calibration.get("calibration_threshold_f1", 1.0) + 1e-9)})  # fmt: skip
        comp = [r.calibration["composite_f1"] for r in self.results if "composite_f1" in r.calibration]
        if comp:
            out["composite_f1_median"] = round(float(np.median(comp)), 4)
        return out


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
    real: RealConfig | None = RealConfig(),
    vtest: str | Path | None = "auto",
    calibration: CalibrationConfig | None = CalibrationConfig(),
    c_grid: tuple[float, ...] | None = None,
) -> BuildReport:
    """Train (and, given a catalog, register) the heads for ``pairs``; one pool per scene.

    By default heads train with real negatives and composites (``real``; one real pool for
    all scenes) and their thresholds are calibrated for a false-alarm budget (``calibration``).
    ``vtest``: path of vtest.avi, ``"auto"`` (``<cache_dir>/real/vtest.avi`` if fetched, else
    pictures only) or ``None``. ``real=None`` trains on synthetic frames alone (the old build).
    ``c_grid``: regularisation values tried per head (default :data:`ROBUST_C_GRID` with real
    rows, the trainer's own grid without).
    """
    t0 = time.perf_counter()
    cache = EmbeddingCache(cache_dir)
    by_scene: dict[str, list[str]] = defaultdict(list)
    for s, e in pairs:
        by_scene[s].append(e)
    real_pool, real_s, provenance = None, 0.0, None
    if real is not None:
        t = time.perf_counter()
        vt = _find_vtest(vtest, cache_dir)
        real_pool = build_real_pool(sorted({e for _, e in pairs}), backbone, cache, real, backbone_sha=backbone_sha,
                                    vtest=vt, extras=_find_extras(vt, real))  # fmt: skip
        real_s = time.perf_counter() - t
        provenance = real_provenance(real_pool)
    cal = calibration if real_pool is not None else None
    grid = c_grid or (ROBUST_C_GRID if real_pool is not None else C_GRID)
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
        res = train_scene_heads(pool, events, seed=seed, real=real_pool, calibration=cal, c_grid=grid)
        train_s += time.perf_counter() - t
        results.extend(res)
        if cat is not None and store is not None:
            t = time.perf_counter()
            versions.extend(register_heads(cat, store, res, pool_config=config, promote_min_f1=promote_min_f1,
                                           cost_profiles=_head_costs(res), real_provenance=provenance))
            reg_s += time.perf_counter() - t
        log.info("scene %s: %d heads, median f1 %.3f", scene, len(res), float(np.median([r.test_metrics["f1"] for r in res])))
    return BuildReport(results, versions, time.perf_counter() - t0, pool_s, render_s, embed_s, train_s, reg_s, cache.hits, cache.misses,
                       frames, real_s, dict(real_pool.stats) if real_pool is not None else {})  # fmt: skip
