"""What every stream source shares: the frame record, the health record, the Protocol.

>>> import numpy as np
>>> ev = FrameEvent("cam-1", 0, 0, np.zeros((2, 2, 3), np.uint8))
>>> str(ev)
'cam-1#0@0ms'
"""
from __future__ import annotations

import enum
import threading
import time
from dataclasses import dataclass, field, replace
from typing import Iterator, Protocol, runtime_checkable

import numpy as np


class StreamError(RuntimeError):
    """Base of the stream/event side of ``runtime`` (sources, sampling, gating, events, actors)."""


class StreamConfigError(StreamError, ValueError):
    """A source URL, option or component setting is invalid; the message names the fix."""


@dataclass(frozen=True, slots=True, eq=False)
class FrameEvent:
    """One decoded frame of one camera. ``image`` is HxWx3 uint8 BGR; ``ts_ms`` is the
    frame's time (media time for files, wall clock for live streams)."""

    camera_id: str
    frame_index: int
    ts_ms: int
    image: np.ndarray = field(repr=False)
    # exact labels where the source knows them (the synthetic generator: the events on this
    # frame); None for real cameras. The frame pool keeps them for simulated labelers.
    labels: tuple[str, ...] | None = None

    def __str__(self) -> str:
        return f"{self.camera_id}#{self.frame_index}@{self.ts_ms}ms"


class HealthState(str, enum.Enum):
    CONNECTING = "connecting"
    HEALTHY = "healthy"
    UNHEALTHY = "unhealthy"  # failing; retrying with backoff
    ENDED = "ended"  # finite source exhausted, or closed
    FAILED = "failed"  # gave up (max_attempts reached)


@dataclass(frozen=True, slots=True)
class SourceHealth:
    camera_id: str
    state: HealthState
    frames_read: int = 0
    consecutive_failures: int = 0
    reconnects: int = 0
    retry_in_s: float = 0.0
    last_error: str = ""

    @property
    def ok(self) -> bool:
        return self.state in (HealthState.HEALTHY, HealthState.CONNECTING, HealthState.ENDED)


@runtime_checkable
class StreamSource(Protocol):
    """A camera's frames. ``frames()`` blocks while it waits (live streams, backoff);
    ``health()`` and ``close()`` may be called from another thread."""

    camera_id: str
    url: str

    @property
    def fps(self) -> float: ...

    def frames(self) -> Iterator[FrameEvent]: ...

    def health(self) -> SourceHealth: ...

    def close(self) -> None: ...


class HealthTracker:
    """Thread-safe mutable health behind an immutable snapshot (internal helper for sources)."""

    def __init__(self, camera_id: str) -> None:
        self._lock = threading.Lock()
        self._h = SourceHealth(camera_id, HealthState.CONNECTING)
        self.closed = threading.Event()

    def snapshot(self) -> SourceHealth:
        with self._lock:
            return self._h

    def update(self, **changes) -> SourceHealth:
        with self._lock:
            self._h = replace(self._h, **changes)
            return self._h

    def frame_read(self) -> None:
        with self._lock:
            h = self._h
            self._h = replace(
                h, state=HealthState.HEALTHY, frames_read=h.frames_read + 1, consecutive_failures=0, retry_in_s=0.0
            )


def media_ts_ms(start_ms: int, frame_index: int, fps: float) -> int:
    """Timestamp of frame ``frame_index`` of a constant-rate source."""
    return int(start_ms + round(frame_index * 1000.0 / fps))


def wall_ms() -> int:
    return int(time.time() * 1000)


def check_fps(fps: float, url: str) -> float:
    try:
        value = float(fps)
    except (TypeError, ValueError):
        value = float("nan")
    if not value > 0 or value != value or value > 1000:
        raise StreamConfigError(f"fps={fps!r} for {url!r} is invalid; expected a number in (0, 1000], e.g. fps=10")
    return value


class TrackedSource:
    """``fps``, ``health()`` and ``close()`` for the built-in sources, which keep their rate in
    ``_fps`` and their state in a :class:`HealthTracker` at ``_health``."""

    _fps: float
    _health: HealthTracker

    @property
    def fps(self) -> float:
        """Frames per second: the configured or reported rate (a live stream's is known once connected)."""
        return self._fps

    def health(self) -> SourceHealth:
        return self._health.snapshot()

    def close(self) -> None:
        self._health.closed.set()
