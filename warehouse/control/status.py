"""What ``warehouse status`` and ``/status`` show: the control plane's state rendered as plain data (pure).

:class:`StatusInputs` is a snapshot the control plane takes under its lock; :func:`render_status`
turns it into the status document (cameras, workers, the plan, the last reconcile, failures,
consumer lag) without touching Ray or the stores.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

from warehouse.control.state import ActualState, DesiredState

__all__ = ["StatusInputs", "render_status"]

_NO_CHOICE = "the graph chose no servable algorithm for this camera's scenes (is the catalog built and promoted?)"


@dataclass(frozen=True, slots=True)
class StatusInputs:
    desired: DesiredState
    actual: ActualState
    nodes: tuple  # the cluster's NodeView s
    records: frozenset[str]  # cameras in the operations store
    cameras: frozenset[str]  # cameras the loop has linked
    chose: Mapping[str, bool]  # camera -> the graph chose something
    discovered: Mapping[str, dict]  # camera -> its discovered scenes
    camera_errors: Mapping[str, str]
    failures: Mapping[str, tuple[int, str]]  # item key -> (attempts, error)
    plan_json: Mapping[str, Any]
    plan_at_ms: int | None
    last: Any  # the last TickReport, or None
    ticks: int
    worker_status: Mapping[str, dict]
    reader_stats: Mapping[str, dict]


def _camera(inp: StatusInputs, cam: str) -> dict[str, Any]:
    spec = inp.desired.cameras.get(cam)
    r = inp.actual.readers.get(cam)
    w = inp.worker_status.get(spec.worker_id, {}) if spec else {}
    failure = inp.failures.get(f"camera:{cam}")
    return {
        "worker": spec.worker_id if spec else None,
        "fps": spec.fps if spec else 0.0,
        "health": (r.health if r and r.alive else ("stopped" if r is None else "dead")),
        "running": bool(r and r.alive and not r.finished),
        "algorithms": {h.algorithm_id: h.version + (" (canary)" if h.canary else "") for h in spec.work.heads} if spec else {},
        "detectors": dict(spec.work.detectors) if spec else {},
        "last_frame_ms": w.get("last_frame_ms", {}).get(cam),
        "frames_read": inp.reader_stats.get(cam, {}).get("frames_read"),
        "scenes": inp.discovered.get(cam),
        "unplaced": inp.desired.unplaced.get(cam) or (
            _NO_CHOICE if cam in inp.cameras and not inp.chose.get(cam) and spec is None else None),
        "error": inp.camera_errors.get(cam) or (failure[1] if failure else None) or (r.error if r else None),
    }


def _worker(inp: StatusInputs, node) -> dict[str, Any]:
    wid = node.worker_id
    st = inp.worker_status.get(wid, {})
    view = inp.actual.workers.get(wid)
    state = "running" if view is not None and view.alive else ("dead" if view is not None else "idle")
    return {"node": node.node_id, "alive": bool(view is not None and view.alive), "state": state,
            "cameras": sorted(c for c, s in inp.desired.cameras.items() if s.worker_id == wid),
            "planned_fps": sum(c.fps for c in inp.desired.cameras.values() if c.worker_id == wid),
            "capacity_cpus": node.num_cpus, "gpus": node.num_gpus,
            "memory_used_mib": st.get("memory_used_mib"), "memory_budget_mib": st.get("memory_budget_mib"),
            "models_resident": len(st.get("resident", [])), "serving": st.get("serving", {}),
            "frames_scored": st.get("stats", {}).get("frames_scored")}


def render_status(inp: StatusInputs, *, now_ms: int, lag: Mapping[str, int],
                  cameras: list[str] | None = None) -> dict[str, Any]:
    """The status document; ``cameras`` limits the camera rows (None: every known camera)."""
    names = cameras if cameras is not None else sorted(inp.records | set(inp.desired.cameras))
    last = inp.last
    return {
        "cameras": {cam: _camera(inp, cam) for cam in names},
        "workers": {n.worker_id: _worker(inp, n) for n in inp.nodes},
        "plan": {"age_s": None if inp.plan_at_ms is None else round((now_ms - inp.plan_at_ms) / 1000, 3),
                 "objective": inp.plan_json.get("objective"), "unserved": len(inp.plan_json.get("unserved", ())),
                 "migrations": inp.plan_json.get("migrations")},
        "last_reconcile": None if last is None else {"at_ms": last.at_ms, "actions": last.actions[:50],
                                                     "failed": last.failed[:50], "reconcile_ms": round(last.reconcile_ms, 3),
                                                     "tick_ms": round(last.tick_ms, 1)},
        "ticks": inp.ticks,
        "consumer_lag": dict(lag),
        "failures": {k: {"attempts": a, "error": e} for k, (a, e) in inp.failures.items()},
    }
