"""The demo's time budget: `warehouse demo` end to end, a small city through the one serving path
(goal: under 2 minutes on 2 cores).

    python -m benchmarks.demo_loop            # one run on the embedded bus
    python -m benchmarks.demo_loop --full     # three runs; reports the median and the worst
    python -m benchmarks.demo_loop --kafka 127.0.0.1:9092

Prints one JSON object as its last line.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
from pathlib import Path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--full", action="store_true", help="three runs instead of one")
    ap.add_argument("--kafka", default=None, help="HOST:PORT of a running broker")
    args = ap.parse_args()
    os.environ.setdefault("RAY_AUTH_MODE", "disabled")
    from warehouse.demo import DemoOptions, run_demo
    from warehouse.settings import Settings

    runs = []
    for _ in range(3 if args.full else 1):
        with tempfile.TemporaryDirectory() as td:
            rep = run_demo(DemoOptions(home=Path(td) / "demo", cache_dir=Settings().resolved_cache_dir, kafka=args.kafka))
        runs.append(rep)
    secs = [r["seconds"] for r in runs]
    last = runs[-1]
    print(json.dumps({
        "runs": len(runs), "bus": "kafka" if args.kafka else "sqlite",
        "seconds_median": statistics.median(secs), "seconds_max": max(secs),
        "cameras": last["cameras"], "workers": last["workers"], "placement_workers": len(set(last["placement"].values())),
        "alerts": last["alerts"], "rejected": last["rejected"], "miss_events": last["miss_events"],
        "promoted": last["promoted"], "promotion_to_swap_s": last["promotion_to_swap_s"],
        "swapped_without_dropped_frames": last["swapped_without_dropped_frames"],
        "promoted_runs": sum(1 for r in runs if r["promoted"]), "timings_s": last["timings_s"],
        "goal_s": 120, "within_goal": max(secs) < 120,
    }))


if __name__ == "__main__":
    main()
