"""Plans: which worker runs which camera's algorithms, at what rate. Plain data.

``simple_plan`` is the placement used until the planner proper exists: cameras go to
workers round-robin, all of one camera's algorithms on one worker (they share that
camera's backbone pass), and a worker's compute (backbone frames/s) and memory limits
are checked; a camera that fits nowhere is an error that says by how much.

>>> w = [Worker("w0", compute_fps=30, memory_mib=512), Worker("w1", compute_fps=30, memory_mib=512)]
>>> a = [Assignment("cam-a", "fire", fps=5), Assignment("cam-a", "smoke", fps=2), Assignment("cam-b", "fire", fps=5)]
>>> plan = simple_plan(["cam-a", "cam-b"], a, w)
>>> plan.worker_of("cam-a"), plan.worker_of("cam-b"), plan.placement("cam-a").fps
('w0', 'w1', 5.0)
"""
from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass
from typing import Iterable, Sequence

from scheduler.errors import PlacementError, PlanError


@dataclass(frozen=True, slots=True)
class Worker:
    """A place to run inference: ``compute_fps`` backbone frames per second, ``memory_mib``
    for the backbone and heads. ``num_gpus`` is passed to Ray as the actor's resource."""

    worker_id: str
    compute_fps: float
    memory_mib: float
    num_gpus: float = 0.0

    def __post_init__(self) -> None:
        if not self.worker_id:
            raise PlanError("worker_id is empty; give each worker a unique id, e.g. 'gpu-0'")
        for name in ("compute_fps", "memory_mib"):
            v = getattr(self, name)
            if not (isinstance(v, (int, float)) and math.isfinite(v) and v > 0):
                raise PlanError(f"worker {self.worker_id!r}: {name}={v!r}; expected a finite number > 0")
        if self.num_gpus < 0:
            raise PlanError(f"worker {self.worker_id!r}: num_gpus={self.num_gpus!r}; expected >= 0")

    def __str__(self) -> str:
        return f"worker {self.worker_id}"


@dataclass(frozen=True, slots=True)
class Assignment:
    """Run ``algorithm_id`` on ``camera_id`` at ``fps``; higher ``priority`` first."""

    camera_id: str
    algorithm_id: str
    fps: float
    priority: int = 0

    def __post_init__(self) -> None:
        if not self.camera_id or not self.algorithm_id:
            raise PlanError(f"assignment {self.camera_id!r}/{self.algorithm_id!r} needs a camera_id and an algorithm_id")
        if not (isinstance(self.fps, (int, float)) and math.isfinite(self.fps) and 0 < self.fps <= 1000):
            raise PlanError(
                f"assignment {self.camera_id}/{self.algorithm_id}: fps={self.fps!r}; expected 0 < fps <= 1000, e.g. 5"
            )
        object.__setattr__(self, "fps", float(self.fps))

    def __str__(self) -> str:
        return f"{self.camera_id}/{self.algorithm_id}@{self.fps:g}fps"


@dataclass(frozen=True, slots=True)
class CameraPlacement:
    camera_id: str
    worker_id: str
    assignments: tuple[Assignment, ...]

    @property
    def fps(self) -> float:
        """The camera's frame rate on the worker: the fastest of its algorithms (one shared backbone pass)."""
        return max(a.fps for a in self.assignments)


@dataclass(frozen=True, slots=True)
class Plan:
    workers: tuple[Worker, ...]
    placements: tuple[CameraPlacement, ...]

    def placement(self, camera_id: str) -> CameraPlacement:
        for p in self.placements:
            if p.camera_id == camera_id:
                return p
        raise PlanError(f"camera {camera_id!r} is not in this plan; placed cameras: {[p.camera_id for p in self.placements]}")

    def worker_of(self, camera_id: str) -> str:
        return self.placement(camera_id).worker_id

    def cameras_on(self, worker_id: str) -> tuple[str, ...]:
        return tuple(p.camera_id for p in self.placements if p.worker_id == worker_id)

    def assignments_on(self, worker_id: str) -> tuple[Assignment, ...]:
        return tuple(a for p in self.placements if p.worker_id == worker_id for a in p.assignments)

    def worker(self, worker_id: str) -> Worker:
        for w in self.workers:
            if w.worker_id == worker_id:
                return w
        raise PlanError(f"worker {worker_id!r} is not in this plan; workers: {[w.worker_id for w in self.workers]}")


@dataclass(frozen=True, slots=True)
class CostModel:
    """How much a camera costs a worker (the scheduler proper replaces this with profiles)."""

    backbone_memory_mib: float = 64.0  # once per worker
    head_memory_mib: float = 1.0  # per distinct algorithm on a worker
    head_compute_ratio: float = 0.01  # a head's cost per frame, as a fraction of a backbone pass

    def camera_compute_fps(self, assignments: Sequence[Assignment]) -> float:
        return max(a.fps for a in assignments) * (1.0 + self.head_compute_ratio * len(assignments))

    def worker_memory_mib(self, algorithm_ids: Iterable[str]) -> float:
        ids = set(algorithm_ids)
        return 0.0 if not ids else self.backbone_memory_mib + self.head_memory_mib * len(ids)


def _check_inputs(cameras: Sequence[str], assignments: Sequence[Assignment], workers: Sequence[Worker]) -> None:
    if not workers:
        raise PlanError("no workers given; pass at least one Worker(worker_id, compute_fps, memory_mib)")
    for what, counts in (("worker id", Counter(w.worker_id for w in workers)), ("camera id", Counter(cameras)),
                         ("(camera, algorithm)", Counter((a.camera_id, a.algorithm_id) for a in assignments))):
        dup = [k for k, c in counts.items() if c > 1]
        if dup:
            raise PlanError(f"duplicate {what} {dup[0]!r}; each must appear once (merge or rename them)")
    unknown = sorted({a.camera_id for a in assignments} - set(cameras))
    if unknown:
        raise PlanError(f"assignments name cameras {unknown} that are not in cameras={list(cameras)}; register them first")


def simple_plan(cameras: Sequence[str], assignments: Sequence[Assignment], workers: Sequence[Worker], *,
                cost: CostModel | None = None) -> Plan:
    """Round-robin placement by camera (see module docstring). Cameras without assignments are not placed."""
    cameras, assignments, workers = list(cameras), list(assignments), list(workers)
    _check_inputs(cameras, assignments, workers)
    cost = cost or CostModel()
    by_camera: dict[str, list[Assignment]] = {c: [] for c in cameras}
    for a in assignments:
        by_camera[a.camera_id].append(a)
    used_fps = {w.worker_id: 0.0 for w in workers}
    algos: dict[str, set[str]] = {w.worker_id: set() for w in workers}
    placements: list[CameraPlacement] = []
    turn = 0
    for camera_id in cameras:
        mine = sorted(by_camera[camera_id], key=lambda a: (-a.priority, a.algorithm_id))
        if not mine:
            continue
        need_fps = cost.camera_compute_fps(mine)
        for step in range(len(workers)):
            w = workers[(turn + step) % len(workers)]
            mem = cost.worker_memory_mib(algos[w.worker_id] | {a.algorithm_id for a in mine})
            if used_fps[w.worker_id] + need_fps <= w.compute_fps + 1e-9 and mem <= w.memory_mib + 1e-9:
                used_fps[w.worker_id] += need_fps
                algos[w.worker_id].update(a.algorithm_id for a in mine)
                placements.append(CameraPlacement(camera_id, w.worker_id, tuple(mine)))
                turn = (turn + step + 1) % len(workers)
                break
        else:
            free = max(w.compute_fps - used_fps[w.worker_id] for w in workers)
            raise PlacementError(
                f"camera {camera_id!r} needs {need_fps:.1f} backbone frames/s and "
                f"{cost.worker_memory_mib(a.algorithm_id for a in mine):.0f} MiB, but no worker has room "
                f"(most free compute: {free:.1f} frames/s); add a worker, raise its limits, or lower the "
                f"assignments' fps"
            )
    return Plan(tuple(workers), tuple(placements))
