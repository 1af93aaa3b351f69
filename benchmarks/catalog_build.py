"""Catalog build benchmark: train and register the synthetic scene heads, one per (scene, event).

Each scene's pool of synthetic frames is rendered and embedded once (cached, content-keyed)
and shared by all heads of that scene; held-out metrics are on frames with seeds disjoint
from training. Heads also train on real negatives and composites (package pictures; vtest
frames 0-264 when fetched) and their thresholds are calibrated for a false-alarm budget per
camera-hour on vtest frames 265-397 (issue 15; ``--no-real`` for the synthetic-only build).
Frames 398-794 are never read here. A second build with the same cache measures the cache.

    .venv/bin/python -m benchmarks.catalog_build            # 40 heads (3 scenes)
    .venv/bin/python -m benchmarks.catalog_build --full     # all 308 heads (16 scenes)
    .venv/bin/python -m benchmarks.catalog_build --full --home var/bench --cache-dir var/cache

Only the synthetic scene heads are built here; the real detectors (OCR, faces, people) are
registered by their own module. Prints one JSON object as its last line.
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import tempfile
import time
from pathlib import Path

from catalog import ArtifactStore, Catalog, load_taxonomy
from warehouse.training.backbone_export import ensure_backbone_onnx
from warehouse.training.scene_heads import build_catalog
from warehouse.training.synthetic_pool import PoolConfig

SMALL_SCENES = ("construction_site", "intersection", "building_lobby")
SMALL_ALGORITHMS = 40


def _pairs(full: bool) -> list[tuple[str, str]]:
    pairs = load_taxonomy().scene_event_pairs()
    if full:
        return pairs
    return [p for p in pairs if p[0] in SMALL_SCENES][:SMALL_ALGORITHMS]


def _vtest() -> Path | None:
    import subprocess

    try:
        out = subprocess.run(["bash", str(Path(__file__).resolve().parent.parent / "scripts" / "fetch_vtest.sh")], check=True,
                             capture_output=True, text=True)  # fmt: skip
    except (OSError, subprocess.CalledProcessError) as exc:
        logging.warning("vtest.avi unavailable (%s); real negatives from package pictures only", exc)
        return None
    return Path(out.stdout.strip().splitlines()[-1])


def run(*, full: bool, home: Path, cache_dir: Path, per_event: int, n_empty: int, second_run: bool, real: bool = True) -> dict:
    from runtime import Backbone
    from warehouse.training.real_pool import RealConfig

    load_start = os.getloadavg()
    backbone_path = ensure_backbone_onnx(cache_dir)
    backbone = Backbone.load(backbone_path)
    sha = backbone.info.weights_sha256 + ":" + backbone_path.name
    config = PoolConfig(per_event=per_event, n_empty=n_empty)
    pairs = _pairs(full)
    vtest = _vtest() if real else None

    def one_build(sub: str):
        root = home / sub
        root.mkdir(parents=True, exist_ok=True)
        store = ArtifactStore(root / "artifacts")
        cat = Catalog.open(f"sqlite:///{(root / 'catalog.db').resolve()}", store=store)
        try:
            return build_catalog(cat, store, pairs=pairs, backbone=backbone, backbone_sha=sha, cache_dir=cache_dir, config=config,
                                 real=RealConfig() if real else None, vtest=vtest)  # fmt: skip
        finally:
            cat.close()

    first = one_build("build1")
    out = {"benchmark": "catalog_build", "mode": "full" if full else "small", **first.summary()}
    out["per_event"], out["n_empty"] = per_event, n_empty
    out["worst"] = sorted(((r.algorithm_id, round(r.test_metrics["f1"], 3)) for r in first.results), key=lambda t: t[1])[:8]
    if second_run:
        second = one_build("build2")
        s2 = second.summary()
        out["second_run"] = {"seconds": s2["seconds"], "cache_hit_rate": s2["cache_hit_rate"], "embed_seconds": s2["embed_seconds"],
                             "f1_median": s2["f1_median"]}  # fmt: skip
    out["cpu_count"] = os.cpu_count()
    out["loadavg_1m_start_end"] = [round(load_start[0], 2), round(os.getloadavg()[0], 2)]
    return out


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--full", action="store_true", help="all 308 (scene, event) heads")
    ap.add_argument("--home", type=Path, default=None, help="where the catalog DB and artifacts go (default: a temp dir)")
    ap.add_argument("--cache-dir", type=Path, default=None, help="backbone + embedding cache (default: <home>/cache)")
    ap.add_argument("--per-event", type=int, default=48, help="pool frames per event of a scene")
    ap.add_argument("--n-empty", type=int, default=48, help="pool frames with no event, per scene")
    ap.add_argument("--no-second-run", action="store_true", help="skip the cached second build")
    ap.add_argument("--no-real", action="store_true", help="synthetic frames only (the build before issue 15)")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    with tempfile.TemporaryDirectory(prefix="catalog-build-") as td:
        home = args.home or Path(td)
        cache_dir = args.cache_dir or home / "cache"
        t0 = time.perf_counter()
        out = run(full=args.full, home=home, cache_dir=cache_dir, per_event=args.per_event, n_empty=args.n_empty,
                  second_run=not args.no_second_run, real=not args.no_real)  # fmt: skip
        out["total_seconds"] = round(time.perf_counter() - t0, 2)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
