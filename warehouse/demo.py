"""``warehouse demo``: a small city through the one serving path, in under two minutes.

1. heads for four scene types (seafront, road, building lobby, construction site) are
   trained on synthetic frames of the shared backbone and registered in the catalog;
2. eight cameras (two per scene type; plus ``--video PATH`` as a real one) are registered
   through the operations API, with no scene hints: the control plane samples each stream,
   discovers its scene, asks the knowledge graph what it runs (the seafront camera runs no
   parking algorithm, and the demo prints why), plans them over the Ray nodes' workers and
   starts their streams there;
3. alerts reach the bus, the operations store and the live stream; a simulated operator
   (reading the synthetic generator's exact labels kept in the frame pool) confirms or
   rejects each; a rejection becomes a miss event (or, if every alert was right, a missed
   event is reported);
4. the retraining loop mines the frame pool (what the workers retained during the run, plus
   the road cameras' retained frames of earlier days, as a city's pool would hold), labels,
   trains and gates a new version; when it passes it is promoted, and the control plane
   hot-swaps it into the running workers without dropping a frame.

The road cameras show standing water and, later, ice: the standing-water head was never
trained on ice, the kind of look-alike operators reject in a city.

The demo never deletes anything: it runs in a new folder under ``--home`` (or refuses a
``--home`` that is not empty), and checks every input before it writes.
"""
from __future__ import annotations

import json
import logging
import os
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from warehouse.demo_operator import RETRAIN_ALGORITHM, report_miss, review_alerts
from warehouse.errors import InvalidInputError

log = logging.getLogger(__name__)

# scene -> (region, the events its heads detect); "ice_on_road" is shown but never trained on
SCENES = {
    "seafront": ("coast", ("person_in_water", "boat_in_restricted_zone", "swimming_in_prohibited_area")),
    "road": ("downtown", ("standing_water", "illegal_parking", "pothole")),
    "building_lobby": ("downtown", ("unattended_bag", "crowd_gathering", "fire")),
    "construction_site": ("industrial", ("no_helmet_worker", "fire", "smoke")),
}
LOOKALIKE = "ice_on_road"
CAMERA_FPS = 4.0
MARKER = ".warehouse-demo"


@dataclass(frozen=True, slots=True)
class DemoOptions:
    home: Path
    cache_dir: Path
    kafka: str | None = None
    ray_address: str | None = None
    video: Path | None = None
    seed: int = 7
    cameras_per_scene: int = 2
    stream_s: float = 28.0
    workers: int = 2  # nodes of the local Ray cluster when no --ray-address is given


def _check_inputs(opts: DemoOptions) -> Path:
    """Every input checked before anything is written; returns the run folder."""
    if opts.video is not None and not opts.video.is_file():
        raise InvalidInputError(f"video {str(opts.video)!r} does not exist; pass an existing video file (e.g. the output of "
                                "`bash scripts/fetch_vtest.sh`) or drop --video")
    if opts.video is not None:
        import cv2

        cap = cv2.VideoCapture(str(opts.video))
        ok, _ = cap.read()
        cap.release()
        if not ok:
            raise InvalidInputError(f"video {str(opts.video)!r} cannot be decoded by OpenCV; pass a playable video file")
    if opts.cameras_per_scene < 1:
        raise InvalidInputError(f"cameras_per_scene={opts.cameras_per_scene}; expected >= 1")
    home = opts.home
    if home.exists() and not home.is_dir():
        raise InvalidInputError(f"--home {str(home)!r} is a file; give a folder (it is created if missing)")
    run = home / f"run-{datetime.now(timezone.utc):%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:6]}"
    if run.exists():
        raise InvalidInputError(f"run folder {str(run)!r} exists already; try again")
    return run


def _train_heads(catalog, store, backbone, seed: int) -> dict[str, dict]:
    """Per scene: render a pool of frames (one event or none), embed once, train every head of that scene."""
    from catalog import CostProfile, Stage
    from catalog.synthetic import CONDITIONS, render_frame
    from warehouse.training.heads import evaluate_head, train_heads
    from warehouse.retraining.dataset import HELDOUT, TRAIN, LabeledDataset
    from warehouse.training.scene_heads import head_spec

    out = {}
    for si, (scene, (_, events)) in enumerate(SCENES.items()):
        rng = np.random.default_rng(seed + si)
        imgs, y = [], []
        # the road's standing-water head is the one the demo retrains: a held-out set large
        # enough that the gate's "no more than 1 point of F1 lost" is measurable
        for i in range(240 if scene == "road" else 60):
            k = i % (len(events) + 1)  # every fourth frame or so has no event
            ev = () if k == len(events) else (events[k],)
            imgs.append(render_frame(scene, events=ev, seed=seed * 10_000 + si * 1000 + i,
                                     condition=CONDITIONS[int(rng.integers(len(CONDITIONS)))]).image)
            y.append([1 if ev == (e,) else 0 for e in events])
        _, emb = backbone.embed_frames(imgs)
        Y = np.array(y, np.int8)
        split = (np.arange(len(imgs)) // (len(events) + 1)) % 4  # whole event cycles per split
        tr, va, ho = split < 2, split == 2, split == 3
        heads = train_heads(emb[tr], Y[tr], labels=list(events), validation=(emb[va], Y[va]), seed=seed)
        ids = [f"synthetic:{scene}:{seed * 10_000 + si * 1000 + i}" for i in range(len(imgs))]
        for j, (event, h) in enumerate(zip(events, heads)):
            spec = head_spec(scene, event)
            catalog.register_algorithm(spec)
            metrics = {**evaluate_head(h.onnx_bytes, emb[ho], Y[ho, j], h.threshold), "threshold": float(h.threshold)}
            # the dataset v1 was trained on (train + validation rows; the held-out quarter is fixed for the algorithm)
            ds = LabeledDataset(emb.astype(np.float32), Y[:, j].astype(np.int8), tuple(ids), np.where(ho, HELDOUT, TRAIN).astype(np.int8))
            ds_id = catalog.record_dataset_version(spec.id, sample_ids=ids, artifact_sha256=store.put_bytes(ds.to_bytes(), suffix=".npz"),
                                                   stats={**ds.stats(), "labeler": "synthetic-ground-truth"})
            run_id = catalog.record_training_run(spec.id, dataset_version_id=ds_id, metrics=metrics,
                                                 params={"trainer": "logistic-regression (shared C grid)", "seed": seed})
            v = catalog.add_version(spec.id, artifact_sha256=store.put_bytes(h.onnx_bytes, suffix=".onnx"), metrics=metrics,
                                    cost_profile=CostProfile(latency_ms_per_frame=0.01, memory_mib=len(h.onnx_bytes) / 2**20 * 4),
                                    training_run_id=run_id, dataset_version_id=ds_id, stage=Stage.CANDIDATE, notes="demo v1")
            catalog.promote(spec.id, v.number, to=Stage.PRODUCTION)
            out[spec.id] = {"version": v.number, "f1": round(float(metrics.get("f1", 0.0)), 3)}
    return out


def _retained_history(pool, backbone, opts: DemoOptions, blocks: int = 36) -> int:
    """The road cameras' retained frames of earlier days, as a city's frame pool holds them when a
    mistake is reported: clean road, standing water and ice, in every weather, with the
    generator's exact labels. Mining searches them (a two-minute run alone retains only a
    handful of distinct frames of a static scene)."""
    from catalog.synthetic import CONDITIONS, SyntheticCamera
    from warehouse.framepool import RetainedFrame

    day_ms = 86_400_000
    start_ms = int(time.time() * 1000) - 7 * day_ms
    events = ((), ("standing_water",), (LOOKALIKE,))
    n = 0
    for j, cam in enumerate(c for c in _cameras(opts) if c["camera_id"].startswith("road-")):
        imgs, truth = [], []
        for b in range(blocks):  # one block: one day's weather, one event (or none), two frames
            ev = events[b % 3]
            sc = SyntheticCamera("road", opts.seed * 100 + 10 + j, CAMERA_FPS, CONDITIONS[(b // 3) % len(CONDITIONS)],
                                 [(e, 0, 2) for e in ev])
            for i in range(2):
                imgs.append(sc.frame(i)[0])
                truth.append(tuple(ev))
        _, emb = backbone.embed_frames(imgs)
        pool.add(*[RetainedFrame(f"{cam['camera_id']}:h{i}", cam["camera_id"], 1_000_000 + i, start_ms + (i // 2) * day_ms // 6,
                                 emb[i], truth=truth[i]) for i in range(len(imgs))])
        n += len(imgs)
    return n


def _cameras(opts: DemoOptions) -> list[dict]:
    cams = []
    for si, (scene, (region, events)) in enumerate(SCENES.items()):
        for j in range(opts.cameras_per_scene):
            a, b = events[j % len(events)], events[(j + 1) % len(events)]
            sched = f"{a}:12-30,{b}:52-70"
            if scene == "road":
                sched = f"standing_water:8-26,{LOOKALIKE}:34-96,standing_water:100-110"
            url = f"synthetic://{scene}?seed={opts.seed * 100 + si * 10 + j}&fps={CAMERA_FPS:g}&realtime=1&events={sched}"
            cams.append({"camera_id": f"{scene.replace('_', '-')}-{j + 1:02d}", "region": region, "stream_url": url})
    if opts.video is not None:
        cams.append({"camera_id": "real-vtest-01", "region": "university", "stream_url": f"file://{opts.video.resolve()}"})
    return cams


def run_demo(opts: DemoOptions) -> dict:
    t0 = time.perf_counter()
    run = _check_inputs(opts)
    from warehouse.bus import open_bus

    run_id = run.name
    prefix = f"demo-{uuid.uuid4().hex[:8]}." if opts.kafka else ""
    bus_url = f"kafka://{opts.kafka}" if opts.kafka else f"sqlite:///{(run / 'bus.db').resolve()}"
    if opts.kafka:  # an unreachable broker fails here, before any write
        open_bus(bus_url, topic_prefix=prefix).close()
    from warehouse.training.backbone_export import ensure_backbone_onnx

    backbone_path = ensure_backbone_onnx(opts.cache_dir)
    run.mkdir(parents=True)
    (run / MARKER).write_text(json.dumps({"created_utc": datetime.now(timezone.utc).isoformat(), "pid": os.getpid()}))
    if opts.video is not None:  # a file: camera is allowed from the demo's own run folder only
        os.environ.setdefault("WAREHOUSE_ALLOWED_STREAM_ROOTS", str(opts.video.resolve().parent))
    return _run(opts, run, run_id, bus_url, prefix, backbone_path, t0)


def _run(opts, run: Path, run_id: str, bus_url: str, prefix: str, backbone_path: Path, t0: float) -> dict:
    import ray
    from fastapi.testclient import TestClient

    from catalog import ArtifactStore, Catalog, Stage
    from knowledge_graph import CityGraph
    from runtime import Backbone, ensure_ray, inference_core_scorer_factory
    from warehouse.api import Services, create_app
    from warehouse.bus import open_bus
    from warehouse.consumers import AlertSink, FeedbackRouter, RetrainingService
    from warehouse.control import (ArtifactFetcher, BusAlertPublisher, CameraDiscovery, ControlPlane, ControlPolicy,
                                   EvidenceWriter, FramePoolHook, RayCluster, WorkerFactories)
    from warehouse.framepool import FramePool
    from warehouse.ops_store import OpsStore
    from warehouse.retraining.labeling import GroundTruthLabeler
    from warehouse.retraining.loop import RetrainingLoop
    from warehouse.retraining.promotion import promote

    timings: dict[str, float] = {}
    artifacts = str((run / "artifacts").resolve())
    store = ArtifactStore(artifacts)
    catalog = Catalog.open(f"sqlite:///{(run / 'catalog.db').resolve()}", store=store)
    ops = OpsStore(f"sqlite:///{(run / 'ops.db').resolve()}")
    pool_url = f"sqlite:///{(run / 'pool.db').resolve()}"
    pool = FramePool(pool_url)
    bus = open_bus(bus_url, topic_prefix=prefix)
    backbone = Backbone.load(backbone_path)

    t = time.perf_counter()
    v1 = _train_heads(catalog, store, backbone, opts.seed)
    timings["train_heads_s"] = time.perf_counter() - t
    t = time.perf_counter()
    history = _retained_history(pool, backbone, opts)
    timings["history_s"] = time.perf_counter() - t
    graph = CityGraph.from_catalog(catalog)

    started_ray = not ray.is_initialized()
    local_cluster = None
    if opts.ray_address is None and started_ray:
        local_cluster = _local_cluster(opts.workers)
        ray.init(address=local_cluster.address, include_dashboard=False, log_to_driver=False, logging_level=logging.WARNING)
    else:
        ensure_ray(opts.ray_address, num_cpus=2)
    factories = WorkerFactories(scorer_factory=inference_core_scorer_factory(backbone_path, {}),
                                put_evidence=EvidenceWriter(artifacts), fetch_artifact=ArtifactFetcher(artifacts),
                                alert_sink_factory=BusAlertPublisher(bus_url, prefix), frame_hook_factory=FramePoolHook(pool_url))
    cluster = RayCluster(factories)
    discovery = CameraDiscovery(backbone_path, opts.cache_dir)
    control = ControlPlane(ops=ops, catalog=catalog, graph=graph, cluster=cluster, discovery=discovery, bus=bus,
                           interval_s=0.5, cooldown_s=6.0, profile=_measured_profile(backbone_path),
                           # two logical nodes share this machine's cores with the driver, the API and the
                           # cameras' rendering: each node may promise a third of a core to the plan
                           policy=ControlPolicy(cpu_utilisation=0.35))
    services = Services(ops=ops, bus=bus, catalog=catalog, graph=graph)
    services.control = control
    client = TestClient(create_app(services))
    _, admin = ops.create_api_key(role="admin", name="demo-admin")
    _, operator = ops.create_api_key(role="operator", name="demo-operator")
    stop = threading.Event()
    sink = AlertSink(bus, ops, hub=services.alert_hub)

    def drain_alerts() -> None:
        while not stop.is_set():
            try:
                sink.run_once(timeout_s=0.3)
            except Exception:
                log.exception("demo: alert sink round failed")

    try:
        t = time.perf_counter()
        for cam in _cameras(opts):
            client.post("/cameras", json=cam, headers={"X-API-Key": admin}).raise_for_status()
        control.start()
        control.wake()
        running = _wait(lambda: _all_running(control, ops), timeout_s=90)
        timings["register_to_streaming_s"] = time.perf_counter() - t
        sink_thread = threading.Thread(target=drain_alerts, name="demo-alert-sink", daemon=True)
        sink_thread.start()
        status = control.status()
        relevance = _relevance_report(graph, status)

        t = time.perf_counter()
        deadline = time.monotonic() + opts.stream_s
        while time.monotonic() < deadline:
            time.sleep(0.5)
        timings["streaming_s"] = time.perf_counter() - t
        alerts = client.get("/alerts", params={"limit": 1000}, headers={"X-API-Key": operator}).json()
        alerts = alerts["items"] if isinstance(alerts, dict) else alerts
        verdicts = review_alerts(client, operator, pool, alerts)
        if not verdicts["rejected"]:
            verdicts["reported"] = report_miss(client, operator, pool, alerts)

        services.outbox.run_once()  # feedback and misses reach the bus through the outbox: drain it now
        t = time.perf_counter()
        router = FeedbackRouter(bus, graph=graph)
        for _ in range(3):
            router.run_once(timeout_s=0.5)
        loop = RetrainingLoop(algorithm_id=RETRAIN_ALGORITHM, event_type="standing_water", catalog=catalog, store=store,
                              pool=pool, labeler=GroundTruthLabeler(pool), bus=bus, seed=opts.seed, use_ray=False, budget=96)
        retrain = RetrainingService(bus, loop_for=lambda a: loop if a == RETRAIN_ALGORITHM else None)
        results = []
        for _ in range(4):
            results += retrain.run_once(timeout_s=0.5)
            if results:
                break
        timings["retrain_s"] = time.perf_counter() - t
        new = [r for r in results if r.new_version is not None]
        swap = {"promoted": None, "swapped": False, "promotion_to_swap_s": None, "dropped_frames": None}
        if new:
            swap = _promote_and_swap(catalog, bus, control, cluster, new[0].new_version, promote, Stage)
        stop.set()
        status = control.status()
    finally:
        stop.set()
        control.stop(shutdown=True)
        if started_ray:
            ray.shutdown()
        if local_cluster is not None:
            local_cluster.shutdown()
    sink.close()
    bus.close()
    catalog.close()
    per_cam = {c: len(s["algorithms"]) + len(s["detectors"]) for c, s in status["cameras"].items()}
    return {
        "cameras": len(status["cameras"]), "cameras_streamed": running, "workers": len(status["workers"]),
        "algorithms_per_camera": per_cam, "relevance": relevance,
        "placement": {c: s["worker"] for c, s in status["cameras"].items()},
        "alerts": len(alerts), "alerting_cameras": sorted({a["camera_id"] for a in alerts}),
        "confirmed": verdicts["confirmed"], "rejected": verdicts["rejected"], "reported_misses": verdicts.get("reported", 0),
        "miss_events": sum(len(r.miss_event_ids) for r in results),
        "retraining": [{"gate": str(r.decision), "mined": r.mined, "new_version": r.new_version, "metrics": r.metrics} for r in results],
        "v1": v1, "retained_history_frames": history, "promoted": swap["promoted"], "swapped": swap["swapped"],
        "promotion_to_swap_s": swap["promotion_to_swap_s"], "dropped_frames": swap["dropped_frames"],
        "swapped_without_dropped_frames": bool(swap["swapped"] and swap["dropped_frames"] == 0),
        "bus": bus_url, "home": str(run), "timings_s": {k: round(v, 2) for k, v in timings.items()},
        "seconds": round(time.perf_counter() - t0, 2),
    }


def _measured_profile(backbone_path):
    """The shared path's costs on this machine: the backbone (runtime profiler) and the decode of a
    camera (here the synthetic renderer, which stands for decoding), timed over a few frames."""
    from dataclasses import replace

    from runtime import open_source
    from warehouse.control import RuntimeProfile

    prof = RuntimeProfile.measure(backbone_path)
    src = open_source("synthetic://road?seed=1&n=6", "profile")
    t = time.perf_counter()
    n = sum(1 for _ in src.frames())
    return replace(prof, decode_ms=(time.perf_counter() - t) * 1000 / max(1, n), decode_measured=True)


def _local_cluster(workers: int):
    """A Ray cluster of ``workers`` nodes on this machine (one worker each), as a city would have machines."""
    from ray.cluster_utils import Cluster

    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1, "include_dashboard": False})
    for _ in range(workers - 1):
        cluster.add_node(num_cpus=1)
    cluster.wait_for_nodes()
    return cluster


def _wait(pred, *, timeout_s: float, every_s: float = 0.25):
    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        v = pred()
        if v:
            return v
        time.sleep(every_s)
    return pred()


def _all_running(control, ops) -> int:
    st = control.status(detail=False)["cameras"]
    n = sum(1 for s in st.values() if s["running"])
    return n if n == len(ops.list_cameras()) else 0


def _relevance_report(graph, status) -> dict:
    out = {}
    for cam, s in status["cameras"].items():
        found = s.get("scenes") or {}
        rel = graph.relevance(cam)
        parking = [x.reason for x in rel.excluded if "parking" in x.subject]
        runs_parking = any("parking" in a for a in rel.algorithm_ids())
        why = None
        if not runs_parking:
            scenes = sorted((found.get("scenes") or {}))
            why = parking[0] if parking else (f"its scenes {scenes} link to no parking event: illegal parking belongs to "
                                              "roads, parking lots and gates, not to the sea")
        out[cam] = {"scene": found.get("primary"), "confidence": max((found.get("scenes") or {"": 0}).values()),
                    "needs_review": found.get("needs_review"), "algorithms": rel.algorithm_ids(),
                    "runs_parking": runs_parking, "no_parking_because": why}
    return out


def _promote_and_swap(catalog, bus, control, cluster, version: int, promote, Stage) -> dict:
    """Promote, then wait until every worker running the algorithm serves the new version; count dropped frames."""
    before = {c: (s.get("frames_read") or 0) for c, s in control.status()["cameras"].items()}
    t = time.perf_counter()
    v = catalog.get_version(RETRAIN_ALGORITHM, version)
    if v.stage is Stage.CANDIDATE:
        promote(catalog, bus, RETRAIN_ALGORITHM, version, actor="demo-reviewer", reason="gate passed on held-out frames")
    control.wake(versions=True)

    def swapped() -> bool:
        ws = cluster.worker_status()
        runners = [w for w in ws.values() if RETRAIN_ALGORITHM in w.get("serving", {}) or RETRAIN_ALGORITHM in w.get("heads", {})]
        return bool(runners) and all(w.get("heads", {}).get(RETRAIN_ALGORITHM) == str(version) for w in runners)

    ok = bool(_wait(swapped, timeout_s=20, every_s=0.05))
    dt = time.perf_counter() - t
    time.sleep(1.0)  # frames keep flowing across the swap
    ws = cluster.worker_status()
    readers = cluster.reader_stats()
    sent = sum(r.get("frames_sent", 0) for r in readers.values())
    got = sum(w.get("stats", {}).get("frames_in", 0) for w in ws.values())
    pending = sum(w.get("stats", {}).get("pending", 0) for w in ws.values())
    # frames sent by readers but never received or scored by a worker (in flight at most max_in_flight per reader)
    in_flight = 2 * len(readers)
    dropped = max(0, sent - got - in_flight) if ok else None
    return {"promoted": {"algorithm_id": RETRAIN_ALGORITHM, "version": version}, "swapped": ok,
            "promotion_to_swap_s": round(dt, 3), "dropped_frames": dropped, "pending": pending, "frames_before": before}


def summary_lines(report: dict) -> list[str]:
    lines = [f"city: {report['cameras']} cameras ({report['cameras_streamed']} streaming) on {report['workers']} worker(s)"]
    for cam, r in report["relevance"].items():
        lines.append(f"  {cam}: scene {r['scene']} ({r['confidence']:.2f}{', review' if r['needs_review'] else ''}) -> "
                     f"{len(r['algorithms'])} algorithms on {report['placement'].get(cam)}")
    sea = next((c for c in report["relevance"] if c.startswith("seafront")), None)
    if sea is not None and not report["relevance"][sea]["runs_parking"]:
        lines.append(f"  {sea} runs no parking algorithm: {report['relevance'][sea]['no_parking_because']}")
    lines.append(f"alerts: {report['alerts']} from {len(report['alerting_cameras'])} cameras ({report['confirmed']} confirmed, "
                 f"{report['rejected']} rejected by the operator, {report['reported_misses']} misses reported)")
    for r in report["retraining"]:
        lines.append(f"retraining: mined {r['mined']}, gate {r['gate']}, new version {r['new_version']}")
    if report["promoted"]:
        lines.append(f"promoted {report['promoted']['algorithm_id']} v{report['promoted']['version']}; hot-swapped: "
                     f"{report['swapped']} in {report['promotion_to_swap_s']} s, dropped frames: {report['dropped_frames']}")
    else:
        lines.append("no new version passed the gate")
    lines.append(f"done in {report['seconds']:.1f} s (state in {report['home']}, bus {report['bus']})")
    return lines
