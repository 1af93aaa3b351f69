"""Verify any plan against an instance: every rule of the ``warehouse.schedule/1`` format.

``check`` never raises on a bad plan: it lists every violation (rule, subject, message),
recomputes the objective, and says which costs it relied on were defaults.

>>> from scheduler.families import tiny
>>> from scheduler import plan
>>> inst = tiny()
>>> report = check(inst, plan(inst))
>>> report.ok, report.violations
(True, ())
"""
from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass

from scheduler.instance import Instance
from scheduler.result import PlanResult

#: rule names a violation can carry
RULES = ("unknown", "one_worker", "node_pin", "camera_fps", "fps_range", "accounted", "job_placed",
         "compute", "memory", "objective")
_EPS = 1e-6


def _tol(limit: float) -> float:
    return _EPS * max(1.0, abs(limit))


@dataclass(frozen=True, slots=True)
class Violation:
    rule: str
    subject: str
    message: str

    def __str__(self) -> str:
        return f"[{self.rule}] {self.subject}: {self.message}"


@dataclass(frozen=True, slots=True)
class WorkerUsage:
    worker: str
    compute_ms_per_s: float
    compute_limit: float
    memory_mib: float
    memory_limit: float


@dataclass(frozen=True, slots=True)
class CheckReport:
    """``ok`` when there is no violation; ``objective`` is recomputed from the instance
    (``claimed_objective`` is what the plan says); ``defaults_used`` names the records whose
    costs were defaults and which this plan relies on."""

    ok: bool
    objective: float
    claimed_objective: float
    violations: tuple[Violation, ...]
    defaults_used: tuple[str, ...]
    usage: tuple[WorkerUsage, ...]
    granted: int
    unserved: int

    def to_json(self) -> dict:
        return {"ok": self.ok, "objective": self.objective, "claimed_objective": self.claimed_objective,
                "granted": self.granted, "unserved": self.unserved,
                "violations": [{"rule": v.rule, "subject": v.subject, "message": v.message} for v in self.violations],
                "defaults_used": list(self.defaults_used),
                "usage": [{"worker": u.worker, "compute_ms_per_s": u.compute_ms_per_s,
                           "compute_limit": u.compute_limit, "memory_mib": u.memory_mib,
                           "memory_limit": u.memory_limit} for u in self.usage]}


def check(instance: Instance, plan: PlanResult) -> CheckReport:
    """Every violation of the rules in docs/scheduler.md, and the recomputed objective."""
    out: list[Violation] = []

    def bad(rule: str, subject: str, message: str) -> None:
        out.append(Violation(rule, subject, message))

    workers = {w.id: w for w in instance.workers}
    cameras = {c.id: c for c in instance.cameras}
    algs = {a.id: a for a in instance.algorithms}
    jobs = {j.id: j for j in instance.jobs}
    compute: dict[str, float] = defaultdict(float)
    hosts_camera: set[str] = set()
    distinct: dict[str, set[str]] = defaultdict(set)
    job_mem: dict[str, float] = defaultdict(float)
    granted: dict[tuple[str, str], float] = {}
    objective = 0.0
    used: set[str] = set()

    seen_cam = Counter(a.camera for a in plan.cameras)
    for cam_id, n in seen_cam.items():
        if n > 1:
            bad("one_worker", f"camera {cam_id}", f"placed {n} times; a camera runs on exactly one worker")
    for a in plan.cameras:
        subj = f"camera {a.camera}"
        cam = cameras.get(a.camera)
        if cam is None:
            bad("unknown", subj, "not in the instance's cameras")
            continue
        w = workers.get(a.worker)
        if w is None:
            bad("unknown", subj, f"placed on worker {a.worker!r}, which is not in the instance")
            continue
        if cam.node is not None and w.node != cam.node:
            bad("node_pin", subj, f"pinned to node {cam.node!r} but placed on {a.worker!r} (node {w.node!r})")
        if cam.cost_source == "default":
            used.add(f"camera {cam.id}")
        if not a.demands:
            bad("camera_fps", subj, "placed with no granted demand; leave it out of the plan instead")
            continue
        mine = {d.algorithm: d for d in cam.demands}
        top = max(g.fps for g in a.demands)
        if abs(a.fps - top) > _tol(top):
            bad("camera_fps", subj, f"fps={a.fps:g} but its highest granted fps is {top:g}; they must be equal")
        hosts_camera.add(a.worker)
        compute[a.worker] += cam.frame_ms * a.fps
        for g in a.demands:
            d = mine.get(g.algorithm)
            gsubj = f"demand {a.camera}/{g.algorithm}"
            if d is None:
                bad("unknown", gsubj, "granted but not demanded by this camera")
                continue
            if (a.camera, g.algorithm) in granted:
                bad("one_worker", gsubj, "granted twice")
                continue
            if not (d.min_fps - _tol(d.min_fps) <= g.fps <= d.fps + _tol(d.fps)):
                bad("fps_range", gsubj, f"granted fps={g.fps:g}; expected min_fps={d.min_fps:g} <= fps <= {d.fps:g}")
            granted[(a.camera, g.algorithm)] = g.fps
            alg = algs[g.algorithm]
            compute[a.worker] += alg.head_ms * g.fps
            distinct[a.worker].add(g.algorithm)
            if alg.cost_source == "default":
                used.add(f"algorithm {alg.id}")
            objective += d.priority * g.fps / d.fps
    if hosts_camera and instance.backbone.cost_source == "default":
        used.add("backbone")
    granted_algs = {alg for _, alg in granted}
    for note in instance.declared_defaults:  # free-form notes: tie 'algorithm X' / 'camera X' to use
        kind, _, rest = note.partition(" ")
        if (kind == "algorithm" and rest in granted_algs) or (kind == "camera" and rest in seen_cam) or (
                kind == "job" and any(j.job == rest for j in plan.jobs)) or (
                kind not in ("algorithm", "camera", "job") and hosts_camera):
            used.add(note)

    unserved = Counter((u.camera, u.algorithm) for u in plan.unserved)
    for u in plan.unserved:
        subj = f"demand {u.camera}/{u.algorithm}"
        if (u.camera, u.algorithm) in granted:
            bad("accounted", subj, "both granted and listed as unserved")
        if not u.reason.strip():
            bad("accounted", subj, "unserved without a reason; say which resource ran out")
        cam = cameras.get(u.camera)
        if cam is None or all(d.algorithm != u.algorithm for d in cam.demands):
            bad("unknown", subj, "listed as unserved but not demanded in the instance")
    for key, n in unserved.items():
        if n > 1:
            bad("accounted", f"demand {key[0]}/{key[1]}", f"listed as unserved {n} times")
    for cam in instance.cameras:
        for d in cam.demands:
            if (cam.id, d.algorithm) not in granted and (cam.id, d.algorithm) not in unserved:
                bad("accounted", f"demand {cam.id}/{d.algorithm}", "neither granted nor listed as unserved")

    placed_jobs = Counter(j.job for j in plan.jobs)
    for j in plan.jobs:
        spec = jobs.get(j.job)
        if spec is None:
            bad("unknown", f"job {j.job}", "placed but not in the instance's jobs")
            continue
        if j.worker not in workers:
            bad("unknown", f"job {j.job}", f"placed on worker {j.worker!r}, which is not in the instance")
            continue
        if placed_jobs[j.job] > 1:
            continue
        compute[j.worker] += spec.compute_ms_per_s
        job_mem[j.worker] += spec.memory_mib
        if spec.cost_source == "default":
            used.add(f"job {spec.id}")
    for job_id, n in placed_jobs.items():
        if n > 1:
            bad("job_placed", f"job {job_id}", f"placed {n} times; a job runs on exactly one worker")
    for spec in instance.jobs:
        if spec.id not in placed_jobs:
            bad("job_placed", f"job {spec.id}", "not placed; every job must run on some worker")

    usage = []
    for w in instance.workers:
        mem = (instance.backbone.memory_mib if w.id in hosts_camera else 0.0) + job_mem[w.id] + sum(
            algs[a].memory_mib for a in distinct[w.id])
        usage.append(WorkerUsage(w.id, compute[w.id], w.compute_ms_per_s, mem, w.memory_mib))
        if compute[w.id] > w.compute_ms_per_s + _tol(w.compute_ms_per_s):
            bad("compute", f"worker {w.id}", f"uses {compute[w.id]:.3f} ms/s of {w.compute_ms_per_s:g}")
        if mem > w.memory_mib + _tol(w.memory_mib):
            bad("memory", f"worker {w.id}", f"uses {mem:.3f} MiB of {w.memory_mib:g} (backbone + "
                                            f"{len(distinct[w.id])} distinct algorithms + jobs)")
    if abs(objective - plan.objective) > 1e-6 * max(1.0, abs(objective)):
        bad("objective", "plan", f"claims objective {plan.objective:.6f}; the granted demands give {objective:.6f}")
    return CheckReport(not out, objective, plan.objective, tuple(out), tuple(sorted(used)), tuple(usage),
                       len(granted), len(plan.unserved))
