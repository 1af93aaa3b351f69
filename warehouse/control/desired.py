"""From the city's records to desired state, as pure functions over plain data.

1. :func:`build_instance`: cameras, the graph's choices per camera, the algorithms' measured
   costs and the cluster's nodes become a scheduling instance in the documented
   ``warehouse.schedule/1`` format (``docs/scheduler.md``); one worker per alive Ray node.
2. The planner (``scheduler.plan``, incremental from the previous plan) places it.
3. :func:`desired_state`: the plan, the cameras and the versions the catalog says each
   camera runs (production, or the canary version on the canary's cameras) become
   :class:`~warehouse.control.state.DesiredState`.

Costs are the measured ones (the catalog's cost profile per version, the runtime profile of
the backbone and decode); where nothing was measured a default is used and the instance's
``defaults`` lists which.
"""
from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

from runtime.work import CameraWork, HeadWork
from warehouse.control.state import CameraSpec, DesiredState, WorkerSpec

log = logging.getLogger(__name__)

INSTANCE_FORMAT = "warehouse.schedule/1"
PLAN_FORMAT = "warehouse.plan/1"


@dataclass(frozen=True, slots=True)
class NodeView:
    """An alive cluster node and what it offers (from Ray's node table)."""

    node_id: str
    num_cpus: float
    num_gpus: float = 0.0
    memory_mib: float = 4096.0
    is_head: bool = False

    @property
    def worker_id(self) -> str:
        return worker_id_for(self.node_id)


def worker_id_for(node_id: str) -> str:
    """The id of the worker that runs on a node: stable for the node's life."""
    return f"w-{node_id[:12]}"


@dataclass(frozen=True, slots=True)
class VersionRef:
    """One servable version of an algorithm."""

    version: int
    artifact_sha256: str
    threshold: float | None = None
    head_ms: float | None = None  # measured latency per frame (None: not measured)
    memory_mib: float | None = None


@dataclass(frozen=True, slots=True)
class AlgorithmRuntime:
    """What the runtime needs of an algorithm: whether it is a head, and its versions."""

    algorithm_id: str
    is_head: bool
    production: VersionRef | None
    canary: VersionRef | None = None
    canary_cameras: frozenset[str] = frozenset()
    # the persistence window its alerts need (catalog.event_persistence: the catalog's event taxonomy or the
    # algorithm's override); None: the control plane's event_k of event_n frames (docs/event-logic.md)
    event_window_s: float | None = None
    event_window_share: float = 0.8


@dataclass(frozen=True, slots=True)
class CameraInput:
    camera_id: str
    stream_url: str
    region: str = ""
    node_id: str | None = None  # pinned to a node (e.g. where its stream is reachable)
    zones: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Choice:
    """One algorithm the graph chose for a camera."""

    algorithm_id: str
    priority: float
    fps: float


@dataclass(frozen=True, slots=True)
class RuntimeProfile:
    """Per-frame costs of the shared path, measured by the runtime's profiler (defaults otherwise)."""

    decode_ms: float = 2.0
    backbone_ms: float = 8.0
    backbone_memory_mib: float = 64.0
    head_ms: float = 0.02
    head_memory_mib: float = 0.05
    measured: bool = False  # backbone_ms / backbone_memory_mib come from the profiler
    decode_measured: bool = False

    @classmethod
    def measure(cls, backbone_path, *, frame_hw: tuple[int, int] = (360, 640), batch: int = 8) -> "RuntimeProfile":
        """The backbone's memory (resident growth while loading it) and per-frame time, measured here."""
        from runtime import Backbone, profile_backbone
        from runtime.profiler import measure_build_mib

        backbone, mib = measure_build_mib(lambda: Backbone.load(backbone_path))
        prof = profile_backbone(backbone, batch_sizes=(1, batch), frame_hw=frame_hw, memory_mib=mib)
        return cls(backbone_ms=prof.latency_ms_per_frame, backbone_memory_mib=max(prof.memory_mib, 1.0), measured=True)


@dataclass(frozen=True, slots=True)
class ControlPolicy:
    """Knobs of the control plane (a city sets them once)."""

    cpu_utilisation: float = 0.8  # share of a node's cores the plan may fill
    gpu_ms_per_s: float = 40_000.0  # reference-ms of work a GPU does per second
    worker_memory_share: float = 0.5  # share of a node's memory a worker may use for models
    min_fps_share: float = 0.25  # a demand may be slowed to this share of its fps before it is dropped
    worker_num_cpus: float = 1.0  # what a CPU worker asks Ray for (logical cores)


def build_instance(cameras: Sequence[CameraInput], choices: Mapping[str, Sequence[Choice]],
                   algorithms: Mapping[str, AlgorithmRuntime], nodes: Sequence[NodeView], *,
                   profile: RuntimeProfile = RuntimeProfile(), policy: ControlPolicy = ControlPolicy(),
                   jobs: Sequence[Mapping[str, Any]] = ()) -> dict[str, Any]:
    """The ``warehouse.schedule/1`` instance of the city now (module doc)."""
    defaults: list[str] = ([] if profile.decode_measured else ["decode_ms"]) + \
        ([] if profile.measured else ["backbone_ms", "backbone memory_mib"])
    workers = [{"id": n.worker_id, "node": n.node_id,
                "compute_ms_per_s": (n.num_gpus * policy.gpu_ms_per_s if n.num_gpus > 0 else 0.0)
                + n.num_cpus * 1000.0 * policy.cpu_utilisation,
                "memory_mib": n.memory_mib * policy.worker_memory_share} for n in sorted(nodes, key=lambda n: n.node_id)]
    cams, demands, used = [], [], {}
    for c in sorted(cameras, key=lambda c: c.camera_id):
        mine = [ch for ch in choices.get(c.camera_id, ()) if _servable(algorithms.get(ch.algorithm_id))]
        if not mine:
            continue
        cams.append({"id": c.camera_id, "decode_ms": profile.decode_ms, "backbone_ms": profile.backbone_ms,
                     "node": c.node_id})
        for ch in mine:
            fps = max(0.1, float(ch.fps))
            demands.append({"camera": c.camera_id, "algorithm": ch.algorithm_id, "priority": max(1e-3, float(ch.priority)),
                            "fps": fps, "min_fps": max(0.05, fps * policy.min_fps_share)})
            used[ch.algorithm_id] = algorithms[ch.algorithm_id]
    algs = []
    for a in sorted(used):
        v = used[a].production or used[a].canary
        head_ms = v.head_ms if v.head_ms is not None else profile.head_ms
        mem = v.memory_mib if v.memory_mib is not None else profile.head_memory_mib
        if v.head_ms is None or v.memory_mib is None:
            defaults.append(f"algorithm {a}")
        algs.append({"id": a, "head_ms": float(head_ms), "memory_mib": float(mem)})
    return {"format": INSTANCE_FORMAT, "backbone": {"memory_mib": profile.backbone_memory_mib}, "workers": workers,
            "cameras": cams, "algorithms": algs, "demands": demands, "jobs": list(jobs), "defaults": defaults}


def _servable(alg: AlgorithmRuntime | None) -> bool:
    return alg is not None and (alg.production is not None or alg.canary is not None)


def plan_city(instance: Mapping[str, Any], previous: Any = None, *, background: Any = None,
              reader: Any = None) -> tuple[dict[str, Any], Any]:
    """Place ``instance`` with the scheduler (incremental from ``previous``); returns (plan JSON, plan object).

    Against a previous plan made here, the new instance is derived from the one that plan was
    made for (``scheduler.rebase``: only the records that differ count as changed), so the
    re-plan takes the scheduler's fast incremental path. When the drift policy says the chain
    of such re-plans has drifted (``scheduler.needs_full_replan``), the re-plan is made against
    the whole instance instead (re-priced, cameras kept where they are), as every re-plan here
    was before: inline, or in ``background`` (a :class:`~warehouse.control.replan.BackgroundReplan`:
    the incremental plan is returned now and the loop adopts the full one when it is done).
    ``reader``: a :class:`scheduler.InstanceReader` the caller keeps between calls, so the
    records of unchanged cameras are not read again."""
    import scheduler

    inst = reader.read(instance) if reader is not None else scheduler.Instance.from_json(dict(instance))
    if previous is None:
        result = scheduler.plan(inst)
    else:
        derived = scheduler.rebase(inst, previous)
        result = scheduler.plan(derived, previous=previous)
        if derived is not inst and scheduler.needs_full_replan(result, derived):
            if background is not None:
                background.submit(inst, result, key=instance_digest(instance))
            else:
                result = scheduler.plan(inst, previous=previous)
    return result.to_json(), result


def version_for(alg: AlgorithmRuntime, camera_id: str) -> tuple[VersionRef, bool] | None:
    """The version ``camera_id`` runs: the canary version on the canary's cameras, production elsewhere."""
    if alg.canary is not None and (camera_id in alg.canary_cameras or alg.production is None):
        return alg.canary, True
    if alg.production is not None:
        return alg.production, False
    return None


def desired_state(plan: Mapping[str, Any], cameras: Mapping[str, CameraInput], algorithms: Mapping[str, AlgorithmRuntime],
                  nodes: Sequence[NodeView], *, profile: RuntimeProfile = RuntimeProfile(),
                  policy: ControlPolicy = ControlPolicy(), event_k: int = 2, event_n: int = 3,
                  cooldown_s: float = 30.0, cache: dict | None = None) -> DesiredState:
    """The plan and the catalog's versions as what each worker and camera should run (module doc).
    ``cache``: a dict the caller keeps between calls; a camera whose plan entry, record and
    algorithms' versions are the same as last time keeps its spec (not built again)."""
    node_of = {n.worker_id: n for n in nodes}
    workers: dict[str, WorkerSpec] = {}
    specs: dict[str, CameraSpec] = {}
    unplaced: dict[str, str] = {}
    settings = (profile, policy, event_k, event_n, cooldown_s)
    if cache is not None and cache.get(_SETTINGS) != settings:
        cache.clear()
        cache[_SETTINGS] = settings
    for pc in plan.get("cameras", ()):
        cam = cameras.get(pc["camera"])
        node = node_of.get(pc["worker"])
        if cam is None or node is None:
            continue
        key = None
        if cache is not None:
            grants = tuple((d["algorithm"], d["fps"]) for d in pc["demands"])
            key = (pc["worker"], pc["fps"], grants, cam, tuple(algorithms.get(a) for a, _ in grants))
            hit = cache.get(cam.camera_id)
            if hit is not None and hit[0] == key:
                spec = hit[1]
                if spec is not None:
                    specs[cam.camera_id] = spec
                    _worker_of(workers, node, profile, policy)
                continue
        spec = _camera_spec(pc, cam, node, algorithms, profile, event_k, event_n, cooldown_s)
        if cache is not None:
            cache[cam.camera_id] = (key, spec)
        if spec is not None:
            specs[cam.camera_id] = spec
            _worker_of(workers, node, profile, policy)
    for u in plan.get("unserved", ()):
        if u["camera"] not in specs:
            unplaced.setdefault(u["camera"], u["reason"])
    if cache is not None and len(cache) > len(specs) + 1:  # forget cameras no longer planned
        planned = {pc["camera"] for pc in plan.get("cameras", ())}
        for k in [k for k in cache if k != _SETTINGS and k not in planned]:
            del cache[k]
    return DesiredState(workers, specs, unplaced)


_SETTINGS = ("settings",)  # the desired_state cache's entry for what every spec was built with


def _worker_of(workers: dict[str, WorkerSpec], node: NodeView, profile: RuntimeProfile, policy: ControlPolicy) -> None:
    if node.worker_id not in workers:
        workers[node.worker_id] = WorkerSpec(
            node.worker_id, node.node_id, num_cpus=0.0 if node.num_gpus > 0 else min(policy.worker_num_cpus, node.num_cpus),
            num_gpus=1.0 if node.num_gpus > 0 else 0.0,
            memory_budget_mib=max(profile.head_memory_mib, node.memory_mib * policy.worker_memory_share - profile.backbone_memory_mib))


def _camera_spec(pc: Mapping[str, Any], cam: CameraInput, node: NodeView, algorithms: Mapping[str, AlgorithmRuntime],
                 profile: RuntimeProfile, event_k: int, event_n: int, cooldown_s: float) -> CameraSpec | None:
    """One planned camera's spec: its heads (versions, thresholds, persistence) and detectors; None if nothing is servable."""
    heads, detectors = [], {}
    for d in pc["demands"]:
        alg = algorithms.get(d["algorithm"])
        picked = version_for(alg, cam.camera_id) if alg is not None else None
        if picked is None:
            continue
        ref, canary = picked
        if alg.is_head:
            heads.append(HeadWork(alg.algorithm_id, str(ref.version), fps=float(d["fps"]), artifact_sha256=ref.artifact_sha256,
                                  threshold=ref.threshold, canary=canary,
                                  size_mib=ref.memory_mib if ref.memory_mib is not None else profile.head_memory_mib,
                                  k=event_k, n=event_n, cooldown_s=cooldown_s,
                                  window_s=alg.event_window_s, window_share=alg.event_window_share))
        else:
            detectors[alg.algorithm_id] = float(d["fps"])
    if not heads and not detectors:
        return None
    work = CameraWork.build(cam.camera_id, heads=heads, detectors=detectors, zones=cam.zones)
    return CameraSpec(cam.camera_id, node.worker_id, cam.stream_url, float(pc["fps"]), work)


def head_persistence(event_types: Sequence[str], postprocess: Mapping[str, Any] | None = None) -> tuple[float | None, float]:
    """``(window_s, share)`` a head's alerts need: its event types' persistence kinds in the catalog's
    taxonomy, or its postprocess override (``catalog.event_persistence``); a bad override falls
    back to the frame-count rule (``(None, 0.8)``: event_k of event_n frames), logged."""
    from catalog import event_persistence

    try:
        p = event_persistence(event_types, postprocess=postprocess)
    except ValueError:
        log.warning("control: bad persistence override %r; using event_k of event_n frames", dict(postprocess or {}))
        return None, 0.8
    return (None, 0.8) if p is None else (p.window_s, p.share)  # None: the algorithm asked for k of n frames


def instance_digest(instance: Mapping[str, Any]) -> int:
    """A cheap fingerprint: re-plan only when the instance changed."""
    return hash((tuple((w["id"], w["compute_ms_per_s"], w["memory_mib"]) for w in instance["workers"]),
                 tuple((c["id"], c["node"]) for c in instance["cameras"]),
                 tuple((a["id"], a["head_ms"], a["memory_mib"]) for a in instance["algorithms"]),
                 tuple((d["camera"], d["algorithm"], d["priority"], d["fps"]) for d in instance["demands"]),
                 tuple(sorted(str(j) for j in instance.get("jobs", ())))))


def finite_or(value: Any, default: float) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError):
        return default
    return v if math.isfinite(v) else default


__all__ = [
    "AlgorithmRuntime", "CameraInput", "Choice", "ControlPolicy", "INSTANCE_FORMAT", "NodeView", "PLAN_FORMAT",
    "RuntimeProfile", "VersionRef", "build_instance", "desired_state", "finite_or", "head_persistence", "instance_digest", "plan_city",
    "version_for", "worker_id_for",
]
