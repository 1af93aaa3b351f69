"""The stream reader: one camera's source, sampled at its planned rate and change-gated, pushed to a worker.

A worker runs one reader per camera placed on it, each in its own thread
(``InferenceWorker.start_stream``); ``push`` goes to the worker in the same process (each
push waits until its frames are scored: back-pressure), or to a worker actor's handle with at
most ``max_in_flight`` calls outstanding.

>>> r = StreamReader("cam-1", "synthetic://road?seed=1&n=20", fps=5, worker=worker)   # doctest: +SKIP
>>> r.run(); r.stats()["frames_sent"]                                                  # doctest: +SKIP
"""
from __future__ import annotations

import logging
import threading
from typing import Any, Callable, Mapping

from runtime.gating import ChangeGate
from runtime.sampling import RateSampler
from runtime.streams.base import FrameEvent, SourceHealth, StreamConfigError
from runtime.streams.registry import SourceRegistry, open_source

log = logging.getLogger(__name__)


class StreamReader:
    """Reads one camera, samples it at ``fps``, gates it, and pushes frames to ``worker``
    (a local :class:`InferenceWorker` or an ``InferenceWorkerActor`` handle) ``batch_frames`` at a time."""

    def __init__(self, camera_id: str, url: str, *, fps: float, worker, source_options: Mapping[str, Any] | None = None,
                 gate_options: Mapping[str, Any] | None = None, gate: bool = True, batch_frames: int = 1,
                 max_in_flight: int = 2, registry: SourceRegistry | None = None,
                 host_guard: Callable[[str], None] | None = None) -> None:
        if batch_frames < 1 or max_in_flight < 1:
            raise StreamConfigError(f"batch_frames={batch_frames!r}, max_in_flight={max_in_flight!r}; expected >= 1 each")
        self.camera_id = camera_id
        self._source = open_source(url, camera_id, registry=registry, host_guard=host_guard,
                                   **dict(source_options or {}))
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

    def set_fps(self, fps: float) -> None:
        """Sample at ``fps`` from the next frame on (a re-plan changed the camera's rate; the stream goes on)."""
        self._sampler = RateSampler(target_fps=fps, source_fps=self._source.fps)

    def stop(self) -> None:
        self._stop.set()
        self._source.close()  # wakes a source waiting in backoff or pacing

    def health(self) -> SourceHealth:
        return self._source.health()

    def stats(self) -> dict[str, Any]:
        gated = self._gate.skip_rate if self._gate is not None else 0.0
        return {"camera_id": self.camera_id, "frames_read": self.frames_read, "frames_sampled": self.frames_sampled,
                "frames_sent": self.frames_sent, "gate_skip_rate": gated, "health": self.health().state.value}


__all__ = ["StreamReader"]
