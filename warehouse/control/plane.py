"""The control plane: one loop reconciling what the city should run with what runs on Ray.

Each :meth:`ControlPlane.tick`:

1. reads the desired inputs: cameras (the operations store is the one record; the graph's
   camera entries are derived here, after scene discovery), what the knowledge graph
   chooses for each camera, the catalog's production and canary versions (re-read at once
   when ``model-updates`` announces a change), the cluster's alive nodes;
2. builds the scheduling instance and re-plans (incrementally) only when it changed;
3. turns plan + versions into desired state, observes the actual state, and applies the
   actions of :func:`~warehouse.control.reconcile.reconcile`.

Triggers are all "something differs now": a camera added, changed or removed; relevance
changed (feedback, a governance window); a version promoted or rolled back; a node joined or
was lost; a cost re-measured. A failing item is logged with its ids, retried with backoff,
and never stops the loop or hides the others' health.

>>> plane = ControlPlane(ops=ops, catalog=catalog, graph=graph, cluster=RayCluster(factories))  # doctest: +SKIP
>>> plane.start(); plane.wake(); plane.status()["cameras"]                                      # doctest: +SKIP
"""
from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Callable, Mapping

from warehouse.control.desired import (
    AlgorithmRuntime,
    head_persistence,
    CameraInput,
    Choice,
    ControlPolicy,
    RuntimeProfile,
    build_instance,
    desired_state,
    instance_digest,
    plan_city,
)
from warehouse.control.discovery import DiscoveredScenes, scenes_from_hints
from warehouse.control.inputs import version_ref, zone_kinds, zones_of
from warehouse.control.replan import BackgroundReplan
from warehouse.control.reconcile import READER_FAILED, changed_cameras, reconcile
from warehouse.control.status import StatusInputs, render_status
from warehouse.control.bus_link import UpdateWatcher, consumer_lag, control_event
from warehouse.control.state import (
    ActualState,
    DesiredState,
    Failure,
    StartReader,
    StartWorker,
    StopReader,
    StopWorker,
    backoff_ms,
)

log = logging.getLogger(__name__)

_HEAD_KINDS = frozenset({"classification_head"})


@dataclass
class TickReport:
    at_ms: int
    actions: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    replanned: bool = False
    reconcile_ms: float = 0.0
    tick_ms: float = 0.0


class ControlPlane:
    """See the module doc. ``clock`` gives wall seconds; ``at`` the time relevance is asked for."""

    def __init__(self, *, ops, catalog, graph, cluster, discovery=None, bus=None, policy: ControlPolicy = ControlPolicy(),
                 profile: RuntimeProfile = RuntimeProfile(), clock: Callable[[], float] = time.time,
                 at: Callable[[], datetime] | None = None, interval_s: float = 1.0, versions_every_s: float = 10.0,
                 relevance_every_s: float = 30.0, jobs: Callable[[], list[dict]] | None = None,
                 event_k: int = 2, event_n: int = 3, cooldown_s: float = 30.0,
                 consumer_groups: Mapping[str, str] | None = None) -> None:
        self.ops, self.catalog, self.graph, self.cluster = ops, catalog, graph, cluster
        self.discovery, self.bus, self.policy, self.profile = discovery, bus, policy, profile
        self.clock, self.interval_s = clock, interval_s
        self.at = at or (lambda: datetime.now(timezone.utc).replace(tzinfo=None))
        self.versions_every_s, self.relevance_every_s = versions_every_s, relevance_every_s
        self.jobs = jobs
        self.replanner = BackgroundReplan()
        # the application's consumer groups and the topic each reads (their lag is in status())
        self.consumer_groups = dict(consumer_groups if consumer_groups is not None else
                                    {"ops-alert-sink": "alerts", "feedback-router": "feedback", "retraining": "miss-events"})
        self.event = {"k": event_k, "n": event_n, "cooldown_s": cooldown_s}
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._lock = threading.RLock()
        self._thread: threading.Thread | None = None
        self._updates = UpdateWatcher(bus.consumer("model-updates", group="control-plane", from_beginning=False),
                                      lambda _ids: self.wake(versions=True)) if bus is not None else None
        # cached world view
        self._cams_version: int | None = None
        self._cameras: dict[str, CameraInput] = {}
        self._records: dict[str, Any] = {}
        self._discovered: dict[str, DiscoveredScenes] = {}
        self._reader_strikes: dict[str, int] = {}  # camera -> readers failed in a row (their restart backs off)
        self._graph_rev: dict[str, tuple] = {}
        self._choices: dict[str, list[Choice]] = {}
        self._choices_at = 0.0
        self._algorithms: dict[str, AlgorithmRuntime] = {}
        self._algorithms_at = -1e18
        self._specs: dict[str, Any] | None = None
        self._digest: int | None = None
        self._digest_inst: int | None = None
        self._plan_json: dict[str, Any] = {"cameras": [], "unserved": []}
        self._plan_obj: Any = None
        from scheduler import InstanceReader

        self._reader = InstanceReader()  # unchanged cameras' records are not read again per re-plan
        self._desired_cache: dict = {}  # nor their desired specs built again
        self._plan_at_ms: int | None = None
        self._desired: DesiredState = DesiredState()
        self._actual: ActualState = ActualState()
        self._prev: tuple[DesiredState, ActualState] | None = None
        self._nodes: list = []
        self.failures: dict[str, Failure] = {}
        self.camera_errors: dict[str, str] = {}
        self.last: TickReport | None = None
        self.ticks = 0

    # -- the loop -------------------------------------------------------------------------------
    def start(self) -> "ControlPlane":
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="control-plane", daemon=True)
            self._thread.start()
            if self._updates is not None:
                self._updates.start()  # from now on it, not the tick, reads model-updates
        return self

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.tick()
            except Exception:  # the loop never dies; the next tick starts from a fresh observation
                log.exception("control: tick failed")
            self._wake.wait(self.interval_s)
            self._wake.clear()

    def wake(self, *, versions: bool = False, relevance: bool = False) -> None:
        """Reconcile now (a camera changed, a version was promoted, ...)."""
        if versions:
            self._algorithms_at = -1e18
        if relevance:
            self._choices_at = 0.0
        self._wake.set()

    def stop(self, *, shutdown: bool = True) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
        if self._updates is not None:
            self._updates.stop()
        if shutdown:
            self.cluster.shutdown()

    def tick(self) -> TickReport:
        with self._lock:
            t0 = time.perf_counter()
            now = self.clock()
            report = TickReport(at_ms=int(now * 1000))
            self._poll_updates()
            self._refresh_cameras()
            self._refresh_versions(now)
            self._refresh_choices(now)
            self._nodes = self.cluster.nodes()
            self._replan(report)
            settled = self._collect(now, report)
            self._actual = self.cluster.observe()
            for cam in [c for c in self._reader_strikes if _healthy(self._actual.readers.get(c))]:
                del self._reader_strikes[cam]
            t1 = time.perf_counter()
            only = None
            if self._prev is not None:
                only = changed_cameras(self._prev[0], self._desired, self._prev[1], self._actual)
                only |= {k.split(":", 1)[1] for k in self.failures if k.startswith("camera:")}
                # an action that finished since the last pass: its camera was skipped as busy then, and
                # what it changed may already have been observed on that pass (nothing differs now)
                only |= settled
            busy = {k: Failure(k, 0, 1 << 62, "in flight") for k in self.cluster.busy()}
            actions = reconcile(self._desired, self._actual, {**self.failures, **busy}, now_ms=report.at_ms,
                                only=only if only is not None and len(only) < len(self._desired.cameras) else None)
            report.reconcile_ms = (time.perf_counter() - t1) * 1000
            for a in actions:
                try:
                    self.cluster.apply(a)
                    report.actions.append(str(a))
                    if isinstance(a, StopReader) and a.reason.startswith(READER_FAILED):
                        self._reader_failed(a, now, report)  # restarted after its backoff, growing while it keeps failing
                    elif isinstance(a, (StartWorker, StartReader, StopReader, StopWorker)):
                        self._record_ok(a)
                    self._announce(a)
                except Exception as exc:
                    self._record_failure(a, f"{type(exc).__name__}: {exc}", now, report)
            self._prev = (self._desired, self._actual)
            report.tick_ms = (time.perf_counter() - t0) * 1000
            self.last = report
            self.ticks += 1
            if report.actions:
                log.info("control: tick %d applied %d actions (%s)", self.ticks, len(report.actions), "; ".join(report.actions[:5]))
            return report

    # -- desired inputs -------------------------------------------------------------------------
    def _poll_updates(self) -> None:
        """Ticks driven by hand (no loop thread) read model-updates here; a started loop has its watcher."""
        if self._updates is None or self._thread is not None:
            return
        try:
            self._updates.poll_once(0.0)
        except Exception:
            log.warning("control: model-updates poll failed", exc_info=True)

    def _refresh_cameras(self) -> None:
        version = self.ops.cameras_version() if hasattr(self.ops, "cameras_version") else None
        if version is not None and version == self._cams_version:
            return
        records = {c.camera_id: c for c in self.ops.list_cameras()}
        for cam in [c for c in self._records if c not in records]:
            self._forget(cam)
        todo = []
        for cam, rec in records.items():
            # re-link in the graph only when what discovery depends on changed (a re-link forgets the
            # scene revisions the graph learned from feedback); zones and the like update in place
            rev = (rec.region, rec.stream_url, repr(sorted(rec.hints.items())))
            url = self.ops.stream_url_with_credentials(cam) if hasattr(self.ops, "stream_url_with_credentials") else rec.stream_url
            if self._graph_rev.get(cam) != rev:
                todo.append((cam, rec, rev, url))
            elif cam in self._cameras:
                self._cameras[cam] = CameraInput(cam, url, rec.region, (rec.hints or {}).get("node"), zones_of(rec))
                self._update_zones(rec)
        # discovery reads a few frames of each new camera: in parallel, so ten cameras cost one
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(max_workers=max(1, min(8, len(todo)))) as pool:
            found = list(pool.map(lambda t: self._discover(t[1], t[3]), todo)) if todo else []
        for (cam, rec, rev, url), got in zip(todo, found):
            try:
                if isinstance(got, Exception):
                    raise got
                self._link_camera(rec, got)
                self._graph_rev[cam] = rev
                self.camera_errors.pop(cam, None)
            except Exception as exc:  # one camera's discovery or graph refusal never stops the others
                self.camera_errors[cam] = f"{type(exc).__name__}: {exc}"
                log.warning("control: camera=%s not linked: %s", cam, exc)
                continue
            self._cameras[cam] = CameraInput(cam, url, rec.region, (rec.hints or {}).get("node"), zones_of(rec))
            self._choices.pop(cam, None)
        self._records = records
        self._cams_version = version

    def _discover(self, rec, url: str):
        try:
            if self.discovery is not None:
                return self.discovery.discover(rec.camera_id, url, rec.hints or {})
            given = scenes_from_hints(rec.hints or {})
            if not given:
                raise ValueError(f"camera {rec.camera_id!r} has no scene hints and this control plane has no discovery; "
                                 "give hints={'scenes': [...]} or run with discovery")
            return DiscoveredScenes(given, "hints", primary=max(given, key=given.get))
        except Exception as exc:
            return exc

    def _update_zones(self, rec) -> None:
        """Zones edited on a linked camera: the graph's zone kinds follow in place (scene links and
        learned feedback kept), and the camera's choices are asked again."""
        try:
            if self.graph.set_camera_zones(rec.camera_id, zone_kinds(rec), reason="zones edited") is not None:
                self._choices.pop(rec.camera_id, None)
        except Exception as exc:
            self.camera_errors[rec.camera_id] = f"{type(exc).__name__}: {exc}"
            log.warning("control: camera=%s zones not updated in the graph: %s", rec.camera_id, exc)

    def _link_camera(self, rec, found: DiscoveredScenes) -> None:
        graph_hints = {k: v for k, v in (rec.hints or {}).items() if k in ("exclude_events", "exclude_algorithms")}
        kinds = zone_kinds(rec)  # the kinds of the zones and lines drawn on the camera ask for track algorithms
        if kinds:
            graph_hints["zones"] = kinds
        self.graph.add_camera(rec.camera_id, region=rec.region, scenes=dict(found.scenes), hints=graph_hints or None,
                              reason=f"scenes from {found.source}")
        self._discovered[rec.camera_id] = found

    def _forget(self, cam: str) -> None:
        for d in (self._cameras, self._records, self._discovered, self._graph_rev, self._choices, self.camera_errors,
                  self._reader_strikes):
            d.pop(cam, None)
        try:
            self.graph.remove_camera(cam, reason="camera removed")
        except Exception:
            log.debug("graph had no camera %s", cam)

    def _refresh_versions(self, now: float) -> None:
        if now - self._algorithms_at < self.versions_every_s:
            return
        from catalog import Stage

        if hasattr(self.graph, "sync_catalog"):
            try:  # a new algorithm or a first production version: the graph may now choose it
                if self.graph.sync_catalog(self.catalog):
                    self._choices_at = 0.0
            except Exception:
                log.warning("control: graph sync with the catalog failed", exc_info=True)
        specs = self._specs = {s.id: s for s in self.catalog.list_algorithms()}
        prod = self.catalog.production_versions()
        wanted = {c.algorithm_id for cs in self._choices.values() for c in cs} | set(prod)
        out: dict[str, AlgorithmRuntime] = {}
        for alg in wanted:
            spec = specs.get(alg)
            if spec is None:
                spec = specs[alg] = self.catalog.get_algorithm(alg)
            canary, canary_cams = None, frozenset()
            meta = None
            for v in self.catalog.versions(alg) if alg in self._in_use() else ():
                if v.stage is Stage.CANARY:
                    meta = meta if meta is not None else self.catalog.version_metadata(alg)
                    canary, canary_cams = version_ref(v), frozenset(meta.get(v.number, {}).get("canary_cameras", ()))
            out[alg] = AlgorithmRuntime(alg, spec.kind in _HEAD_KINDS, version_ref(prod[alg]) if alg in prod else None, canary, canary_cams,
                                        *head_persistence(spec.event_types, spec.postprocess))
        self._algorithms = out
        self._algorithms_at = now

    def _in_use(self) -> set[str]:
        return {c.algorithm_id for cs in self._choices.values() for c in cs}

    def _refresh_choices(self, now: float) -> None:
        stale = now - self._choices_at >= self.relevance_every_s
        todo = list(self._cameras) if stale else [c for c in self._cameras if c not in self._choices]
        if not todo:
            return
        at = self.at()
        for cam in todo:
            try:
                rel = self.graph.relevance(cam, at=at)
            except Exception as exc:
                self.camera_errors[cam] = f"relevance: {exc}"
                continue
            self._choices[cam] = [Choice(ch.algorithm_id, float(ch.priority), float(ch.fps)) for ch in rel.choices]
        if stale:
            self._choices_at = now
        new_algs = self._in_use() - set(self._algorithms)
        if new_algs:
            self._algorithms_at = -1e18
            self._refresh_versions(now)

    def _replan(self, report: TickReport) -> None:
        jobs = self.jobs() if self.jobs is not None else []
        inst = build_instance(list(self._cameras.values()), self._choices, self._algorithms, self._nodes,
                              profile=self.profile, policy=self.policy, jobs=jobs)
        inst_digest = instance_digest(inst)
        digest = hash((inst_digest, tuple(sorted((a, r.production, r.canary, r.canary_cameras)
                                                 for a, r in self._algorithms.items()))))
        full = self.replanner.take(inst_digest)  # the drift policy's full re-plan of this very instance
        if full is not None:
            self._plan_json, self._plan_obj, self._digest = full.to_json(), full, None
            self._plan_at_ms, report.replanned = report.at_ms, True
        if digest == self._digest:
            return
        if inst_digest != self._digest_inst:
            try:
                self._plan_json, self._plan_obj = plan_city(inst, self._plan_obj, background=self.replanner, reader=self._reader)
            except Exception as exc:  # a planner refusal keeps the last plan running
                log.exception("control: planning failed; keeping the previous plan")
                report.failed.append(f"plan: {exc}")
                return
            self._digest_inst = inst_digest
            self._plan_at_ms = report.at_ms
            report.replanned = True
        self._desired = desired_state(self._plan_json, self._cameras, self._algorithms, self._nodes, profile=self.profile,
                                      policy=self.policy, event_k=self.event["k"], event_n=self.event["n"],
                                      cooldown_s=self.event["cooldown_s"], cache=self._desired_cache)
        self._digest = digest

    # -- results --------------------------------------------------------------------------------
    def _collect(self, now: float, report: TickReport) -> set[str]:
        """Record the asynchronous actions that finished; the cameras they were about."""
        settled = set()
        for action, error in self.cluster.collect():
            if action.key.startswith("camera:"):
                settled.add(action.key.split(":", 1)[1])
            if error is None:
                self._record_ok(action)
            else:
                self._record_failure(action, error, now, report)
        return settled

    def _record_ok(self, action) -> None:
        self.failures.pop(action.key, None)

    def _reader_failed(self, action: StopReader, now: float, report: TickReport) -> None:
        strikes = self._reader_strikes.get(action.camera_id, 0) + 1
        self._reader_strikes[action.camera_id] = strikes
        self._record_failure(action, action.reason, now, report, attempts=strikes)

    def _record_failure(self, action, error: str, now: float, report: TickReport, *, attempts: int | None = None) -> None:
        prev = self.failures.get(action.key)
        n = attempts if attempts is not None else (prev.attempts if prev else 0) + 1
        self.failures[action.key] = Failure(action.key, n, int(now * 1000) + backoff_ms(n), error)
        report.failed.append(f"{action}: {error}")
        log.warning("control: %s failed (attempt %d, retry in %d ms): %s", action, n, backoff_ms(n), error)

    def _announce(self, action) -> None:
        if self.bus is None:
            return
        from warehouse.bus.events import to_wire

        try:
            ev = control_event(action, self.clock())
            if ev is not None:
                self.bus.publish("control", to_wire(ev), key=ev.camera_id or ev.worker_id)
        except Exception:
            log.debug("control: announcing %s failed", action, exc_info=True)

    # -- reading --------------------------------------------------------------------------------
    def _lag(self) -> dict[str, int]:
        """Records each consumer group still has to process (the bus's end offsets minus its commits)."""
        return consumer_lag(self.bus, self.consumer_groups)

    def placement(self) -> tuple[dict[str, Any], dict[str, str]]:
        """The current plan (``warehouse.plan/1``) and each planned worker's node id."""
        with self._lock:
            return self._plan_json, {n.worker_id: n.node_id for n in self._nodes}

    def camera_status(self, camera_id: str) -> dict[str, Any]:
        return self.status(cameras=[camera_id])["cameras"].get(camera_id, {})

    def status(self, *, cameras: list[str] | None = None, detail: bool = True) -> dict[str, Any]:
        """Cameras, workers, the plan's age and the last reconcile (for ``warehouse status`` and ``/status``)."""
        with self._lock:
            # what this tick's observe() already read: no second round of calls to every worker
            inputs = StatusInputs(
                desired=self._desired, actual=self._actual, nodes=tuple(self._nodes),
                records=frozenset(self._records), cameras=frozenset(self._cameras),
                chose={c: bool(v) for c, v in self._choices.items()},
                discovered={c: f.to_dict() for c, f in self._discovered.items()},
                camera_errors=dict(self.camera_errors),
                failures={k: (f.attempts, f.error) for k, f in self.failures.items()},
                plan_json=self._plan_json, plan_at_ms=self._plan_at_ms, last=self.last, ticks=self.ticks,
                worker_status=self.cluster.worker_status(fresh=False) if detail else {},
                reader_stats=self.cluster.reader_stats(fresh=False) if detail else {},
            )
            lag = self._lag() if detail else {}
        return render_status(inputs, now_ms=int(self.clock() * 1000), lag=lag, cameras=cameras)


def _healthy(reader) -> bool:
    return reader is not None and reader.alive and not reader.finished and reader.health == "healthy"


__all__ = ["ControlPlane", "TickReport"]
