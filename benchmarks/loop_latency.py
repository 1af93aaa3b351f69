"""Loop latency (issue 10): a miss event on the bus -> a promoted version running in the runtime.

    python -m benchmarks.loop_latency            # 5 trials, embedded bus, training inline
    python -m benchmarks.loop_latency --full     # 20 trials
    python -m benchmarks.loop_latency --kafka 127.0.0.1:9092 --ray
    python -m benchmarks.loop_latency --no-runtime   # stop at the 'promoted' event

What is measured, per trial, from publishing the MissEvent(s):

- ``promoted``: a consumer of ``model-updates`` receives the ``promoted`` event (so the
  catalog write, which comes first, is done);
- ``running`` (``p50_s`` / ``p99_s``): a real runtime worker reports the promoted version
  serving on the camera. The runtime is the project's control plane
  (:class:`warehouse.control.ControlPlane`, ticking every 0.2 s) over a local Ray, with one
  synthetic road camera (2 fps) that relevance assigns the algorithm to, a real
  :class:`runtime.InferenceWorker` actor with the ONNX backbone, and the head loaded from
  the catalog's artifact; the plane reads ``model-updates``, re-reads the catalog and swaps
  the head; the benchmark polls the worker's status (every 20 ms) until its scorer serves
  the new version.

In between, all real: the retraining worker consumes the miss into the durable ledger, the
loop mines the frame pool (FAISS), a simulated labeler answers (counted), PyTorch trains a
1280-d head warm-started from production (a Ray task with ``--ray``), the gate evaluates,
the catalog registers and promotes. Embeddings: the
generative model of :mod:`warehouse.retraining.simulation` (dim 1280, the backbone's);
each trial's misses show an appearance of the event that production has never seen (the
appearances are independent of each other: ``mode_share=1``). ``decision_p50_s`` covers every
trial, including those the gate refused.
"""
from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np

ALG, EVENT = "scene.road.oil_spill_h10", "oil_spill_h10"
CAMERA = "cam-runtime"


class _Runtime:
    """The control plane over a local Ray, running ALG on one synthetic road camera (module doc)."""

    def __init__(self, world, root: Path) -> None:
        import logging

        import ray

        from knowledge_graph import CityGraph
        from runtime import inference_core_scorer_factory
        from warehouse.control import ArtifactFetcher, ControlPlane, EvidenceWriter, RayCluster, WorkerFactories
        from warehouse.ops import CameraRecord, OpsStore
        from warehouse.settings import Settings
        from warehouse.training.backbone_export import ensure_backbone_onnx

        backbone = ensure_backbone_onnx(Settings().resolved_cache_dir)
        art = str((root / "artifacts").resolve())  # the FlyWorld's artifact store: the plane fetches heads from it
        if not ray.is_initialized():
            ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False, logging_level=logging.WARNING)
        factories = WorkerFactories(scorer_factory=inference_core_scorer_factory(str(backbone), {}), put_evidence=EvidenceWriter(art),
                                    fetch_artifact=ArtifactFetcher(art), batch_wait_ms=5.0)
        self.ops = OpsStore(f"sqlite:///{(root / 'ops.db').resolve()}")
        self.plane = ControlPlane(ops=self.ops, catalog=world.catalog, graph=CityGraph.from_catalog(world.catalog),
                                  cluster=RayCluster(factories, call_timeout_s=3.0), bus=world.bus, interval_s=0.2,
                                  versions_every_s=5.0, cooldown_s=0.0, event_k=1, event_n=1).start()
        self.ops.add_camera(CameraRecord(CAMERA, "downtown", "synthetic://road?seed=0&fps=2&realtime=1", {"scenes": ["road"]}))
        self.plane.wake()

    def serving(self) -> set[str]:
        """The versions of ALG that the workers' scorers serve now (heads they hold, if no scorer says)."""
        out = set()
        for st in self.plane.cluster.worker_status().values():
            serving = st.get("serving") or {}
            v = serving.get(ALG) if serving else (st.get("heads") or {}).get(ALG)
            if v:
                out.add(str(v))
        return out

    def wait_serving(self, version: int, timeout_s: float) -> float | None:
        end = time.perf_counter() + timeout_s
        while time.perf_counter() < end:
            if self.serving() == {str(version)}:
                return time.perf_counter()
            time.sleep(0.02)
        return None

    def close(self) -> None:
        self.plane.stop(shutdown=True)


def run(trials: int, *, kafka: str | None, use_ray: bool, seed: int = 0, n: int = 6000, runtime: bool = True) -> dict:
    from benchmarks._flywheel_world import FlyWorld
    from warehouse.bus.events import MissEvent, to_wire
    from warehouse.retraining.labeling import SimulatedLabeler
    from warehouse.retraining.loop import RetrainingLoop
    from warehouse.retraining.simulation import rare_event_pool
    from warehouse.retraining.worker import RetrainingWorker

    root = Path(tempfile.mkdtemp(prefix="h10-latency-"))
    bus = None
    if kafka:
        from warehouse.bus import KafkaBus

        bus = KafkaBus(kafka, topic_prefix=f"lat{int(time.time())}.")
    w = FlyWorld(root, bus=bus)
    sp = rare_event_pool(n, positive_rate=0.04, dim=1280, n_modes=trials + 1, mode_share=1.0, seed=seed, prefix="cam-l:")
    ids, x, y, modes = sp.frame_ids, sp.embeddings, sp.labels, sp.modes
    w.retain(ids, x, {f: (EVENT,) if v else () for f, v in zip(ids, y)})
    rng = np.random.default_rng(seed)
    order = rng.permutation(n)
    ho = order[:800]  # fixed held-out: every appearance
    rest = order[800:]
    tr = [i for i in rest[:2500] if modes[i] in (-1, 0)]  # v1 never sees appearances 1..trials
    v1 = w.register(ALG, EVENT, "road", x_train=x[tr], y_train=y[tr], train_ids=[ids[i] for i in tr], x_ho=x[ho], y_ho=y[ho],
                    ho_ids=[ids[i] for i in ho], seed=seed)
    used = set(tr) | set(ho)
    labeler = SimulatedLabeler(sp.truth())
    if use_ray:
        import ray

        ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False)
    rt, startup_s = None, None
    if runtime:  # not timed: the camera starts and serves v1 before the first miss
        t_rt = time.perf_counter()
        rt = _Runtime(w, root)
        if rt.wait_serving(v1["version"], timeout_s=180) is None:
            rt.close()
            raise RuntimeError(f"the runtime did not start serving {ALG} v{v1['version']} on {CAMERA} within 180 s "
                               f"(serving {rt.serving()}; plane failures {list(rt.plane.failures)[:3]})")
        startup_s = round(time.perf_counter() - t_rt, 2)
    loop = RetrainingLoop(algorithm_id=ALG, event_type=EVENT, catalog=w.catalog, store=w.store, pool=w.pool, labeler=labeler,
                          bus=w.bus, seed=seed, flywheel=w.flywheel, budget=48, epochs=200, on_pass="promote", use_ray=use_ray)
    worker = RetrainingWorker(w.bus, w.flywheel, loop_for=lambda a: loop if a == ALG else None)
    updates = w.bus.consumer("model-updates", group="latency-probe", from_beginning=False)
    updates.poll(timeout_s=0.5)
    lat, run_lat, outcomes = [], [], []
    try:
        for t in range(1, trials + 1):
            cand = [i for i in rest[2500:] if modes[i] == t and i not in used][:3]
            used.update(cand)
            t0 = time.perf_counter()
            for i in cand:
                ev = MissEvent(event_id=f"miss-lat-{t}-{i}", kind="missed_event", camera_id="cam-l", algorithm_id=ALG,
                               frame_ref=ids[i], ts_ms=int(time.time() * 1000), reporter="bench")
                w.bus.publish("miss-events", to_wire(ev), key=ALG)
            w.bus.flush()
            got, res = None, []
            deadline = time.perf_counter() + 300
            while got is None and time.perf_counter() < deadline:
                res += worker.run_once(timeout_s=0.2)
                for r in updates.poll(timeout_s=0.05):
                    if r.value.get("action") == "promoted":
                        got = time.perf_counter()
                updates.commit()
                if res and res[-1].action != "promoted":
                    break
            running = None
            if got is not None and rt is not None:
                running = rt.wait_serving(res[-1].new_version, timeout_s=120)
            outcomes.append({"trial": t, "promoted": got is not None, "gate": str(res[-1].decision) if res else "no result",
                             "labels": res[-1].labels_used if res else 0, "seconds": round((got or time.perf_counter()) - t0, 3),
                             "running_s": round(running - t0, 3) if running else None,
                             "retrain_s": round(res[-1].seconds, 3) if res else None})
            if got is not None:
                lat.append(got - t0)
                if running is not None:
                    run_lat.append(running - t0)
    finally:
        worker.close()
        if rt is not None:
            rt.close()
        w.close()
        if use_ray or rt is not None:
            import ray

            ray.shutdown()
    def pct(xs: list[float], p: float) -> float | None:
        return round(float(np.percentile(xs, p)), 3) if xs else None

    decided = [o["seconds"] for o in outcomes]
    end = run_lat if runtime else lat  # the end point: running in the runtime (promoted with --no-runtime)
    return {"benchmark": "loop_latency", "trials": trials, "promoted": len(lat), "refused_by_gate": trials - len(lat),
            "running_in_runtime": len(run_lat) if runtime else None,
            "decision_p50_s": pct(decided, 50), "p50_s": pct(end, 50), "p99_s": pct(end, 99),
            "max_s": round(max(end), 3) if end else None, "goal_p50_under_60s": bool(end and pct(end, 50) < 60),
            "promoted_p50_s": pct(lat, 50), "promoted_p99_s": pct(lat, 99),
            "bus": "kafka" if kafka else "sqlite (embedded)", "training": "ray task" if use_ray else "inline",
            "measured": ("MissEvent published -> the runtime worker's scorer serves the promoted version (control plane on a local "
                         "Ray, one synthetic road camera, ONNX backbone); promoted_* = -> 'promoted' ModelUpdateEvent consumed")
            if runtime else "MissEvent published -> 'promoted' ModelUpdateEvent consumed (catalog written first); runtime not run",
            "runtime_startup_s": startup_s, "v1_heldout_f1": round(v1["heldout_f1"], 4), "per_trial": outcomes}


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--full", action="store_true", help="20 trials (default 5)")
    ap.add_argument("--trials", type=int, default=None)
    ap.add_argument("--kafka", default=None, help="host:port of a Kafka broker (default: the embedded SQLite bus)")
    ap.add_argument("--ray", action="store_true", help="train as a Ray task on a local Ray (2 CPUs)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--no-runtime", action="store_true", help="stop at the 'promoted' event (no control plane, no Ray worker)")
    a = ap.parse_args(argv)
    import os

    os.environ.setdefault("RAY_AUTH_MODE", "disabled")
    print(json.dumps(run(a.trials or (20 if a.full else 5), kafka=a.kafka, use_ray=a.ray, seed=a.seed, runtime=not a.no_runtime)))


if __name__ == "__main__":
    main()
