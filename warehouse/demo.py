"""``warehouse demo``: the whole loop once, on real parts, in under two minutes.

1. a synthetic road camera video is generated (OpenCV) with exact labels beside it;
2. the camera and one algorithm (``scene.road.standing_water``: backbone + a small head
   trained on synthetic frames) are registered; the head becomes version 1 in production;
3. the runtime runs the video in a Ray actor (change gate → backbone once per frame → head
   → k-of-n events) and publishes alerts on the bus;
4. an operator (simulated, reading the video's exact labels) confirms or rejects each
   alert through the operations API; a rejection becomes a miss event on the bus (if every
   alert was right, an event the runtime missed is reported instead);
5. the retraining loop consumes the miss events, mines similar and uncertain frames from
   the retained pool, labels them, trains, gates, and registers version 2 as a candidate
   with lineage back to the miss.

Version 1 is trained on road scenes that never show ice; the video shows standing water
and, later, ice on the road: the kind of look-alike that operators reject in a city.
"""
from __future__ import annotations

import json
import logging
import shutil
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from warehouse.errors import InvalidInputError

log = logging.getLogger(__name__)

SCENE, EVENT, LOOKALIKE = "road", "standing_water", "ice_on_road"
ALGORITHM_ID = f"scene.{SCENE}.{EVENT}"
CAMERA_ID = "demo-road-cam-01"
FPS = 5.0
SCHEDULE = ((EVENT, 20, 34), (LOOKALIKE, 50, 64), (EVENT, 80, 92))
N_FRAMES = 110


@dataclass(frozen=True, slots=True)
class DemoOptions:
    home: Path
    cache_dir: Path
    kafka: str | None = None
    ray_address: str | None = None
    video: Path | None = None
    seed: int = 7


def _validate(opts: DemoOptions) -> None:
    if opts.video is not None:
        if not opts.video.is_file():
            raise InvalidInputError(f"video {str(opts.video)!r} does not exist; pass an existing video file or drop --video "
                                    "to let the demo generate one")
        sidecar = opts.video.with_suffix(opts.video.suffix + ".labels.json")
        if not sidecar.is_file():
            raise InvalidInputError(f"video {str(opts.video)!r} has no exact labels beside it ({sidecar.name}); the demo's "
                                    "simulated operator and labeler need them. Generate a video with `warehouse demo` first")


def _open_bus(opts: DemoOptions, run_id: str):
    from warehouse.bus import open_bus

    if opts.kafka:
        # fails fast (seconds) with BusUnavailableError naming the address when nothing listens there
        return f"kafka://{opts.kafka}", f"demo-{run_id}.", open_bus(f"kafka://{opts.kafka}", topic_prefix=f"demo-{run_id}.")
    url = f"sqlite:///{(opts.home / 'bus.db').resolve()}"
    return url, "", open_bus(url)


def _training_set(backbone, seed: int):
    """Synthetic road frames: standing water vs clean roads and other road events (never ice)."""
    from catalog import load_taxonomy
    from catalog.synthetic import CONDITIONS, render_frame

    others = [e for e, ev in load_taxonomy().events.items() if SCENE in ev.scenes and e not in (EVENT, LOOKALIKE)]
    rng = np.random.default_rng(seed)
    frames, y, split, ids = [], [], [], []
    for i in range(96):
        pos = i % 2 == 0
        events = (EVENT,) if pos else (() if i % 4 == 1 else (str(rng.choice(others)),))
        cond = CONDITIONS[i % len(CONDITIONS)]
        frames.append(render_frame(SCENE, events=events, seed=seed * 1000 + i, condition=cond).image)
        y.append(1 if pos else 0)
        split.append(1 if i % 4 >= 2 and i >= 64 else 0)  # the last third is held out
        ids.append(f"synthetic:{SCENE}:{seed * 1000 + i}")
    _, emb = backbone.embed_frames(frames)
    return emb, np.array(y, np.int8), np.array(split, np.int8), ids


def _register_v1(catalog, store, backbone, seed: int) -> dict:
    from catalog import AlgorithmSpec, Stage
    from warehouse.retraining.dataset import HELDOUT, TRAIN, LabeledDataset
    from warehouse.training.heads import evaluate_head, train_head

    emb, y, split, ids = _training_set(backbone, seed)
    ds = LabeledDataset(emb.astype(np.float32), y, tuple(ids), split)
    catalog.register_algorithm(AlgorithmSpec(
        id=ALGORITHM_ID, name="Standing water on the road", description="Water pooling on a carriageway (flooding risk) — head on the shared backbone",
        event_types=(EVENT,), scene_tags=(SCENE,), kind="classification_head", labels=(EVENT,), owner="demo",
        input_spec={"embedding": [None, 1280]}, preprocess={"backbone": "mobilenet_v2-imagenet"}, postprocess={"activation": "sigmoid"},
    ))
    ds_id = catalog.record_dataset_version(ALGORITHM_ID, sample_ids=list(ids), artifact_sha256=store.put_bytes(ds.to_bytes(), suffix=".npz"),
                                           stats={**ds.stats(), "labeler": "synthetic-ground-truth"})
    Xtr, ytr = ds.part(TRAIN)
    Xho, yho = ds.part(HELDOUT)
    trained = train_head(Xtr, ytr, seed=seed, label=EVENT)
    metrics = {**evaluate_head(trained.onnx_bytes, Xho, yho, trained.threshold), "threshold": float(trained.threshold)}
    run_id = catalog.record_training_run(ALGORITHM_ID, dataset_version_id=ds_id, params={"trainer": "logistic-regression", "seed": seed}, metrics=metrics)
    v = catalog.add_version(ALGORITHM_ID, artifact_sha256=store.put_bytes(trained.onnx_bytes, suffix=".onnx"), metrics=metrics,
                            training_run_id=run_id, dataset_version_id=ds_id, stage=Stage.CANDIDATE, notes="demo v1")
    catalog.promote(ALGORITHM_ID, v.number, to=Stage.PRODUCTION)
    return {"version": v.number, "metrics": metrics}


def _write_video(opts: DemoOptions) -> Path:
    from catalog.synthetic import SyntheticCamera

    if opts.video is not None:
        return opts.video
    cam = SyntheticCamera(SCENE, seed=opts.seed + 100, fps=FPS, event_schedule=SCHEDULE)
    path = cam.write_video(opts.home / "road-cam.avi", N_FRAMES)
    truth = {str(i): list(cam.active_events(i)) for i in range(N_FRAMES)}
    path.with_suffix(path.suffix + ".labels.json").write_text(json.dumps(truth))
    return path


def run_demo(opts: DemoOptions) -> dict:
    t0 = time.perf_counter()
    _validate(opts)
    from catalog import ArtifactStore, Catalog
    from fastapi.testclient import TestClient

    from runtime import Backbone
    from warehouse.api import Services, create_app
    from warehouse.framepool import FramePool
    from warehouse.ops import OpsStore, StreamPolicy
    from warehouse.retraining.labeling import GroundTruthLabeler
    from warehouse.retraining.loop import RetrainingLoop
    from warehouse.training.backbone_export import ensure_backbone_onnx
    from warehouse.consumers import AlertSink, FeedbackRouter, RetrainingService

    run_id = uuid.uuid4().hex[:8]
    kafka_bus = _open_bus(opts, run_id) if opts.kafka else None  # an unreachable broker fails here, before any write
    backbone_path = ensure_backbone_onnx(opts.cache_dir)
    if opts.home.exists():
        # the demo's own state from an earlier run; a --video given inside it is kept
        keep = set()
        if opts.video is not None:
            keep = {opts.video.resolve(), opts.video.resolve().with_suffix(opts.video.suffix + ".labels.json")}
        for p in opts.home.iterdir():
            if p.resolve() not in keep:
                shutil.rmtree(p) if p.is_dir() else p.unlink()
    opts.home.mkdir(parents=True, exist_ok=True)
    bus_url, prefix, bus = kafka_bus or _open_bus(opts, run_id)
    store = ArtifactStore(str((opts.home / "artifacts").resolve()))
    catalog = Catalog.open(f"sqlite:///{(opts.home / 'catalog.db').resolve()}", store=store)
    # the demo's video is a local file: allow its folder as a stream root (the default policy refuses local files)
    roots = (opts.home,) + ((opts.video.parent,) if opts.video is not None else ())
    ops = OpsStore(f"sqlite:///{(opts.home / 'ops.db').resolve()}", stream_policy=StreamPolicy.from_env(extra_roots=roots))
    pool_url = f"sqlite:///{(opts.home / 'pool.db').resolve()}"
    pool = FramePool(pool_url)
    backbone = Backbone.load(backbone_path)
    timings = {}

    t = time.perf_counter()
    v1 = _register_v1(catalog, store, backbone, opts.seed)
    video = _write_video(opts)
    timings["train_v1_s"] = time.perf_counter() - t

    _, admin_key = ops.create_api_key(role="admin", name="demo-admin")
    _, operator_key = ops.create_api_key(role="operator", name="demo-operator")
    services = Services(ops=ops, bus=bus, catalog=catalog)
    client = TestClient(create_app(services))
    r = client.post("/cameras", json={"camera_id": CAMERA_ID, "region": "demo-district", "stream_url": str(video),
                                      "hints": {"scenes": [SCENE]}}, headers={"X-API-Key": admin_key})
    r.raise_for_status()

    # -- runtime, in a Ray actor ---------------------------------------------------------
    t = time.perf_counter()
    stats = _run_runtime(opts, catalog, backbone_path, video, bus_url, prefix, pool_url, store)
    timings["runtime_s"] = time.perf_counter() - t

    sink = AlertSink(bus, ops, hub=services.alert_hub)
    for _ in range(3):
        sink.run_once(timeout_s=1.0)
    truth = {int(k): v for k, v in json.loads(video.with_suffix(video.suffix + ".labels.json").read_text()).items()}

    # -- the operator -------------------------------------------------------------------
    alerts = client.get("/alerts", params={"camera_id": CAMERA_ID}, headers={"X-API-Key": operator_key}).json()
    rejected, confirmed = [], []
    for a in sorted(alerts, key=lambda a: a["ts_ms"]):
        right = EVENT in truth.get(int(a["frame_index"]), [])
        verdict = "confirm" if right else "reject"
        client.post(f"/alerts/{a['alert_id']}/feedback", json={"verdict": verdict, "note": "" if right else "ice, not standing water"},
                    headers={"X-API-Key": operator_key}).raise_for_status()
        (confirmed if right else rejected).append(a["alert_id"])
    reported = []
    if not rejected:
        reported = _report_a_miss(client, operator_key, truth, alerts)

    t = time.perf_counter()
    router = FeedbackRouter(bus)
    for _ in range(2):
        router.run_once(timeout_s=1.0)
    loop = RetrainingLoop(algorithm_id=ALGORITHM_ID, event_type=EVENT, catalog=catalog, store=store, pool=pool,
                          labeler=GroundTruthLabeler(pool), bus=bus, seed=opts.seed)
    retrain = RetrainingService(bus, loop_for=lambda a: loop if a == ALGORITHM_ID else None)
    results = []
    for _ in range(3):
        results += retrain.run_once(timeout_s=1.0)
        if results:
            break
    timings["retrain_s"] = time.perf_counter() - t
    new_versions = [{"algorithm_id": r.algorithm_id, "version": r.new_version, "metrics": r.metrics, "gate": str(r.decision),
                     "lineage": catalog.lineage(r.algorithm_id, r.new_version)} for r in results if r.new_version is not None]
    bus.close()
    catalog.close()
    return {
        "alerts": len(alerts),
        "confirmed": len(confirmed),
        "rejected": len(rejected),
        "reported_misses": len(reported),
        "miss_events": sum(len(r.miss_event_ids) for r in results),
        "new_versions": new_versions,
        "v1": v1,
        "retraining": [{"gate": str(r.decision), "mined": r.mined, "labeled_positive": r.labeled_positive,
                        "labeled_negative": r.labeled_negative, "metrics": r.metrics} for r in results],
        "runtime": stats,
        "bus": bus_url,
        "home": str(opts.home),
        "timings_s": {k: round(v, 2) for k, v in timings.items()},
        "seconds": round(time.perf_counter() - t0, 2),
    }


def _report_a_miss(client, key, truth: dict, alerts: list) -> list[str]:
    alerted = {int(a["frame_index"]) for a in alerts}
    for i in sorted(truth):
        if EVENT in truth[i] and i not in alerted:
            r = client.post("/misses", json={"camera_id": CAMERA_ID, "event_type": EVENT, "ts_ms": int(i * 1000 / FPS),
                                             "algorithm_id": ALGORITHM_ID, "frame_ref": f"{CAMERA_ID}:{i}", "note": "standing water not alerted"},
                            headers={"X-API-Key": key})
            r.raise_for_status()
            return [r.json()["event_id"]]
    return []


def _run_runtime(opts, catalog, backbone_path, video, bus_url, prefix, pool_url, store) -> dict:
    import ray

    from warehouse.pipeline import CameraPipeline, PipelineConfig

    prod = catalog.production_version(ALGORITHM_ID)
    cfg = PipelineConfig(
        camera_id=CAMERA_ID, source_url=str(video), backbone_path=str(backbone_path),
        heads={ALGORITHM_ID: catalog.load_artifact(ALGORITHM_ID, prod.number)}, versions={ALGORITHM_ID: str(prod.number)},
        thresholds={ALGORITHM_ID: float(prod.metrics["threshold"])}, bus_url=bus_url, pool_url=pool_url,
        artifact_root=store.url if hasattr(store, "url") else str(opts.home / "artifacts"),
        truth_path=str(video.with_suffix(video.suffix + ".labels.json")), topic_prefix=prefix,
        cooldown_s=5.0,  # the demo video is 22 s long; a city default is 30 s
    )
    started_here = not ray.is_initialized()
    if started_here:
        ray.init(address=opts.ray_address, include_dashboard=False, log_to_driver=False, logging_level=logging.WARNING,
                 **({} if opts.ray_address else {"num_cpus": 2}))
    try:
        actor = ray.remote(CameraPipeline).options(num_cpus=1).remote(cfg)
        stats = ray.get(actor.run.remote())
        ray.get(actor.close.remote())
        ray.kill(actor)
    finally:
        if started_here:
            ray.shutdown()
    return stats


def summary_lines(report: dict) -> list[str]:
    lines = [
        f"runtime: {report['runtime']['frames']} frames, {report['runtime']['gated_out']} skipped by the change gate, "
        f"{report['runtime']['inferred']} through the backbone; frame→alert p50 {report['runtime']['latency_ms_p50']:.1f} ms",
        f"alerts: {report['alerts']} ({report['confirmed']} confirmed, {report['rejected']} rejected by the operator)",
        f"miss events consumed by the retraining loop: {report['miss_events']}",
    ]
    for r in report["retraining"]:
        lines.append(f"retraining: mined {r['mined']}, labeled {r['labeled_positive']}+/{r['labeled_negative']}-, gate {r['gate']}")
    for v in report["new_versions"]:
        lines.append(f"new candidate: {v['algorithm_id']} v{v['version']} (held-out F1 {v['metrics']['f1']:.3f}; "
                     f"v1 had {report['v1']['metrics']['f1']:.3f})")
    if not report["new_versions"]:
        lines.append("no new version passed the gate")
    lines.append(f"done in {report['seconds']:.1f} s (state in {report['home']}, bus {report['bus']})")
    return lines
