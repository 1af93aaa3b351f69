"""The control plane, measured (issue "The city runs as one system").

    python -m benchmarks.control_plane            # 3-node local Ray cluster, 5 cameras; 10k-camera reconcile
    python -m benchmarks.control_plane --full     # more cameras, more repeats, larger capacity search

Keys (last line, JSON):
- ``register_to_first_alert_s`` p50/max: camera row written to the operations store -> the
  control loop discovers it, plans it, configures its worker, starts its stream there ->
  first frame scored -> first alert read back from the bus by an independent consumer.
- ``node_loss_recovery_s``: a Ray node removed -> every camera it ran streams again on the others.
- ``promotion_to_swap_s``: a version promoted in the catalog (``model-updates`` announced) ->
  every worker running the algorithm serves it; ``dropped_frames`` during that swap.
- ``node_added_gets_work``: a camera registered after a node joined runs on the new node.
- ``reconcile_ms``: the pure reconcile over a 10,000-camera desired state, nothing changed
  (full pass) and one change (the loop's incremental pass), median of repeats.
- ``replan_ms``: the control loop's whole re-plan after one camera's choices changed (instance,
  digest, ``plan_city``, ``desired_state``) at 1,000 cameras (``--full``: and 10,000), beside the
  scheduler's own rebase + incremental plan on the same change: what the loop adds around it.
- ``city_capacity``: the most 640x360 synthetic cameras at 1 fps with 30 algorithms each
  that one 2-core worker carries in real time through decode -> gate -> backbone -> heads ->
  events -> bus, with the gate off (every frame pays the backbone: the worst case), beside
  the backbone-only floor measured in the same run.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import threading
import time
from pathlib import Path


def reconcile_ms(n_cameras: int = 10_000, repeats: int = 7) -> dict:
    from runtime.work import CameraWork, HeadWork
    from warehouse.control import ActualState, CameraSpec, DesiredState, ReaderView, WorkerSpec, WorkerView, reconcile

    n_workers = max(1, n_cameras // 100)
    heads = [HeadWork(f"scene.road.e{i}", "1", fps=1.0, artifact_sha256="ab" * 32) for i in range(30)]
    works = {f"c{i}": CameraWork.build(f"c{i}", heads=heads) for i in range(n_cameras)}
    wid = {f"c{i}": f"w{i % n_workers}" for i in range(n_cameras)}
    desired = DesiredState({f"w{j}": WorkerSpec(f"w{j}", f"n{j}") for j in range(n_workers)},
                           {c: CameraSpec(c, wid[c], "synthetic://road", 1.0, works[c]) for c in works})
    workers = {f"w{j}": WorkerView(f"w{j}", f"n{j}", True, {c: works[c].revision for c in works if wid[c] == f"w{j}"})
               for j in range(n_workers)}
    actual = ActualState(workers, {c: ReaderView(c, wid[c], True, "synthetic://road", 1.0, "healthy") for c in works})
    full, one = [], []
    for _ in range(repeats):
        t = time.perf_counter()
        assert reconcile(desired, actual, {}, now_ms=0) == []
        full.append((time.perf_counter() - t) * 1000)
        changed = CameraWork.build("c7", heads=[HeadWork("scene.road.e0", "2", fps=1.0, artifact_sha256="cd" * 32)])
        d2 = DesiredState(desired.workers, {**desired.cameras, "c7": CameraSpec("c7", wid["c7"], "synthetic://road", 1.0, changed)})
        t = time.perf_counter()
        acts = reconcile(d2, actual, {}, now_ms=0, only={"c7"})
        one.append((time.perf_counter() - t) * 1000)
        assert len(acts) == 1
    return {"cameras": n_cameras, "nothing_changed_ms": round(statistics.median(full), 3),
            "one_change_ms": round(statistics.median(one), 4), "goal_ms": {"nothing_changed": 50, "one_change": 5}}


def replan_ms(n_cameras: int = 1_000, heads: int = 10, repeats: int = 5) -> dict:
    """The control loop's re-plan after one camera's choices changed, stage by stage: the instance
    built from the loop's state, its digest, ``plan_city`` (JSON -> ``scheduler.Instance``, rebase,
    the scheduler's incremental plan, plan -> JSON) and ``desired_state``, as the loop runs it (its
    ``InstanceReader`` and desired-state cache kept between changes: unchanged cameras' records and
    specs are re-used) and without them (every record read and every spec built again, as before);
    with the scheduler's own share (rebase + plan) measured apart; medians over ``repeats`` changes
    of each kind. One GPU worker per 100 cameras, ``heads`` heads each."""
    import scheduler
    from warehouse.control.desired import (AlgorithmRuntime, CameraInput, Choice, NodeView, VersionRef, build_instance,
                                           desired_state, instance_digest, plan_city)

    algs = {f"scene.road.e{i}": AlgorithmRuntime(f"scene.road.e{i}", True, VersionRef(1, "ab" * 32, 0.5)) for i in range(30)}
    cams = [CameraInput(f"c{i}", f"rtsp://cam{i}.city/s") for i in range(n_cameras)]
    by_id = {c.camera_id: c for c in cams}
    ms = lambda a, b: round((b - a) * 1000, 1)  # noqa: E731
    choices = {c.camera_id: [Choice(a, 1.0, 1.0) for a in list(algs)[:heads]] for c in cams}
    nodes = [NodeView(f"n{i}", num_cpus=2, num_gpus=1, memory_mib=80_000) for i in range(max(1, n_cameras // 100))]
    rows: list[dict[str, float]] = [{} for _ in range(repeats)]
    serial = iter(range(10**6))

    def change() -> dict:
        choices[f"c{next(serial)}"] = [Choice(a, 2.0, 2.0) for a in list(algs)[:heads + 2]]
        return build_instance(cams, choices, algs, nodes)

    for kind, reader, cache in (("no_reuse", None, None), ("loop", scheduler.InstanceReader(), {})):
        plan_json, prev = plan_city(build_instance(cams, choices, algs, nodes), reader=reader)  # a chain of its own
        desired_state(plan_json, by_id, algs, nodes, cache=cache)
        for row in rows:
            t0 = time.perf_counter()
            inst = change()
            t1 = time.perf_counter()
            instance_digest(inst)
            t2 = time.perf_counter()
            plan_json, prev = plan_city(inst, prev, reader=reader)
            t3 = time.perf_counter()
            desired_state(plan_json, by_id, algs, nodes, cache=cache)
            t4 = time.perf_counter()
            row.update({f"{kind}_build_instance_ms": ms(t0, t1), f"{kind}_digest_ms": ms(t1, t2), f"{kind}_plan_city_ms": ms(t2, t3),
                        f"{kind}_desired_state_ms": ms(t3, t4), f"{kind}_one_change_total_ms": ms(t0, t4)})
            if reader is not None:  # plan_city's parts on another change: read, the scheduler's own share, plan -> JSON
                inst = change()
                t0 = time.perf_counter()
                obj = reader.read(inst)
                t1 = time.perf_counter()
                prev = scheduler.plan(scheduler.rebase(obj, prev), previous=prev)
                t2 = time.perf_counter()
                prev.to_json()
                t3 = time.perf_counter()
                row.update({"loop_read_ms": ms(t0, t1), "scheduler_rebase_and_plan_ms": ms(t1, t2), "plan_to_json_ms": ms(t2, t3)})
    return {"cameras": n_cameras, "demands": n_cameras * heads, "repeats": repeats,
            **{key: round(statistics.median(r[key] for r in rows), 1) for key in rows[0]}}


def _alert_watch(bus_url: str, stop: threading.Event, first: dict, counts: dict) -> None:
    from warehouse.bus import open_bus
    from warehouse.bus.events import parse_event

    bus = open_bus(bus_url)
    c = bus.consumer("alerts", group=f"bench-{os.getpid()}-{time.time_ns()}")
    while not stop.is_set():
        for r in c.poll(timeout_s=0.1):
            ev = parse_event("alerts", r.value)
            now = time.monotonic()
            first.setdefault(ev.camera_id, now)
            counts[ev.camera_id] = counts.get(ev.camera_id, 0) + 1
            counts.setdefault("_last", {})[ev.camera_id] = now
        c.commit()
    c.close()
    bus.close()


def cluster_figures(home: Path, cache_dir: Path, *, cameras: int = 5) -> dict:
    import ray

    from benchmarks._city import SmallCity
    from warehouse.retraining.promotion import promote

    city = SmallCity(home, cache_dir, nodes=3, per_node=2).start()
    stop, first, counts = threading.Event(), {}, {}
    watcher = threading.Thread(target=_alert_watch, args=(city.parts["bus_url"], stop, first, counts), daemon=True)
    watcher.start()
    out: dict = {}
    try:
        t_reg = {}
        for i in range(cameras):
            cam = f"cam-{i}"
            t_reg[cam] = time.monotonic()
            city.add_camera(cam, seed=i)
            city.wait(lambda: cam in first, timeout_s=90)
        lat = [first[c] - t_reg[c] for c in t_reg if c in first]
        out["register_to_first_alert_s"] = {"p50": round(statistics.median(lat), 3), "max": round(max(lat), 3), "n": len(lat)}
        st = city.plane.status()
        placement = {c: s["worker"] for c, s in st["cameras"].items()}
        actual_nodes = {w: s.get("ray_node_id") for w, s in city.plane.cluster.worker_status().items()}
        out["workers_used"] = len(set(placement.values()))
        out["actors_on_planned_node"] = all(actual_nodes[w] == st["workers"][w]["node"] for w in set(placement.values()))

        # -- promotion -> swap -------------------------------------------------------------------
        alg = "scene.road.smoke"
        v2 = city.new_version(alg)
        before = city.plane.cluster.worker_status()
        t = time.monotonic()
        promote(city.parts["catalog"], city.parts["bus"], alg, v2, actor="bench", reason="benchmark")
        ok = city.wait(lambda: all(w.get("heads", {}).get(alg) == str(v2) for w in city.plane.cluster.worker_status().values()
                                   if alg in w.get("heads", {})), timeout_s=30, every_s=0.02)
        out["promotion_to_swap_s"] = round(time.monotonic() - t, 3) if ok else None
        time.sleep(1.5)
        after = city.plane.cluster.worker_status()
        sent = sum(s["frames_sent"] for w in after.values() for s in w.get("streams", {}).values())
        got = sum(w["stats"]["frames_in"] for w in after.values())
        in_flight = sum(1 for w in after.values() for _ in w.get("streams", {}))
        out["dropped_frames"] = max(0, sent - got - in_flight)
        out["frames_in_before_swap"] = sum(w["stats"]["frames_in"] for w in before.values())

        # -- node loss ---------------------------------------------------------------------------
        head_id = ray.get_runtime_context().get_node_id()
        by_node: dict[str, list[str]] = {}
        for c, w in placement.items():
            by_node.setdefault(st["workers"][w]["node"], []).append(c)
        victim = next(n for n in sorted(by_node, key=lambda n: -len(by_node[n])) if n != head_id)
        lost = by_node[victim]
        others = [c for c in placement if c not in lost]
        node = next(n for n in city.cluster.list_all_nodes() if n.node_id == victim)
        t = time.monotonic()
        city.cluster.remove_node(node)
        # the other cameras' streams: frames read keep growing (static synthetic scenes are mostly
        # gated out, so frames read, not frames scored, show a stream is alive); the longest stall
        gaps: dict[str, float] = {c: 0.0 for c in others}
        reads: dict[str, tuple[int, float]] = {}
        seen: dict[str, float] = {}

        def recovered() -> bool:
            now = time.time() * 1000
            for c, r in city.plane.cluster.reader_stats().items():
                n = int(r.get("frames_read") or 0)
                if c not in reads or n != reads[c][0]:
                    reads[c] = (n, now)
                    seen[c] = now
            for c in others:
                if c in reads:
                    gaps[c] = max(gaps[c], (now - reads[c][1]) / 1000)
            run = city.running()
            return set(lost) <= set(run) and all(run[c]["worker"] != placement[c] for c in lost)

        ok = city.wait(recovered, timeout_s=60, every_s=0.1)
        out["node_loss_recovery_s"] = round(time.monotonic() - t, 3) if ok else None
        out["cameras_lost_with_node"] = len(lost)
        mark = time.time() * 1000
        time.sleep(2.0)
        recovered()
        out["others_kept_streaming"] = all(seen.get(c, 0) > mark for c in others)
        out["others_last_frame_age_s"] = {c: round((time.time() * 1000 - seen.get(c, 0)) / 1000, 2) for c in others}
        out["others_max_gap_s"] = round(max(gaps.values(), default=0.0), 3)
        # -- node added: the next camera lands on it ---------------------------------------------
        city.cluster.add_node(num_cpus=1)
        city.cluster.wait_for_nodes()
        new_nodes = {n.node_id for n in city.plane.cluster.nodes()} - {w["node"] for w in st["workers"].values()}
        cam = f"cam-{cameras}"
        city.add_camera(cam, seed=cameras)
        ok = city.wait(lambda: cam in city.running(), timeout_s=60)
        st2 = city.plane.status(detail=False)
        out["node_added_gets_work"] = bool(ok and any(st2["workers"][w]["node"] in new_nodes for w in st2["workers"]
                                                      if st2["workers"][w]["cameras"]))
        # -- camera removed: its stream stops and its worker no longer runs it -----------------
        t = time.monotonic()
        city.remove_camera(cam)

        def gone() -> bool:
            ws = city.plane.cluster.worker_status().values()
            return all(cam not in w.get("cameras", {}) and cam not in w.get("streams", {}) for w in ws)

        ok = city.wait(gone, timeout_s=30)
        out["camera_removed_s"] = round(time.monotonic() - t, 3) if ok else None
    finally:
        stop.set()
        watcher.join(timeout=5)
        city.stop()
    return out


def city_capacity(cache_dir: Path, *, algorithms: int = 30, seconds: float = 8.0, max_cameras: int = 64) -> dict:
    """Binary-search the camera count one worker carries in real time (module doc)."""
    import numpy as np

    from catalog import ArtifactStore, linear_head_onnx
    from runtime import Backbone, InferenceWorker, inference_core_scorer_factory
    from runtime.work import CameraWork, HeadWork
    from warehouse.control.hooks import BusAlertPublisher, EvidenceWriter
    from warehouse.training.backbone_export import ensure_backbone_onnx

    backbone = ensure_backbone_onnx(cache_dir)
    bb = Backbone.load(backbone)
    frames = [np.random.default_rng(i).integers(0, 255, (360, 640, 3), dtype=np.uint8) for i in range(16)]
    bb.embed_frames(frames[:8])
    t = time.perf_counter()
    n = 0
    while time.perf_counter() - t < 3.0:
        bb.embed_frames(frames)
        n += len(frames)
    floor_fps = n / (time.perf_counter() - t)
    td = tempfile.mkdtemp()
    store = ArtifactStore(td + "/a")
    rng = np.random.default_rng(0)
    shas = [store.put_bytes(linear_head_onnx(rng.normal(0, 0.01, (1280, 1)).astype(np.float32), np.array([-4.0], np.float32),
                                             labels=["on"])) for _ in range(algorithms)]

    def carries(k: int) -> tuple[bool, float]:
        w = InferenceWorker("cap", [], scorer_factory=inference_core_scorer_factory(backbone, {}), put_evidence=EvidenceWriter(td + "/a"),
                            fetch_artifact=store.get_bytes, alert_sink_factory=BusAlertPublisher(f"sqlite:///{td}/bus.db"))
        heads = [HeadWork(f"scene.road.e{i}", "1", fps=1.0, artifact_sha256=shas[i]) for i in range(algorithms)]
        try:
            for c in range(k):
                w.configure_camera(CameraWork.build(f"c{c}", heads=heads))
                w.start_stream(f"c{c}", f"synthetic://road?seed={c}&fps=1&realtime=1", fps=1.0, gate=False)
            time.sleep(2.0)
            s0, t0 = w.stats()["frames_scored"], time.perf_counter()
            time.sleep(seconds)
            rate = (w.stats()["frames_scored"] - s0) / (time.perf_counter() - t0)
        finally:
            w.close()
        return rate >= 0.9 * k, rate

    lo, hi, rates = 0, max_cameras, {}
    while lo < hi:
        mid = (lo + hi + 1) // 2
        ok, rate = carries(mid)
        rates[mid] = round(rate, 2)
        lo, hi = (mid, hi) if ok else (lo, mid - 1)
    return {"cameras_at_1fps_x30_algorithms": lo, "backbone_only_floor_cameras": round(floor_fps, 1),
            "ratio_to_floor": round(lo / floor_fps, 3) if floor_fps else None, "scored_fps_by_cameras": rates,
            "gate": "off (every frame pays the backbone)", "frame": "640x360 synthetic road, rendered by catalog.synthetic"}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--full", action="store_true")
    args = ap.parse_args()
    os.environ.setdefault("RAY_AUTH_MODE", "disabled")
    from warehouse.settings import Settings

    cache = Settings().resolved_cache_dir
    out = {"reconcile_ms": reconcile_ms(repeats=15 if args.full else 5),
           "replan_ms": [replan_ms(n) for n in ((1_000, 10_000) if args.full else (1_000,))]}
    with tempfile.TemporaryDirectory() as td:
        out.update(cluster_figures(Path(td), cache, cameras=5))
    out["city_capacity"] = city_capacity(cache, seconds=12.0 if args.full else 6.0, max_cameras=128 if args.full else 48)
    out["machine"] = f"{os.cpu_count()} cores; {os.getloadavg()[0]:.1f} load average at the end"
    out["engine"] = "onnxruntime-cpu"
    print(json.dumps(out))


if __name__ == "__main__":
    main()
