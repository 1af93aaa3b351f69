"""Benchmark ``scheduler_scale``: the planner at city scale, its incremental re-plans, and
its gap to the LP bound per instance family.

Default (small): 5,000 cameras on 50 workers, 200 changes, LP gaps on 300-camera instances.
``--full``: 100,000 cameras on 1,000 workers (~3 million demands), 1,000 changes, LP gaps on
2,000-camera instances (the issue's sizes). Progress goes to stderr; the last line of stdout
is ONE JSON object::

    .venv/bin/python -m benchmarks.scheduler_scale [--full] [--cameras N] [--workers N]
        [--changes N] [--gap-cameras N] [--families a,b] [--seed S]

* ``full_plan_s`` (wall) and ``full_plan_cpu_s`` (this process's CPU): ``plan(instance)``;
* ``peak_rss_mib``: peak resident memory (includes the instance's own records);
* ``incremental_ms_p50`` / ``_p99``, ``migrations_mean``: ``plan(changed, previous=plan)``
  over a mixed stream of changes (camera added/removed, demands paused, cost changed,
  worker lost/added, job started/finished), each applied to the previous result;
* ``incremental_cpu_ms_p50`` / ``_p99`` / ``_p99_by_kind``: the same, this thread's CPU time
  only (what to compare on a shared, noisy machine), also per kind; ``change_build_ms_p50`` / ``_p99``:
  building the changed instance (``Instance.replace``, not part of the re-plan), including a
  young-generation garbage collection (``gc.collect(1)``) of what building it allocated (a new
  100,000-record tuple, which the collector's next young pass would otherwise traverse inside
  whichever call comes next); ``incremental_gc_ms_p99``: collector pauses inside the re-plan
  itself (included in its figures); ``background_full_replans``: how often
  the drift policy asked for a full re-plan (run inline here, timed apart from the
  incremental figures, as the control plane would run it in the background);
* ``incremental_vs_full``: objective of the last plan of the stream / a full re-plan of it;
* ``lp_gap``: per family, 1 - objective / the tightest valid bound (min of the LP relaxation
  and the configuration bound), ``lp_gap_plain``: against the LP relaxation alone;
  ``vs_round_robin`` / ``vs_first_fit``: objective / baseline objective on the same instances.
"""
from __future__ import annotations

import argparse
import dataclasses
import gc
import json
import random
import resource
import statistics
import sys
import time

from scheduler import (
    FAMILIES,
    CameraSpec,
    Demand,
    Instance,
    JobSpec,
    check,
    config_bound,
    first_fit_decreasing,
    generate,
    lp_bound,
    needs_full_replan,
    plan,
    round_robin,
)


def _pct(values: list[float], q: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, int(round(q * (len(s) - 1))))]


def _rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class _GcPauses:
    """Wall time the garbage collector ran (a ``gc.callbacks`` entry), summed into ``total``."""

    def __init__(self) -> None:
        self.total, self._t = 0.0, 0.0

    def __call__(self, phase: str, info: dict) -> None:
        if phase == "start":
            self._t = time.perf_counter()
        else:
            self.total += time.perf_counter() - self._t


def change(inst: Instance, rng: random.Random, i: int) -> tuple[str, Instance]:
    kind = rng.choice(["camera_added", "camera_removed", "demands_changed", "cost_changed", "worker_lost",
                       "worker_added", "job_started", "job_finished"])
    cams = inst.cameras
    if kind == "camera_added":
        algs = rng.sample(inst.algorithms, min(12, len(inst.algorithms)))
        cid = f"new{i:06d}"
        cam = CameraSpec(cid, 2.0, 8.0, None, tuple(Demand(cid, a.id, rng.uniform(0.5, 2), 5.0, 1.0) for a in algs))
        return kind, inst.replace(cameras=cams + (cam,))
    if kind == "camera_removed":
        k = rng.randrange(len(cams))
        return kind, inst.replace(cameras=cams[:k] + cams[k + 1:])
    if kind == "demands_changed":
        k = rng.randrange(len(cams))
        c = cams[k]
        return kind, inst.replace(cameras=cams[:k] + (dataclasses.replace(c, demands=c.demands[1:]),) + cams[k + 1:])
    if kind == "cost_changed":
        k = rng.randrange(len(inst.algorithms))
        a = inst.algorithms[k]
        algs = inst.algorithms[:k] + (dataclasses.replace(a, head_ms=a.head_ms * rng.uniform(0.7, 1.4)),) + \
            inst.algorithms[k + 1:]
        return kind, inst.replace(algorithms=algs)
    if kind == "worker_lost" and len(inst.workers) > 2:
        k = rng.randrange(len(inst.workers))
        return kind, inst.replace(workers=inst.workers[:k] + inst.workers[k + 1:])
    if kind in ("worker_added", "worker_lost"):
        w = rng.choice(inst.workers)
        return "worker_added", inst.replace(workers=inst.workers + (dataclasses.replace(w, id=f"wnew{i:05d}"),))
    if kind == "job_finished" and inst.jobs:
        return kind, inst.replace(jobs=inst.jobs[1:])
    return "job_started", inst.replace(jobs=inst.jobs + (JobSpec(f"jnew{i:05d}", rng.uniform(100, 800), 256.0),))


def scale(n_cameras: int, n_workers: int, n_changes: int, seed: int, background: bool = True) -> dict:
    t0 = time.perf_counter()
    inst = generate("heterogeneous", n_cameras=n_cameras, n_workers=n_workers, demands_per_camera=40, seed=seed)
    n_dem = sum(len(c.demands) for c in inst.cameras)
    print(f"instance: {n_cameras} cameras, {len(inst.workers)} workers, {n_dem} demands "
          f"({time.perf_counter() - t0:.1f}s, rss {_rss_mib():.0f} MiB)", file=sys.stderr, flush=True)
    rss_before = _rss_mib()
    t0, c0 = time.perf_counter(), time.process_time()
    p = plan(inst)
    full_s, full_cpu = time.perf_counter() - t0, time.process_time() - c0
    print(f"full plan {full_s:.2f}s (cpu {full_cpu:.2f}s), objective {p.objective:.1f}, "
          f"{len(p.unserved)} unserved", file=sys.stderr, flush=True)
    rng = random.Random(seed)
    lat, cpu, mig, kinds, build_ms, drift_ms = [], [], [], {}, [], []
    by_kind: dict[str, list[float]] = {}
    full_replans, full_replan_s = 0, []
    cur_inst, cur = inst, p
    gc_in_plan: list[float] = []
    pause = _GcPauses()
    gc.callbacks.append(pause)
    for i in range(n_changes):
        t0 = time.perf_counter()
        kind, nxt = change(cur_inst, rng, i)
        # the caller's garbage: the changed instance's new 100,000-record tuple is young; its
        # young-generation collection belongs to building it, not to the re-plan
        gc.collect(1)
        build_ms.append((time.perf_counter() - t0) * 1e3)
        pause.total = 0.0
        t0, c0 = time.perf_counter(), time.thread_time()
        cur = plan(nxt, previous=cur)
        cpu.append((time.thread_time() - c0) * 1e3)
        lat.append((time.perf_counter() - t0) * 1e3)
        gc_in_plan.append(pause.total * 1e3)
        by_kind.setdefault(kind, []).append(cpu[-1])
        mig.append(cur.migrations)
        kinds[kind] = kinds.get(kind, 0) + 1
        cur_inst = nxt
        if background:  # the control plane's background full re-plan, when the drift policy asks
            t0 = time.perf_counter()
            again = needs_full_replan(cur, cur_inst)
            drift_ms.append((time.perf_counter() - t0) * 1e3)
            if again:
                t0 = time.perf_counter()
                cur = plan(cur_inst)
                full_replan_s.append(time.perf_counter() - t0)
                full_replans += 1
        if (i + 1) % max(1, n_changes // 10) == 0:
            print(f"  {i + 1} changes, last {lat[-1]:.1f} ms", file=sys.stderr, flush=True)
    gc.callbacks.remove(pause)
    ok = check(cur_inst, cur).ok if n_cameras <= 20_000 else None
    full_again = plan(cur_inst).objective if n_changes else p.objective
    return {
        "cameras": n_cameras, "workers": len(inst.workers), "demands": n_dem,
        "full_plan_s": round(full_s, 3), "full_plan_cpu_s": round(full_cpu, 3),
        "peak_rss_mib": round(_rss_mib(), 1), "instance_rss_mib": round(rss_before, 1),
        "incremental_changes": n_changes,
        "incremental_ms_p50": round(statistics.median(lat), 3) if lat else None,
        "incremental_ms_p99": round(_pct(lat, 0.99), 3) if lat else None,
        "migrations_mean": round(statistics.fmean(mig), 3) if mig else None,
        "change_kinds": kinds,
        "incremental_cpu_ms_p50": round(statistics.median(cpu), 3) if cpu else None,
        "incremental_cpu_ms_p99": round(_pct(cpu, 0.99), 3) if cpu else None,
        "incremental_cpu_ms_p99_by_kind": {k: round(_pct(v, 0.99), 3) for k, v in sorted(by_kind.items())},
        "incremental_cpu_ms_p50_by_kind": {k: round(statistics.median(v), 3) for k, v in sorted(by_kind.items())},
        "incremental_gc_ms_p99": round(_pct(gc_in_plan, 0.99), 3) if gc_in_plan else None,
        "change_build_ms_p99": round(_pct(build_ms, 0.99), 3) if build_ms else None,
        "change_build_ms_p50": round(statistics.median(build_ms), 3) if build_ms else None,
        "background_full_replans": full_replans if background else None,
        "background_full_replan_s_mean": round(statistics.fmean(full_replan_s), 3) if full_replan_s else None,
        "drift_check_ms_p50": round(statistics.median(drift_ms), 3) if drift_ms else None,
        "incremental_vs_full": round(cur.objective / full_again, 5) if full_again else None,
        "incremental_plan_valid": ok,
    }


def gaps(n_cameras: int, families: list[str], seed: int) -> dict:
    """``lp_gap``: 1 - objective / the tightest valid bound (the smaller of the LP relaxation
    and the configuration bound, ``scheduler.bounds``); ``lp_gap_plain``: the same against the
    LP relaxation alone (what ``lp_gap`` measured before the configuration bound existed)."""
    out: dict = {"lp_gap": {}, "lp_gap_plain": {}, "bound_kind": {}, "vs_round_robin": {}, "vs_first_fit": {},
                 "plan_s": {}, "plan_cpu_s": {}, "lp_s": {}, "config_s": {}, "config_cpu_s": {}}
    for fam in families:
        inst = generate(fam, n_cameras=n_cameras, seed=seed)
        t0, c0 = time.perf_counter(), time.process_time()
        p = plan(inst)
        out["plan_s"][fam] = round(time.perf_counter() - t0, 3)
        out["plan_cpu_s"][fam] = round(time.process_time() - c0, 3)
        t0 = time.perf_counter()
        lp = lp_bound(inst)
        out["lp_s"][fam] = round(time.perf_counter() - t0, 3)
        t0, c0 = time.perf_counter(), time.process_time()
        cfg = config_bound(inst)
        out["config_s"][fam] = round(time.perf_counter() - t0, 3)
        out["config_cpu_s"][fam] = round(time.process_time() - c0, 3)
        bound = min(lp, cfg)
        rr, ff = round_robin(inst).objective, first_fit_decreasing(inst).objective
        out["lp_gap"][fam] = round(1.0 - p.objective / bound, 5) if bound > 0 else 0.0
        out["lp_gap_plain"][fam] = round(1.0 - p.objective / lp, 5) if lp > 0 else 0.0
        out["bound_kind"][fam] = "config" if cfg < lp else "lp"
        out["vs_round_robin"][fam] = round(p.objective / rr, 4) if rr else None
        out["vs_first_fit"][fam] = round(p.objective / ff, 4) if ff else None
        print(f"{fam}: gap {out['lp_gap'][fam]:.4f} ({out['bound_kind'][fam]}; "
              f"plain LP {out['lp_gap_plain'][fam]:.4f}), "
              f"vs rr {out['vs_round_robin'][fam]}, vs ffd {out['vs_first_fit'][fam]} "
              f"(lp {out['lp_s'][fam]}s, config {out['config_s'][fam]}s)", file=sys.stderr, flush=True)
    out["lp_gap_max"] = max(out["lp_gap"].values()) if out["lp_gap"] else None
    return out


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--full", action="store_true", help="100,000 cameras / 1,000 workers, 1,000 changes, 2,000-camera gaps")
    ap.add_argument("--cameras", type=int)
    ap.add_argument("--workers", type=int)
    ap.add_argument("--changes", type=int)
    ap.add_argument("--gap-cameras", type=int)
    ap.add_argument("--families", default=",".join(FAMILIES))
    ap.add_argument("--skip-scale", action="store_true")
    ap.add_argument("--skip-gaps", action="store_true")
    ap.add_argument("--no-background", action="store_true", help="never run the drift policy's full re-plans")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    n_cam = args.cameras or (100_000 if args.full else 5_000)
    n_w = args.workers or (1_000 if args.full else 50)
    n_ch = args.changes if args.changes is not None else (1_000 if args.full else 200)
    n_gap = args.gap_cameras or (2_000 if args.full else 300)
    result: dict = {"benchmark": "scheduler_scale"}
    if not args.skip_gaps:
        result.update(gaps(n_gap, [f for f in args.families.split(",") if f], args.seed))
        result["gap_cameras"] = n_gap
    if not args.skip_scale:
        result.update(scale(n_cam, n_w, n_ch, args.seed, background=not args.no_background))
    print(json.dumps(result))


if __name__ == "__main__":
    main()
