"""Scene heads on real footage: false alarms per camera-hour on vtest's held-out half.

vtest.avi (Debian opencv-doc; 768x576, 10 fps, 795 frames; a campus road and lawn where no
city event happens) is the camera. Frames used where:

* 0-264: training negatives and composite backgrounds for the robust heads;
* 265-397: validation and threshold calibration; with 0-397, the frames the flywheel
  camera plays (its alerts are rejected and mined) and the frames scene discovery looks at;
* 398-794: **held out** -- only measured here, never trained, calibrated or mined on.

Heads are built into a fresh catalog (``warehouse.training.build_catalog``), the camera's
scene is discovered from frames 0-351 by the control plane's discovery
(``warehouse.control.CameraDiscovery`` on ``knowledge_graph.SceneDiscovery``), and the graph
(``CityGraph.from_catalog``) selects its heads (union over the hours of a day). Every
production head then runs over frames 398-794 through the runtime's backbone, head bank
(catalog thresholds) and event logic; every alert is a false alarm.

    .venv/bin/python -m benchmarks.head_false_alarms              # discovered scene + 2 more scenes
    .venv/bin/python -m benchmarks.head_false_alarms --full       # all 308 heads
    .venv/bin/python -m benchmarks.head_false_alarms --flywheel   # + rejected alerts -> RetrainingLoop.handle, per cycle

``synthetic_only`` in the output is the same build without real frames (the heads as they
were before issue 15). Every head runs with the event rule the control plane gives it: its
persistence window from the catalog's event taxonomy (``catalog.event_persistence``;
docs/event-logic.md), ``--frames-rule`` for the fallback, 2 of 3 frames. ``alert_delay``:
the time from a synthetic event's start to its head's alert, on synthetic cameras at
``DELAY_FPS`` (up to ``--delay-events`` events of each scene), under the head's window and
under 2 of 3 frames. Prints one JSON object as its last line.
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import subprocess
import tempfile
import time
from datetime import datetime
from pathlib import Path

import numpy as np

SMALL_EXTRA_SCENES = ("intersection", "construction_site")
CAMERA_ID = "vtest"
CAMERA_REGION = "university"  # a campus road
DISCOVERY_FRAMES, DISCOVERY_STRIDE = 10, 39  # frames 0..351: the training half only
DELAY_FPS, DELAY_EVENT_S, DELAY_GAP_S = 5.0, 8.0, 4.0  # synthetic cameras for the time to alert


def fetch_vtest() -> Path:
    repo = Path(__file__).resolve().parent.parent
    out = subprocess.run(["bash", str(repo / "scripts" / "fetch_vtest.sh")], check=True, capture_output=True, text=True)
    return Path(out.stdout.strip().splitlines()[-1])


def discover(vtest: Path, cache_dir: Path, backbone_path: Path):
    """The control plane's scene discovery (``warehouse.control.CameraDiscovery``, on
    ``knowledge_graph.SceneDiscovery``) on frames 0, 39, ..., 351 of the camera: training half only."""
    from warehouse.control import CameraDiscovery

    return CameraDiscovery(backbone_path, cache_dir, frames=DISCOVERY_FRAMES, stride=DISCOVERY_STRIDE).discover(CAMERA_ID, str(vtest), {})


def selected_heads(cat, scenes: dict[str, float], heads: set[str]) -> list[str]:
    """Heads the graph runs on the vtest camera at any hour of a day (it is a union of hourly selections)."""
    from knowledge_graph import CityGraph

    graph = CityGraph.from_catalog(cat)
    graph.add_camera(CAMERA_ID, region=CAMERA_REGION, scenes=scenes, reason="discovered on vtest frames 0-397")
    chosen: set[str] = set()
    for hour in range(0, 24, 3):
        chosen |= set(graph.relevance(CAMERA_ID, at=datetime(2026, 6, 1, hour, 30)).algorithm_ids())
    return sorted(chosen & heads)


def production_heads(cat, ids, *, frames_rule: bool = False) -> dict:
    """The production heads with the event rule the control plane runs them with
    (``warehouse.control.desired.head_persistence`` = ``catalog.event_persistence``)."""
    from catalog import event_persistence
    from warehouse.training.false_alarms import HeadUnderTest

    out = {}
    for aid in ids:
        v = cat.production_version(aid)
        if v is not None:
            spec = cat.get_algorithm(aid)
            p = event_persistence(spec.event_types, postprocess=spec.postprocess)
            window = (None, 0.8) if frames_rule else (p.window_s, p.share)
            out[aid] = HeadUnderTest.from_version(cat.load_artifact(aid, v.number), v.metrics, version=f"{aid}@{v.number}", window=window)
    return out


def alert_delay(heads: dict, backbone, *, events_per_scene: int, seed: int = 11) -> dict:
    """Seconds from a synthetic event's start to its head's alert, on one synthetic camera per
    scene at ``DELAY_FPS`` showing up to ``events_per_scene`` of its events for ``DELAY_EVENT_S``
    each (``DELAY_GAP_S`` apart), under each head's window and under 2 of 3 frames."""
    import dataclasses

    from catalog import parse_algorithm_id
    from catalog.synthetic import ScheduledEvent, SyntheticCamera
    from warehouse.training.false_alarms import measure_false_alarms

    by_scene: dict[str, list[str]] = {}
    for a in sorted(heads):
        by_scene.setdefault(parse_algorithm_id(a).scene, []).append(a)
    ev_n, gap = int(DELAY_EVENT_S * DELAY_FPS), int(DELAY_GAP_S * DELAY_FPS)
    rows = []
    for si, (scene, ids) in enumerate(sorted(by_scene.items())):
        ids = ids[:events_per_scene]
        sched = [ScheduledEvent(parse_algorithm_id(a).event, gap + i * (ev_n + gap), gap + i * (ev_n + gap) + ev_n) for i, a in enumerate(ids)]
        cam = SyntheticCamera(scene, seed + si, DELAY_FPS, "day", sched)
        imgs = [cam.frame(i)[0] for i in range(sched[-1].end_frame + gap)]
        _, emb = backbone.embed_frames(imgs)
        sub = {a: heads[a] for a in ids}
        rules = {"window": sub, "frames": {a: dataclasses.replace(h, window_s=None, k=2, n=3) for a, h in sub.items()}}
        got = {r: measure_false_alarms(hs, emb, fps=DELAY_FPS, images=imgs, camera_id=f"syn-{scene}").alert_frames for r, hs in rules.items()}
        for a, ev in zip(ids, sched):
            first = {r: min([f for f in got[r][a] if ev.start_frame <= f < ev.end_frame], default=None) for r in rules}
            rows.append({"head": a, "window_s": heads[a].window_s,
                         **{r: (None if f is None else (f - ev.start_frame) / DELAY_FPS) for r, f in first.items()}})
    both = [r for r in rows if r["window"] is not None and r["frames"] is not None]
    extra = [r["window"] - r["frames"] for r in both]

    def stats(v: list[float]) -> dict:
        return {"median": round(float(np.median(v)), 2), "p90": round(float(np.percentile(v, 90)), 2), "max": round(float(max(v)), 2)} if v else {}

    return {"fps": DELAY_FPS, "event_s": DELAY_EVENT_S, "events": len(rows),
            "alerted_share_window": round(sum(r["window"] is not None for r in rows) / max(1, len(rows)), 4),
            "alerted_share_frames_2_of_3": round(sum(r["frames"] is not None for r in rows) / max(1, len(rows)), 4),
            "delay_s_window": stats([r["window"] for r in rows if r["window"] is not None]),
            "delay_s_frames_2_of_3": stats([r["frames"] for r in rows if r["frames"] is not None]),
            "extra_delay_s": stats(extra),
            "extra_delay_within_window": all(x <= (r["window_s"] or 0.0) + 1.0 / DELAY_FPS + 1e-9 for x, r in zip(extra, both)),
            "missed_window_only": [r["head"] for r in rows if r["window"] is None and r["frames"] is not None]}


def _variant(name: str, *, home: Path, pairs, backbone, sha: str, cache_dir: Path, config, real: bool, scenes: dict, emb_held, images_held,
             frames_rule: bool = False, delay_events: int = 0):
    from catalog import ArtifactStore, Catalog
    from warehouse.training import CalibrationConfig, RealConfig, build_catalog
    from warehouse.training.false_alarms import measure_false_alarms
    from warehouse.training.real_frames import VTEST_FPS, VTEST_HELDOUT

    root = home / name
    root.mkdir(parents=True, exist_ok=True)
    store = ArtifactStore(root / "artifacts")
    cat = Catalog.open(f"sqlite:///{(root / 'catalog.db').resolve()}", store=store)
    try:
        t = time.perf_counter()
        cal = CalibrationConfig(persistence="frames" if frames_rule else "event")  # calibrated through the rule it runs with
        report = build_catalog(cat, store, pairs=pairs, backbone=backbone, backbone_sha=sha, cache_dir=cache_dir, config=config,
                               real=RealConfig() if real else None, calibration=cal)  # fmt: skip
        build_s = time.perf_counter() - t
        ids = [f"scene.{s}.{e}" for s, e in pairs]
        heads = production_heads(cat, ids, frames_rule=frames_rule)
        sel = selected_heads(cat, scenes, set(heads))
        rep = measure_false_alarms(heads, emb_held, fps=VTEST_FPS, images=images_held, frame_indices=list(VTEST_HELDOUT), camera_id=CAMERA_ID)
        t = time.perf_counter()
        delay = alert_delay(heads, backbone, events_per_scene=delay_events) if delay_events else None
        delay_s = time.perf_counter() - t
    finally:
        cat.close()
    f1 = report.f1s()
    return {
        "false_alarms_per_hour_selected": round(rep.per_hour(sel), 2),
        "false_alarms_per_hour_all": round(rep.per_hour(), 2),
        "alerts_selected": sum(rep.alerts[a] for a in sel),
        "alerts_all": sum(rep.alerts.values()),
        "heads_over_threshold_any_frame": rep.heads_over_threshold_any_frame,
        "heads_over_threshold_any_frame_selected": sum(1 for a in sel if rep.frames_over[a]),
        "model_estimate_per_hour_selected": round(rep.expected(sel), 4),
        "model_estimate_per_hour_all": round(rep.expected(), 4),
        "heldout_f1_share_ge_0_8": round(float((f1 >= 0.8).mean()), 4) if len(f1) else None,
        "heads": len(report.results),
        "production_heads": len(heads),
        "selected": sel,
        "worst": rep.worst(6),
        "event_rule": "2 of 3 frames" if frames_rule else "per-event persistence window (catalog taxonomy)",
        "windows": {f"{w:g}s": sum(1 for h in heads.values() if h.window_s == w) for w in sorted({h.window_s for h in heads.values() if h.window_s})},
        "alert_delay": delay,
        "alert_delay_seconds": round(delay_s, 1),
        "build_seconds": round(build_s, 1),
        "build": {k: v for k, v in report.summary().items() if k in ("frac_f1_ge_0_8_uncalibrated", "threshold_raised", "composite_f1_median",
                                                                     "real_rows", "real_seconds", "f1_median", "f1_p10")},  # fmt: skip
    }, heads, sel, report


def run(*, full: bool, home: Path, cache_dir: Path, per_event: int, n_empty: int, baseline: bool, flywheel: int,
        flywheel_direct: bool = False, frames_rule: bool = False, delay_events: int = 4) -> dict:
    from catalog import load_taxonomy
    from runtime import Backbone
    from warehouse.training import EmbeddingCache, PoolConfig
    from warehouse.training.backbone_export import ensure_backbone_onnx
    from warehouse.training.real_frames import VTEST_FPS, VTEST_HELDOUT, VTEST_TRAIN, embed_video_frames, read_video_frames

    vtest = fetch_vtest()
    path = ensure_backbone_onnx(cache_dir)
    bb = Backbone.load(path, intra_op_threads=1)
    sha = bb.info.weights_sha256 + ":" + path.name
    cache = EmbeddingCache(cache_dir)
    t = time.perf_counter()
    _, emb_tr = embed_video_frames(vtest, VTEST_TRAIN, bb, cache, backbone_sha=sha, purpose="train")
    _, emb_held = embed_video_frames(vtest, VTEST_HELDOUT, bb, cache, backbone_sha=sha, purpose="measure")
    images_held = read_video_frames(vtest, VTEST_HELDOUT, purpose="measure")
    embed_s = time.perf_counter() - t
    est = discover(vtest, cache_dir, path)
    scenes = dict(est.scenes)
    pairs = load_taxonomy().scene_event_pairs()
    if not full:
        keep = set(scenes) | set(SMALL_EXTRA_SCENES)
        pairs = [p for p in pairs if p[0] in keep]
    config = PoolConfig(per_event=per_event, n_empty=n_empty)
    common = dict(home=home, pairs=pairs, backbone=bb, sha=sha, cache_dir=cache_dir, config=config, scenes=scenes, emb_held=emb_held,
                  images_held=images_held, frames_rule=frames_rule)  # fmt: skip
    robust, *_ = _variant("robust", real=True, delay_events=delay_events, **common)
    out = {"benchmark": "head_false_alarms", "mode": "full" if full else "small"}
    out.update({k: robust[k] for k in ("false_alarms_per_hour_selected", "false_alarms_per_hour_all", "heads_over_threshold_any_frame",
                                       "heldout_f1_share_ge_0_8", "event_rule")})  # fmt: skip
    out["frames_train"] = (f"vtest {VTEST_TRAIN.start}-{VTEST_TRAIN.stop - 1} (0-264 train heads, 265-397 validate + calibrate; "
                           f"the flywheel camera plays 0-397; discovery reads every {DISCOVERY_STRIDE}th of 0-{(DISCOVERY_FRAMES - 1) * DISCOVERY_STRIDE})")
    out["frames_heldout"] = f"vtest {VTEST_HELDOUT.start}-{VTEST_HELDOUT.stop - 1} ({len(VTEST_HELDOUT)} frames, {len(VTEST_HELDOUT) / VTEST_FPS:.1f} s; measured only)"
    out["one_alert_per_hour"] = round(3600.0 / (len(VTEST_HELDOUT) / VTEST_FPS), 1)  # the resolution of a count on 39.7 s
    out["discovery"] = {"primary": est.primary, "needs_review": est.needs_review, "frames": est.frames,
                        "links": {s: round(c, 3) for s, c in scenes.items()}}  # fmt: skip
    out["robust"] = robust
    if baseline or flywheel:
        base, base_heads, base_sel, base_report = _variant("synthetic_only", real=False, **common)
        out["synthetic_only"] = base
        if flywheel:
            out["flywheel"] = _flywheel(base_heads, base_sel, base_report, cache=cache, bb=bb, sha=sha, config=config, emb_tr=emb_tr,
                                        emb_held=emb_held, cycles=flywheel, direct=flywheel_direct)  # fmt: skip
    out["embed_vtest_seconds"] = round(embed_s, 2)
    return out


def _flywheel(heads, selected, report, *, cache, bb, sha, config, emb_tr, emb_held, cycles: int, direct: bool = False) -> dict:
    """The flywheel on the camera through ``RetrainingLoop.handle`` (``direct``: mining, labeler and
    trainer called directly, the issue-15 first version)."""
    from warehouse.training.camera_flywheel import run_camera_flywheel
    from warehouse.training.camera_loop import run_camera_flywheel_loop
    from warehouse.training.real_frames import VTEST_FPS, VTEST_HELDOUT, VTEST_TRAIN
    from warehouse.training.synthetic_pool import build_scene_pool

    t = time.perf_counter()
    scenes = sorted({r.scene for r in report.results})
    pools = {s: build_scene_pool(s, bb, cache, config, backbone_sha=sha) for s in scenes}
    f1 = {r.algorithm_id: float(r.test_metrics["f1"]) for r in report.results}
    run_fw = run_camera_flywheel if direct else run_camera_flywheel_loop
    cyc = run_fw(heads, pools, train_embeddings=emb_tr, train_frame_indices=list(VTEST_TRAIN), heldout_embeddings=emb_held,
                              heldout_frame_indices=list(VTEST_HELDOUT), selected=selected, fps=VTEST_FPS, cycles=cycles,
                              initial_f1={a: f1[a] for a in heads}, camera_id=CAMERA_ID)  # fmt: skip
    return {"start": "synthetic_only heads", "path": "direct (mining + labeler + train_heads)" if direct else "RetrainingLoop.handle",
            "camera_frames": f"vtest {VTEST_TRAIN.start}-{VTEST_TRAIN.stop - 1}",
            "measured_on": f"vtest {VTEST_HELDOUT.start}-{VTEST_HELDOUT.stop - 1}", "cycles": [c.as_dict() for c in cyc],
            "seconds": round(time.perf_counter() - t, 1)}  # fmt: skip


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--full", action="store_true", help="all 308 (scene, event) heads")
    ap.add_argument("--flywheel", type=int, nargs="?", const=4, default=0, metavar="CYCLES",
                    help="also run the flywheel on the vtest camera from the synthetic-only heads (default 4 cycles)")
    ap.add_argument("--flywheel-direct", action="store_true",
                    help="the flywheel without RetrainingLoop.handle (mining, labeler and trainer called directly)")
    ap.add_argument("--no-baseline", action="store_true", help="skip the synthetic-only build (the heads before issue 15)")
    ap.add_argument("--frames-rule", action="store_true",
                    help="calibrate and run every head with the fallback rule, 2 of 3 frames, instead of its persistence window")
    ap.add_argument("--delay-events", type=int, default=4, help="synthetic events per scene for the time to alert (0: skip)")
    ap.add_argument("--home", type=Path, default=None, help="where the catalogs go (default: a temp dir)")
    ap.add_argument("--cache-dir", type=Path, default=None, help="backbone + embedding cache (default: $WAREHOUSE_CACHE_DIR or var/cache)")
    ap.add_argument("--per-event", type=int, default=48, help="synthetic pool frames per event of a scene")
    ap.add_argument("--n-empty", type=int, default=48, help="synthetic pool frames with no event, per scene")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    cache_dir = args.cache_dir or Path(os.environ.get("WAREHOUSE_CACHE_DIR") or "var/cache")
    with tempfile.TemporaryDirectory(prefix="head-false-alarms-") as td:
        home = args.home or Path(td)
        t0 = time.perf_counter()
        out = run(full=args.full, home=home, cache_dir=cache_dir, per_event=args.per_event, n_empty=args.n_empty,
                  baseline=not args.no_baseline, flywheel=args.flywheel, flywheel_direct=args.flywheel_direct,
                  frames_rule=args.frames_rule, delay_events=args.delay_events)  # fmt: skip
        out["total_seconds"] = round(time.perf_counter() - t0, 1)
        out["cpu_count"], out["loadavg_1m_end"] = os.cpu_count(), round(os.getloadavg()[0], 2)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
