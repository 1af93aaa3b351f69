"""Generated instance families for tests and benchmarks (deterministic by seed).

Cameras belong to scenes; a scene has a pool of algorithms (plus a few every scene shares)
and its cameras draw their demands from it, as the knowledge graph's relevance does. The
workers are sized so that the cameras' full demand is ``load`` times the pooled compute.

* ``uniform``: identical GPU workers; ``heterogeneous``: GPU nodes and CPU nodes of
  different sizes; ``load50`` / ``load100`` / ``load200``: demand at 50/100/200 % of
  capacity (heterogeneous workers); ``memory_bound``: many distinct algorithms, small
  worker memory; ``compute_bound``: few algorithms, heavy backbones; ``skewed``: Pareto
  priorities; ``pinned``: 40 % of cameras pinned to a node.

>>> inst = generate("uniform", n_cameras=50, seed=1)
>>> len(inst.cameras), len(inst.workers) > 0
(50, True)
"""
from __future__ import annotations

import numpy as np

from scheduler.errors import InstanceError
from scheduler.instance import AlgorithmSpec, Backbone, CameraSpec, Demand, Instance, JobSpec, WorkerSpec

FAMILIES = ("uniform", "heterogeneous", "load50", "load100", "load200", "memory_bound", "compute_bound",
            "skewed", "pinned")
FPS_CHOICES = np.array([1.0, 2.0, 5.0, 10.0, 15.0])


def tiny() -> Instance:
    """Three cameras, two workers, one job: the doctest instance."""
    algs = (AlgorithmSpec("fire", 1.0, 16.0), AlgorithmSpec("smoke", 0.5, 8.0), AlgorithmSpec("litter", 2.0, 32.0))
    cams = []
    for i, (node, algos) in enumerate(((None, ("fire", "smoke")), ("n1", ("litter",)), (None, ("fire", "litter")))):
        cid = f"c{i}"
        cams.append(CameraSpec(cid, 2.0, 8.0, node, tuple(Demand(cid, a, 1.0 + j, 5.0, 1.0)
                                                          for j, a in enumerate(algos))))
    workers = (WorkerSpec("w0", "n0", 400.0, 512.0), WorkerSpec("w1", "n1", 200.0, 256.0))
    return Instance(Backbone(64.0), workers, tuple(cams), algs, (JobSpec("train-1", 50.0, 100.0),))


def generate(family: str, *, n_cameras: int = 2000, seed: int = 0, demands_per_camera: int = 12,
             load: float | None = None, n_workers: int | None = None) -> Instance:
    """An instance of ``family`` (see module docstring)."""
    if family not in FAMILIES:
        raise InstanceError(f"family={family!r}; expected one of {list(FAMILIES)}")
    rng = np.random.default_rng([seed, FAMILIES.index(family)])
    load = load if load is not None else {"load50": 0.5, "load200": 2.0}.get(family, 1.0)
    n_scenes = 8
    shared = 4
    pool = {"memory_bound": 6 * demands_per_camera, "compute_bound": 2}.get(family, 2 * demands_per_camera)
    n_algs = shared + n_scenes * pool
    head = rng.uniform(0.2, 2.0, n_algs)
    mem = rng.uniform(8.0, 48.0, n_algs)
    if family == "compute_bound":
        head *= 3.0
    algorithms = tuple(AlgorithmSpec(f"alg{a:04d}", float(head[a]), float(mem[a])) for a in range(n_algs))
    heavy = 4.0 if family == "compute_bound" else 1.0
    decode = rng.uniform(1.0, 3.0, n_cameras)
    backbone = rng.uniform(4.0, 12.0, n_cameras) * heavy
    scene = rng.integers(0, n_scenes, n_cameras)
    k = min(demands_per_camera, shared + pool)
    cams_raw = []
    full_ms = 0.0
    for c in range(n_cameras):
        choices = np.concatenate([np.arange(shared), shared + scene[c] * pool + np.arange(pool)])
        n_dem = int(rng.integers(max(1, k // 2), k + 1))
        picked = np.sort(rng.choice(choices, size=min(n_dem, len(choices)), replace=False))
        fps = rng.choice(FPS_CHOICES, size=len(picked))
        frac = rng.choice([0.2, 0.5, 1.0], size=len(picked))
        if family == "skewed":
            pri = 0.1 + rng.pareto(1.2, len(picked))
        else:
            pri = rng.uniform(0.5, 2.0, len(picked))
        cams_raw.append((picked, fps, np.maximum(fps * frac, 0.5).clip(max=fps), pri))
        full_ms += (decode[c] + backbone[c]) * fps.max() + float((head[picked] * fps).sum())
    workers = _workers(family, rng, full_ms / load, n_workers)
    nodes = sorted({w.node for w in workers})
    pin_nodes = rng.choice(len(nodes), n_cameras) if family == "pinned" else None
    pinned = rng.random(n_cameras) < 0.4 if family == "pinned" else np.zeros(n_cameras, dtype=bool)
    cameras = []
    for c, (picked, fps, minf, pri) in enumerate(cams_raw):
        cid = f"cam{c:06d}"
        demands = tuple(Demand(cid, algorithms[a].id, float(p), float(f), float(mn))
                        for a, f, mn, p in zip(picked.tolist(), fps.tolist(), minf.tolist(), pri.tolist()))
        node = nodes[int(pin_nodes[c])] if pinned[c] else None
        cameras.append(CameraSpec(cid, float(decode[c]), float(backbone[c]), node, demands))
    bb = 192.0
    jobs = tuple(JobSpec(f"job{j}", float(rng.uniform(200, 2000)), float(rng.uniform(256, 1024)))
                 for j in range(max(1, len(workers) // 20)))
    return Instance(Backbone(bb), workers, tuple(cameras), algorithms, jobs)


def _workers(family: str, rng: np.random.Generator, capacity_ms: float, n_workers: int | None):
    """Workers whose pooled compute is ``capacity_ms``."""
    memory_bound = family == "memory_bound"
    if family in ("uniform", "memory_bound", "compute_bound", "skewed"):
        kinds = [("gpu", 1.0, 4096.0 if memory_bound else 16384.0)]
    else:  # heterogeneous: big and small GPUs, CPU nodes
        kinds = [("gpu", 1.0, 16384.0), ("gpu-small", 0.4, 8192.0), ("cpu", 0.08, 4096.0)]
    weights = np.array([k[1] for k in kinds])
    share = np.array([0.5, 0.3, 0.2])[:len(kinds)] if len(kinds) > 1 else np.array([1.0])
    n = n_workers or max(len(kinds), int(round(capacity_ms / 12000.0)))
    counts = np.maximum(1, np.round(n * share).astype(int))
    unit = capacity_ms / float((counts * weights).sum())
    out = []
    for (kind, weight, mem), count in zip(kinds, counts.tolist()):
        for i in range(count):
            out.append(WorkerSpec(f"{kind}-{i:04d}", f"{kind}-node-{i // 4:03d}", float(unit * weight), mem))
    return tuple(out)
