"""Benchmark ``graph_scale``: relevance over a synthetic city.

Default: 5,000 cameras over a 1,000-algorithm catalog; ``--full``: 100,000 cameras over
10,000 algorithms (the issue's size). Prints progress to stderr and ONE JSON object as the
last line of stdout::

    .venv/bin/python -m benchmarks.graph_scale [--full] [--cameras N] [--algorithms N] [--seed S]

* ``full_query_s``: relevance (with explanations) for every camera at one time, one core;
* ``camera_query_ms_p50`` / ``_p99``: one ``CityGraph.relevance`` call on random cameras at
  random times (wall clock; ``*_cpu_*`` variants count this thread's CPU time only, which
  is what to compare on a shared, noisy machine);
* ``feedback_update_ms``: one ``record_rejection`` applied (in memory; the journal variants
  are reported as ``feedback_update_journal_ms`` (no fsync) and ``..._fsync_ms``);
* ``peak_rss_mib``: peak resident memory of the process.
"""
from __future__ import annotations

import argparse
import json
import random
import resource
import statistics
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

from catalog import load_taxonomy
from knowledge_graph import CityGraph


def synthetic_catalog(n_algorithms: int, seed: int) -> list[dict]:
    """The catalog's algorithms (what ``warehouse catalog build`` registers) plus vendor models
    up to ``n_algorithms``: each detects 1-2 events, tagged with 1-2 scenes where those events
    happen (70%) or scene-independent."""
    from warehouse.training import head_spec
    from warehouse.training.real_algorithms import real_algorithm_specs, spec_of

    tax = load_taxonomy()
    records = [head_spec(s, e).to_dict() for s, e in tax.scene_event_pairs()] + [spec_of(e).to_dict() for e in real_algorithm_specs()]
    events = sorted(tax.events)
    rng = random.Random(seed)
    i = 0
    while len(records) < n_algorithms:
        evs = rng.sample(events, rng.choice((1, 1, 1, 2)))
        allowed = sorted(set(tax.events[evs[0]].scenes).intersection(*(tax.events[e].scenes for e in evs[1:])))
        if not allowed:
            continue
        tags = rng.sample(allowed, min(len(allowed), rng.choice((1, 2)))) if rng.random() < 0.7 else ["any"]
        records.append({"id": f"vendor{i:05d}.{evs[0]}", "kind": "onnx_model", "event_types": evs, "scene_tags": tags})
        i += 1
    return records


def populate(graph: CityGraph, n_cameras: int, seed: int) -> None:
    """Cameras in random leaf regions, 1-3 scene links with a dominant primary scene."""
    rng = random.Random(seed + 1)
    scenes = sorted(graph.ontology.taxonomy.scenes)
    regions = sorted(graph.ontology.regions)
    for c in range(n_cameras):
        k = rng.choice((1, 1, 2, 2, 3))
        picked = rng.sample(scenes, k)
        confs = sorted((rng.uniform(0.25, 1.0) for _ in picked), reverse=True)
        graph.add_camera(f"cam{c:06d}", region=rng.choice(regions), scenes=dict(zip(picked, confs)))


def _pct(values: list[float], q: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, int(round(q * (len(s) - 1))))]


def run(n_cameras: int, n_algorithms: int, seed: int) -> dict:
    t0 = time.perf_counter()
    records = synthetic_catalog(n_algorithms, seed)
    graph = CityGraph.load(algorithms=records)
    load_s = time.perf_counter() - t0
    print(f"loaded {len(graph.ontology.algorithms)} algorithms in {load_s:.2f}s", file=sys.stderr)
    t0 = time.perf_counter()
    populate(graph, n_cameras, seed)
    register_s = time.perf_counter() - t0
    print(f"registered {len(graph)} cameras in {register_s:.2f}s", file=sys.stderr)

    at = datetime(2024, 5, 1, 23, 0)
    t0, c0 = time.perf_counter(), time.process_time()
    total_choices = 0
    for rel in graph.relevance_all(at):
        total_choices += len(rel.choices)
    full_query_s = time.perf_counter() - t0
    full_query_cpu_s = time.process_time() - c0
    print(f"full query {full_query_s:.2f}s, {total_choices / len(graph):.1f} algorithms/camera", file=sys.stderr)

    rng = random.Random(seed + 2)
    ids = graph.camera_ids
    sample = [rng.choice(ids) for _ in range(min(5000, 2 * len(ids)))]
    lat_ms, cpu_ms = [], []
    for cid in sample:
        hour = datetime(2024, 5, 1, rng.randrange(24), rng.randrange(60))
        t, c = time.perf_counter(), time.thread_time()
        graph.relevance(cid, hour)
        cpu_ms.append((time.thread_time() - c) * 1e3)
        lat_ms.append((time.perf_counter() - t) * 1e3)

    # feedback: rejections of algorithms the camera actually runs
    targets = []
    for cid in sample[:2000]:
        rel = graph.relevance(cid, at)
        targets.append((cid, rng.choice(rel.choices).algorithm_id))

    def feedback_ms(g: CityGraph, prefix: str, n: int) -> float:
        t = time.perf_counter()
        for i, (cid, alg) in enumerate(targets[:n]):
            g.record_rejection(cid, alg, alert_id=f"{prefix}{i}")
        return (time.perf_counter() - t) * 1e3 / n

    fb_ms = feedback_ms(graph, "mem", 2000)
    with tempfile.TemporaryDirectory() as td:
        journaled = CityGraph(graph.ontology, journal=Path(td) / "j.jsonl", fsync=False)
        journaled._cameras.update(graph._cameras)  # same cameras, without re-registering through the journal
        fb_journal_ms = feedback_ms(journaled, "j", 2000)
        journaled.close()
        synced = CityGraph(graph.ontology, journal=Path(td) / "s.jsonl", fsync=True)
        synced._cameras.update(graph._cameras)
        fb_fsync_ms = feedback_ms(synced, "s", 200)
        synced.close()

    return {
        "benchmark": "graph_scale",
        "cameras": len(graph),
        "algorithms": len(graph.ontology.algorithms),
        "load_s": round(load_s, 3),
        "register_s": round(register_s, 3),
        "algorithms_per_camera": round(total_choices / len(graph), 2),
        "full_query_s": round(full_query_s, 3),
        "full_query_cpu_s": round(full_query_cpu_s, 3),
        "camera_query_ms_p50": round(statistics.median(lat_ms), 4),
        "camera_query_ms_p99": round(_pct(lat_ms, 0.99), 4),
        "camera_query_cpu_ms_p99": round(_pct(cpu_ms, 0.99), 4),
        "feedback_update_ms": round(fb_ms, 4),
        "feedback_update_journal_ms": round(fb_journal_ms, 4),
        "feedback_update_fsync_ms": round(fb_fsync_ms, 4),
        "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--full", action="store_true", help="100,000 cameras / 10,000 algorithms")
    ap.add_argument("--cameras", type=int)
    ap.add_argument("--algorithms", type=int)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    n_cam = args.cameras or (100_000 if args.full else 5_000)
    n_alg = args.algorithms or (10_000 if args.full else 1_000)
    print(json.dumps(run(n_cam, n_alg, args.seed)))


if __name__ == "__main__":
    main()
