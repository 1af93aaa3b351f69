"""Ray actors for the stream side: readers (one per camera) and inference workers (one per plan worker).

``StreamReader`` reads a source, samples it at the camera's planned rate, gates it, and
pushes frames to its worker. ``InferenceWorker`` (``runtime.worker``) gathers the frames of
all its cameras into cross-camera batches, scores them through a
:class:`~runtime.scoring.FrameScorer` (per-algorithm rates applied there), runs real
detectors at their own rates, and turns the results into alerts. Both are plain classes
(unit-testable without Ray); ``StreamReaderActor`` and ``InferenceWorkerActor`` are their
Ray actor forms, built on first use so ``import runtime`` does not import Ray. The worker
actor is threaded: every reader's ``process`` call waits inside it while its frames are
batched with other cameras' frames; control calls (``swap_model``, ``drain_alerts``,
``stats``) go to their own concurrency group so a busy stream cannot starve them.

``plan`` is duck-typed (``plan.workers[*].worker_id/num_gpus``, ``plan.placements[*]
.camera_id/worker_id/fps/assignments``), as ``scheduler.Plan`` provides; runtime does not
import scheduler.

>>> dep = deploy_plan(plan, sources={"cam-1": "rtsp://..."}, scorer_factory=factory,   # doctest: +SKIP
...                   put_evidence=store.put_bytes)
>>> dep.start(); dep.wait(timeout_s=30); alerts = dep.drain_alerts(); dep.shutdown()      # doctest: +SKIP
"""
from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from typing import Any, Callable, Mapping, Sequence

from runtime.batching import BatchPolicy
from runtime.events import Alert, EventPolicy
from runtime.gating import ChangeGate
from runtime.sampling import RateSampler
from runtime.scoring import FrameScorer
from runtime.streams.base import FrameEvent, SourceHealth, StreamConfigError
from runtime.streams.registry import SourceRegistry, open_source
from runtime.worker import AlertSink, InferenceWorker, ScoredFrame

__all__ = ["Deployment", "InferenceWorker", "ScoredFrame", "StreamReader", "deploy_plan", "ensure_ray"]

log = logging.getLogger(__name__)


class StreamReader:
    """Reads one camera, samples it at ``fps``, gates it, and pushes frames to ``worker``
    (a local :class:`InferenceWorker` or an ``InferenceWorkerActor`` handle) ``batch_frames`` at a time."""

    def __init__(self, camera_id: str, url: str, *, fps: float, worker, source_options: Mapping[str, Any] | None = None,
                 gate_options: Mapping[str, Any] | None = None, gate: bool = True, batch_frames: int = 1,
                 max_in_flight: int = 2, registry: SourceRegistry | None = None) -> None:
        if batch_frames < 1 or max_in_flight < 1:
            raise StreamConfigError(f"batch_frames={batch_frames!r}, max_in_flight={max_in_flight!r}; expected >= 1 each")
        self.camera_id = camera_id
        self._source = open_source(url, camera_id, registry=registry, **dict(source_options or {}))
        self._sampler = RateSampler(target_fps=fps, source_fps=self._source.fps)
        self._gate = ChangeGate(**dict(gate_options or {})) if gate else None
        self._worker = worker
        self._remote = hasattr(getattr(worker, "process", None), "remote")
        self._batch_frames, self._max_in_flight = batch_frames, max_in_flight
        self._stop = threading.Event()
        self.frames_read = self.frames_sampled = self.frames_sent = 0
        self._calls = 0

    def _push(self, batch: list[FrameEvent], in_flight: list) -> list:
        self.frames_sent += len(batch)
        if not self._remote:
            self._worker.process(batch)
            return in_flight
        import ray

        in_flight.append(self._worker.process.remote(batch, self._calls))  # numbered: the worker keeps their order
        self._calls += 1
        if len(in_flight) >= self._max_in_flight:  # back-pressure: a slow worker slows its readers, not memory
            _, in_flight = ray.wait(in_flight, num_returns=1)
        return in_flight

    def run(self, max_frames: int | None = None) -> dict[str, Any]:
        """Read until the source ends, ``stop()`` is called, or ``max_frames`` frames were read."""
        batch: list[FrameEvent] = []
        in_flight: list = []
        try:
            for ev in self._source.frames():
                self.frames_read += 1
                if self._sampler.accept(ev.ts_ms):
                    self.frames_sampled += 1
                    if self._gate is None or self._gate.decide(ev.image).passed:
                        batch.append(ev)
                        if len(batch) >= self._batch_frames:
                            in_flight, batch = self._push(batch, in_flight), []
                if self._stop.is_set() or (max_frames is not None and self.frames_read >= max_frames):
                    break
            if batch:
                in_flight = self._push(batch, in_flight)
            if in_flight:
                import ray

                ray.get(in_flight)
        finally:
            self._source.close()
        log.info("reader done camera=%s read=%d sampled=%d sent=%d", self.camera_id, self.frames_read,
                 self.frames_sampled, self.frames_sent)
        return self.stats()

    def stop(self) -> None:
        self._stop.set()
        self._source.close()  # wakes a source waiting in backoff or pacing

    def health(self) -> SourceHealth:
        return self._source.health()

    def stats(self) -> dict[str, Any]:
        gated = self._gate.skip_rate if self._gate is not None else 0.0
        return {"camera_id": self.camera_id, "frames_read": self.frames_read, "frames_sampled": self.frames_sampled,
                "frames_sent": self.frames_sent, "gate_skip_rate": gated, "health": self.health().state.value}


_ACTORS: dict[str, Any] = {}
WORKER_MAX_CONCURRENCY = 64  # >= readers per worker x their max_in_flight, else calls queue in Ray (still correct)
CONTROL_GROUP = "control"


def _control(handle, method: str):
    """``handle.method`` in the control concurrency group."""
    return getattr(handle, method).options(concurrency_group=CONTROL_GROUP)


def __getattr__(name: str):  # StreamReaderActor / InferenceWorkerActor, built on first use
    if name in ("StreamReaderActor", "InferenceWorkerActor"):
        if name not in _ACTORS:
            import ray

            # readers wait on I/O and must answer health()/stop() while run() blocks: threaded actor
            _ACTORS["StreamReaderActor"] = ray.remote(max_concurrency=4)(StreamReader)
            # process() calls of all readers wait inside the worker while their frames are batched
            # together: one thread each. Control calls get their own group (never starved by streams).
            _ACTORS["InferenceWorkerActor"] = ray.remote(max_concurrency=WORKER_MAX_CONCURRENCY,
                                                         concurrency_groups={CONTROL_GROUP: 2})(InferenceWorker)
        return _ACTORS[name]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


@dataclass
class Deployment:
    """Handles of a deployed plan."""

    readers: dict[str, Any]  # camera_id -> StreamReaderActor handle
    workers: dict[str, Any]  # worker_id -> InferenceWorkerActor handle
    _runs: dict[str, Any]

    def start(self, max_frames: int | None = None) -> None:
        for cam, r in self.readers.items():
            self._runs[cam] = r.run.remote(max_frames)

    def wait(self, timeout_s: float | None = None) -> dict[str, dict]:
        """Wait for readers to finish (finite sources); returns the finished readers' stats."""
        import ray

        refs = list(self._runs.values())
        done, _ = ray.wait(refs, num_returns=len(refs), timeout=timeout_s)
        by_ref = {r: cam for cam, r in self._runs.items()}
        return {by_ref[d]: ray.get(d) for d in done}

    def health(self) -> dict[str, SourceHealth]:
        import ray

        return dict(zip(self.readers, ray.get([r.health.remote() for r in self.readers.values()])))

    def reader_stats(self) -> dict[str, dict]:
        import ray

        return dict(zip(self.readers, ray.get([r.stats.remote() for r in self.readers.values()])))

    def drain_alerts(self) -> list[Alert]:
        import ray

        return [a for batch in ray.get([_control(w, "drain_alerts").remote() for w in self.workers.values()]) for a in batch]

    def drain_scores(self) -> list[ScoredFrame]:
        """Every worker's kept :class:`ScoredFrame` records (workers built with ``keep_scores``)."""
        import ray

        return [s for batch in ray.get([_control(w, "drain_scores").remote() for w in self.workers.values()]) for s in batch]

    def worker_stats(self) -> dict[str, dict]:
        """worker_id -> ``InferenceWorker.stats()`` (frames scored, batches, mean batch size, ...)."""
        import ray

        return dict(zip(self.workers, ray.get([_control(w, "stats").remote() for w in self.workers.values()])))

    def swap_model(self, algorithm_id: str, onnx_bytes: bytes, version: str, threshold: float | None = None,
                   *, worker_ids: Sequence[str] | None = None) -> dict[str, str]:
        """Hot-swap a head on the workers (all, or ``worker_ids``) while streams run; worker_id -> previous version."""
        import ray

        ids = list(self.workers) if worker_ids is None else list(worker_ids)
        unknown = [w for w in ids if w not in self.workers]
        if unknown:
            raise StreamConfigError(f"worker ids {unknown} are not deployed; deployed: {sorted(self.workers)}")
        refs = [_control(self.workers[w], "swap_model").remote(algorithm_id, onnx_bytes, version, threshold) for w in ids]
        return dict(zip(ids, ray.get(refs)))

    def stop(self) -> None:
        import ray

        ray.get([r.stop.remote() for r in self.readers.values()])

    def shutdown(self) -> None:
        import ray

        try:  # score what is pending and close the alert sinks before the actors go
            ray.get([_control(w, "close").remote() for w in self.workers.values()], timeout=30)
        except Exception:
            log.warning("workers did not close cleanly; killing them", exc_info=True)
        for h in [*self.readers.values(), *self.workers.values()]:
            ray.kill(h)
        self.readers.clear(), self.workers.clear(), self._runs.clear()


def ensure_ray(address: str | None = None, *, num_cpus: int = 2) -> None:
    """Start (or join) Ray once: local with ``num_cpus`` and no dashboard, or the cluster at ``address``."""
    import ray

    if not ray.is_initialized():
        kw: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False}
        if address is None:
            kw["num_cpus"] = num_cpus
        ray.init(address=address, **kw)


def deploy_plan(plan, *, sources: Mapping[str, str], scorer_factory: Callable[[], FrameScorer],
                put_evidence: Callable[[bytes], str], policy: EventPolicy | None = None,
                model_versions: Mapping[str, str] | None = None, source_options: Mapping[str, Mapping] | None = None,
                gate_options: Mapping[str, Any] | None = None, ray_address: str | None = None,
                batch_policy: BatchPolicy | None = None, stage_factory: Callable[[], Any] | None = None,
                alert_sink_factory: Callable[[], AlertSink] | None = None, keep_scores: int = 0) -> Deployment:
    """Start one InferenceWorkerActor per plan worker with cameras and one StreamReaderActor
    per placed camera. ``sources`` maps camera_id -> URL; ``source_options`` camera_id -> kwargs.
    ``batch_policy``, ``stage_factory`` (picklable, returns a ``DetectorStage``),
    ``alert_sink_factory`` (picklable, returns ``sink(alert_dict)``) and ``keep_scores`` go to
    every :class:`InferenceWorker`."""
    missing = [p.camera_id for p in plan.placements if p.camera_id not in sources]
    if missing:
        raise StreamConfigError(f"cameras {missing} are placed by the plan but have no URL in sources; add them")
    ensure_ray(ray_address)
    mod = __import__(__name__, fromlist=["StreamReaderActor"])
    reader_cls, worker_cls = mod.StreamReaderActor, mod.InferenceWorkerActor
    workers: dict[str, Any] = {}
    for w in plan.workers:
        mine = [a for p in plan.placements if p.worker_id == w.worker_id for a in p.assignments]
        if not mine:
            continue
        workers[w.worker_id] = worker_cls.options(num_cpus=0, num_gpus=getattr(w, "num_gpus", 0) or 0).remote(
            w.worker_id, list(mine), scorer_factory=scorer_factory, put_evidence=put_evidence, policy=policy,
            model_versions=dict(model_versions or {}), batch_policy=batch_policy, stage_factory=stage_factory,
            alert_sink_factory=alert_sink_factory, keep_scores=keep_scores)
    readers: dict[str, Any] = {}
    for p in plan.placements:
        readers[p.camera_id] = reader_cls.options(num_cpus=0).remote(
            p.camera_id, sources[p.camera_id], fps=p.fps, worker=workers[p.worker_id],
            source_options=dict((source_options or {}).get(p.camera_id, {})), gate_options=gate_options)
    log.info("plan deployed workers=%s cameras=%s", list(workers), list(readers))
    return Deployment(readers, workers, {})
