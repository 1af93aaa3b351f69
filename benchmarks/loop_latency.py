"""Loop latency (issue 10): a miss event on the bus -> a promoted version in the catalog and its
``model-updates`` event on the bus.

    python -m benchmarks.loop_latency            # 5 trials, embedded bus, training inline
    python -m benchmarks.loop_latency --full     # 20 trials
    python -m benchmarks.loop_latency --kafka 127.0.0.1:9092 --ray

What is measured, per trial: from publishing the MissEvent(s) to a consumer of
``model-updates`` receiving the ``promoted`` event (so the catalog write, which comes first,
is done). In between, all real: the retraining worker consumes the miss into the durable
ledger, the loop mines the frame pool (FAISS), a simulated labeler answers (counted),
PyTorch trains a 1280-d head warm-started from production (a Ray task with ``--ray``), the
gate evaluates, the catalog registers and promotes. NOT measured: the control plane's swap
in the runtime (the lead's part), which starts when it reads that event. Embeddings: the
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


def run(trials: int, *, kafka: str | None, use_ray: bool, seed: int = 0, n: int = 6000) -> dict:
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

        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    loop = RetrainingLoop(algorithm_id=ALG, event_type=EVENT, catalog=w.catalog, store=w.store, pool=w.pool, labeler=labeler,
                          bus=w.bus, seed=seed, flywheel=w.flywheel, budget=48, epochs=200, on_pass="promote", use_ray=use_ray)
    worker = RetrainingWorker(w.bus, w.flywheel, loop_for=lambda a: loop if a == ALG else None)
    updates = w.bus.consumer("model-updates", group="latency-probe", from_beginning=False)
    updates.poll(timeout_s=0.5)
    lat, outcomes = [], []
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
            outcomes.append({"trial": t, "promoted": got is not None, "gate": str(res[-1].decision) if res else "no result",
                             "labels": res[-1].labels_used if res else 0, "seconds": round((got or time.perf_counter()) - t0, 3),
                             "retrain_s": round(res[-1].seconds, 3) if res else None})
            if got is not None:
                lat.append(got - t0)
    finally:
        worker.close()
        w.close()
        if use_ray:
            import ray

            ray.shutdown()
    q = (lambda p: round(float(np.percentile(lat, p)), 3)) if lat else (lambda p: None)
    decided = [o["seconds"] for o in outcomes]
    return {"benchmark": "loop_latency", "trials": trials, "promoted": len(lat), "refused_by_gate": trials - len(lat),
            "decision_p50_s": round(float(np.percentile(decided, 50)), 3) if decided else None, "p50_s": q(50), "p99_s": q(99),
            "max_s": round(max(lat), 3) if lat else None, "goal_p50_under_60s": bool(lat and q(50) < 60),
            "bus": "kafka" if kafka else "sqlite (embedded)", "training": "ray task" if use_ray else "inline",
            "measured": "MissEvent published -> 'promoted' ModelUpdateEvent consumed (catalog written first); runtime swap not included",
            "v1_heldout_f1": round(v1["heldout_f1"], 4), "per_trial": outcomes}


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--full", action="store_true", help="20 trials (default 5)")
    ap.add_argument("--trials", type=int, default=None)
    ap.add_argument("--kafka", default=None, help="host:port of a Kafka broker (default: the embedded SQLite bus)")
    ap.add_argument("--ray", action="store_true", help="train as a Ray task on a local Ray (2 CPUs)")
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args(argv)
    print(json.dumps(run(a.trials or (20 if a.full else 5), kafka=a.kafka, use_ray=a.ray, seed=a.seed)))


if __name__ == "__main__":
    main()
