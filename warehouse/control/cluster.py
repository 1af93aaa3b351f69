"""The one seam between the control plane and Ray (as Ray Serve's ``ActorReplicaWrapper`` is).

Nothing else in the application touches Ray actors. :class:`RayCluster` lists the alive
nodes, starts inference workers pinned to a node (``NodeAffinitySchedulingStrategy``, with
the worker's CPU or GPU share as its Ray resources), starts each camera's stream inside the
worker the plan names (a reader thread: decoding beside the scoring, no frame crosses
processes), and *observes* each worker on its own: one dead actor is reported dead, the
others stay readable.

Actions are asynchronous: :meth:`apply` sends the call and keeps its reference; the next
:meth:`collect` reports which finished and which failed (with the error), so a slow or dead
actor never stalls the loop. Calls are idempotent on the worker (configuring a revision it
already runs changes nothing), which is what lets the loop resend them after a failure.
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Any, Callable

from warehouse.control.desired import NodeView
from warehouse.control.state import (
    Action,
    ActualState,
    ConfigureCamera,
    ReaderView,
    RemoveCamera,
    RerateReader,
    StartReader,
    StartWorker,
    StopReader,
    StopWorker,
    WorkerView,
)

log = logging.getLogger(__name__)

_MIB = 1024 * 1024


@dataclass(frozen=True)
class WorkerFactories:
    """Picklable pieces every worker actor is built with (see :mod:`warehouse.control.hooks`)."""

    scorer_factory: Callable[[], Any]
    put_evidence: Callable[[bytes], str]
    fetch_artifact: Callable[[str], bytes]
    alert_sink_factory: Callable[[], Any] | None = None
    frame_hook_factory: Callable[[], Any] | None = None
    stage_factory: Callable[[], Any] | None = None
    batch_max: int = 16
    batch_wait_ms: float = 20.0
    source_options: dict = field(default_factory=dict)
    gate: bool = True
    host_guard: Callable[[str], None] | None = None  # the stream policy's host check, re-run at every connect


class RayCluster:
    """Ray actors of the city (module doc). ``call_timeout_s`` bounds each observation call."""

    def __init__(self, factories: WorkerFactories, *, call_timeout_s: float = 5.0, start_grace_s: float = 120.0) -> None:
        self.f = factories
        self.call_timeout_s = call_timeout_s
        self._workers: dict[str, tuple[Any, str]] = {}  # worker_id -> (handle, node_id)
        self._last_readers: dict[str, ReaderView] = {}
        self._last_cameras: dict[str, dict[str, str]] = {}
        self._last_status: dict[str, dict] = {}  # each worker's full status as the last observe() read it
        self._started: dict[str, float] = {}
        self._misses: dict[str, int] = {}
        self.start_grace_s = start_grace_s
        self._pending: dict[str, tuple[Any, Action, float]] = {}  # key -> (ref, action, sent at)
        self._dead_workers: dict[str, str] = {}

    # -- the cluster's nodes -----------------------------------------------------------------
    def nodes(self) -> list[NodeView]:
        import ray

        out = []
        for n in ray.nodes():
            if not n.get("Alive"):
                continue
            res = n.get("Resources", {})
            out.append(NodeView(n["NodeID"], float(res.get("CPU", 0.0)), float(res.get("GPU", 0.0)),
                                float(res.get("memory", 4096 * _MIB)) / _MIB, "node:__internal_head__" in res))
        return sorted(out, key=lambda n: n.node_id)

    # -- actual state --------------------------------------------------------------------------
    def observe(self) -> ActualState:
        """Ask every worker for its status, each on its own: a dead one is reported, not raised; a worker
        still starting (its process and backbone load take seconds) is not taken for dead."""
        import ray
        from runtime.actors import _control

        wrefs = {wid: _control(h, "status").remote() for wid, (h, _) in self._workers.items()}
        refs = list(wrefs.values())
        ready, _ = ray.wait(refs, num_returns=len(refs), timeout=self.call_timeout_s) if refs else ([], [])
        ready_set = set(ready)
        workers: dict[str, WorkerView] = {}
        readers: dict[str, ReaderView] = {}
        now = time.monotonic()
        for wid, ref in wrefs.items():
            node = self._workers[wid][1]
            if ref not in ready_set:
                starting = now - self._started.get(wid, 0.0) < self.start_grace_s
                misses = self._misses[wid] = self._misses.get(wid, 0) + 1
                alive = starting or misses < 3
                workers[wid] = WorkerView(wid, node, alive=alive, cameras=dict(self._last_cameras.get(wid, {})),
                                          error=None if alive else f"no answer {misses} times in a row")
                if alive:  # keep its streams as last seen
                    readers.update({c: r for c, r in self._last_readers.items() if r.worker_id == wid})
                continue
            try:
                st = ray.get(ref)
            except Exception as exc:  # RayActorError: the actor or its node is gone
                workers[wid] = WorkerView(wid, node, alive=False, error=type(exc).__name__)
                continue
            self._misses[wid] = 0
            self._last_cameras[wid] = dict(st["cameras"])
            self._last_status[wid] = st
            workers[wid] = WorkerView(wid, node, alive=True, cameras=dict(st["cameras"]), serving=dict(st["serving"]))
            for cam, sv in st.get("streams", {}).items():
                readers[cam] = ReaderView(cam, wid, bool(sv["alive"] or not sv["error"]), sv["url"], float(sv["fps"]),
                                          sv["health"], bool(sv["finished"]), sv["error"])
        self._last_readers = readers
        return ActualState(workers, readers)

    def worker_status(self, *, fresh: bool = True) -> dict[str, dict]:
        """Full status of each worker (for ``warehouse status``). ``fresh=False`` returns what the last
        :meth:`observe` read (at most one loop tick old) instead of asking every actor again."""
        if not fresh:
            return {wid: self._last_status.get(wid, {"worker_id": wid, "error": "not observed yet"}) for wid in self._workers}
        import ray
        from runtime.actors import _control

        out = {}
        for wid, (h, _) in list(self._workers.items()):
            try:
                out[wid] = ray.get(_control(h, "status").remote(), timeout=self.call_timeout_s)
            except Exception as exc:
                out[wid] = {"worker_id": wid, "error": type(exc).__name__}
        return out

    def reader_stats(self, *, fresh: bool = True) -> dict[str, dict]:
        out = {}
        for wid, st in self.worker_status(fresh=fresh).items():
            for cam, sv in st.get("streams", {}).items():
                out[cam] = {k: v for k, v in sv.items() if k != "url"} | {"worker_id": wid}
        return out

    # -- actions -------------------------------------------------------------------------------
    def busy(self) -> set[str]:
        """Keys of actions still in flight (the loop does not resend them)."""
        return set(self._pending)

    def collect(self) -> list[tuple[Action, str | None]]:
        """Finished actions since the last call: (action, None) or (action, error)."""
        import ray

        if not self._pending:
            return []
        refs = [p[0] for p in self._pending.values()]
        done, _ = ray.wait(refs, num_returns=len(refs), timeout=0)
        done_set, out = set(done), []
        for key, (ref, action, sent) in list(self._pending.items()):
            if ref in done_set:
                del self._pending[key]
                try:
                    ray.get(ref)
                    out.append((action, None))
                except Exception as exc:
                    out.append((action, f"{type(exc).__name__}: {str(exc)[:300]}"))
            elif time.monotonic() - sent > 4 * self.call_timeout_s:
                del self._pending[key]
                out.append((action, f"no answer within {4 * self.call_timeout_s:g} s"))
        return out

    def apply(self, action: Action) -> None:
        """Send ``action`` to the cluster (synchronous only for stops, which must not linger)."""
        import ray

        from runtime.actors import _control

        if isinstance(action, StartWorker):
            self._start_worker(action)
        elif isinstance(action, StopWorker):
            h = self._workers.pop(action.worker_id, (None, None))[0]
            if h is not None:
                ray.kill(h, no_restart=True)
            self._last_readers = {c: r for c, r in self._last_readers.items() if r.worker_id != action.worker_id}
            self._last_cameras.pop(action.worker_id, None)
            self._last_status.pop(action.worker_id, None)
        elif isinstance(action, ConfigureCamera):
            h = self._workers[action.worker_id][0]
            self._pending[action.key] = (_control(h, "configure_camera").remote(action.work), action, time.monotonic())
        elif isinstance(action, RemoveCamera):
            h = self._workers[action.worker_id][0]
            self._pending[action.key] = (_control(h, "remove_camera").remote(action.camera_id), action, time.monotonic())
        elif isinstance(action, StartReader):
            h = self._workers[action.worker_id][0]
            self._pending[action.key] = (_control(h, "start_stream").remote(
                action.camera_id, action.stream_url, fps=action.fps, gate=self.f.gate,
                source_options=dict(self.f.source_options), host_guard=self.f.host_guard), action, time.monotonic())
        elif isinstance(action, RerateReader):
            h = self._workers[action.worker_id][0]
            self._pending[action.key] = (_control(h, "set_stream_fps").remote(action.camera_id, action.fps), action,
                                         time.monotonic())
        elif isinstance(action, StopReader):
            view = self._last_readers.get(action.camera_id)
            entry = self._workers.get(view.worker_id) if view is not None else None
            if entry is not None:
                try:
                    ray.get(_control(entry[0], "stop_stream").remote(action.camera_id), timeout=self.call_timeout_s)
                except Exception:  # its worker is gone: nothing left to stop
                    log.debug("stop_stream %s on %s failed", action.camera_id, view.worker_id, exc_info=True)
        else:  # pragma: no cover - the Action union is closed
            raise TypeError(f"unknown action {action!r}")

    def _start_worker(self, action: StartWorker) -> None:
        import runtime.actors as actors
        from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

        from runtime import BatchPolicy

        s, f = action.spec, self.f
        old = self._workers.pop(s.worker_id, None)
        if old is not None:
            import ray

            ray.kill(old[0], no_restart=True)
        handle = actors.InferenceWorkerActor.options(
            num_cpus=s.num_cpus, num_gpus=s.num_gpus, max_restarts=0,
            scheduling_strategy=NodeAffinitySchedulingStrategy(s.node_id, soft=False),
        ).remote(s.worker_id, [], scorer_factory=f.scorer_factory, put_evidence=f.put_evidence,
                 batch_policy=BatchPolicy(max_batch=f.batch_max, max_wait_ms=f.batch_wait_ms), stage_factory=f.stage_factory,
                 alert_sink_factory=f.alert_sink_factory, node_id=s.node_id, fetch_artifact=f.fetch_artifact,
                 memory_budget_mib=s.memory_budget_mib, frame_hook_factory=f.frame_hook_factory)
        self._workers[s.worker_id] = (handle, s.node_id)
        self._started[s.worker_id] = time.monotonic()
        self._misses[s.worker_id] = 0
        log.info("control: started %s", s)

    def shutdown(self) -> None:
        import ray

        from runtime.actors import _control

        refs = [_control(h, "close").remote() for h, _ in self._workers.values()]
        try:
            ray.get(refs, timeout=30)
        except Exception:
            log.warning("control: workers did not close cleanly; killing them", exc_info=True)
        for h, _ in self._workers.values():
            ray.kill(h, no_restart=True)
        self._workers.clear()
        self._pending.clear()


__all__ = ["RayCluster", "WorkerFactories"]
