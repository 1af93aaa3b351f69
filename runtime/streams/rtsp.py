"""A live RTSP camera through OpenCV's FFmpeg backend, reconnecting with exponential backoff.

A camera that cannot be reached, or that drops mid-stream, is marked ``UNHEALTHY`` with
the delay until the next try; it recovers by itself when the server comes back. Nothing
here blocks other cameras: each source waits only inside its own ``frames()`` iterator.

``host_guard`` (optional) is called before every connect, the first and each reconnect, with
the URL's host and every address it resolves to at that moment; if it raises, the source does
not connect and ends ``FAILED`` with the guard's message (a name that re-resolves to a
forbidden address after registration, DNS rebinding, is refused here, not only at
registration).

>>> src = RtspSource("rtsp://127.0.0.1:8554/cam", camera_id="gate-3")   # doctest: +SKIP
>>> ev = next(iter(src.frames())); src.health().state                  # doctest: +SKIP
<HealthState.HEALTHY: 'healthy'>
"""
from __future__ import annotations

import logging
import os
import random
import socket
from dataclasses import dataclass
from typing import Callable, Iterator
from urllib.parse import urlsplit

import cv2

from runtime.streams.base import (
    FrameEvent,
    HealthState,
    HealthTracker,
    StreamConfigError,
    TrackedSource,
    wall_ms,
)

log = logging.getLogger(__name__)

_CAPTURE_OPTIONS_ENV = "OPENCV_FFMPEG_CAPTURE_OPTIONS"


def backoff_delay_s(attempt: int, *, initial_s: float, max_s: float, factor: float, jitter: float = 0.0,
                    rng: random.Random | None = None) -> float:
    """Delay before retry number ``attempt`` (0-based): ``initial_s * factor**attempt``,
    capped at ``max_s``, spread by +-``jitter`` (a fraction) so cameras do not retry in step.

    >>> [backoff_delay_s(a, initial_s=0.5, max_s=4.0, factor=2.0) for a in range(5)]
    [0.5, 1.0, 2.0, 4.0, 4.0]
    """
    base = min(max_s, initial_s * factor ** min(attempt, 64))
    if jitter and rng is not None:
        base *= 1.0 + rng.uniform(-jitter, jitter)
    return max(0.0, base)


@dataclass(frozen=True, slots=True)
class Backoff:
    initial_s: float = 0.5
    max_s: float = 30.0
    factor: float = 2.0
    jitter: float = 0.1

    def __post_init__(self) -> None:
        if not (0 < self.initial_s <= self.max_s) or self.factor < 1 or not (0 <= self.jitter < 1):
            raise StreamConfigError(
                f"invalid backoff {self!r}; expected 0 < initial_s <= max_s, factor >= 1, 0 <= jitter < 1"
            )

    def delay_s(self, attempt: int, rng: random.Random | None = None) -> float:
        return backoff_delay_s(attempt, initial_s=self.initial_s, max_s=self.max_s, factor=self.factor,
                               jitter=self.jitter, rng=rng)


class RtspSource(TrackedSource):
    """Frames of an ``rtsp://`` URL; wall-clock timestamps; frame indices keep counting
    across reconnects. ``max_attempts=None`` retries for ever (a camera is expected back)."""

    def __init__(self, url: str, *, camera_id: str, backoff: Backoff | None = None, open_timeout_s: float = 5.0,
                 read_timeout_s: float = 3.0, max_attempts: int | None = None, transport: str = "tcp",
                 fps_hint: float = 25.0, seed: int | None = None,
                 host_guard: Callable[[str], None] | None = None) -> None:
        if not url.startswith(("rtsp://", "rtsps://")):
            raise StreamConfigError(f"RtspSource needs an rtsp:// URL, got {url!r}; use open_source() for other kinds")
        if transport not in ("tcp", "udp"):
            raise StreamConfigError(f"transport={transport!r} for {url!r}; expected 'tcp' or 'udp'")
        if max_attempts is not None and max_attempts < 1:
            raise StreamConfigError(f"max_attempts={max_attempts!r}; expected None (retry for ever) or >= 1")
        self.camera_id = camera_id
        self.url = url
        self._backoff = backoff or Backoff()
        self._open_ms, self._read_ms = int(open_timeout_s * 1000), int(read_timeout_s * 1000)
        self._max_attempts = max_attempts
        self._fps = fps_hint
        self._rng = random.Random(seed)
        self._health = HealthTracker(camera_id)
        self._host_guard = host_guard
        # OpenCV reads FFmpeg options from the environment at each open; it is process-wide,
        # so respect a value someone already set
        if transport == "tcp":
            os.environ.setdefault(_CAPTURE_OPTIONS_ENV, "rtsp_transport;tcp")

    def _guard(self) -> str | None:
        """Why this connect is refused (the guard's message), or None. DNS failures are not refusals."""
        if self._host_guard is None:
            return None
        host = (urlsplit(self.url).hostname or "").strip("[]")
        try:
            addresses = {info[4][0] for info in socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)}
        except (OSError, UnicodeError):
            addresses = set()  # unresolvable now: the open fails and is retried like any other failure
        for candidate in [host, *sorted(addresses)]:
            try:
                self._host_guard(candidate)
            except Exception as exc:  # the guard's own error type is the caller's (a policy refusal)
                return f"{exc} (host {host!r} resolved to {candidate!r} at connect time)"
        return None

    def _open(self):
        params = [cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, self._open_ms, cv2.CAP_PROP_READ_TIMEOUT_MSEC, self._read_ms]
        cap = cv2.VideoCapture(self.url, cv2.CAP_FFMPEG, params)
        if cap.isOpened():
            fps = cap.get(cv2.CAP_PROP_FPS) or 0.0
            if 0 < fps <= 1000:
                self._fps = fps
            return cap
        cap.release()
        return None

    def _failed(self, why: str) -> bool:
        """Record a failure; wait the backoff delay. False when it is time to give up."""
        h = self._health.snapshot()
        failures = h.consecutive_failures + 1
        if self._max_attempts is not None and failures >= self._max_attempts:
            self._health.update(state=HealthState.FAILED, consecutive_failures=failures, last_error=why, retry_in_s=0.0)
            log.error("rtsp giving up camera=%s url=%s after %d attempts: %s", self.camera_id, self.url, failures, why)
            return False
        delay = self._backoff.delay_s(failures - 1, self._rng)
        self._health.update(state=HealthState.UNHEALTHY, consecutive_failures=failures, last_error=why, retry_in_s=delay)
        log.warning("rtsp unhealthy camera=%s url=%s failures=%d retry_in_s=%.2f: %s",
                    self.camera_id, self.url, failures, delay, why)
        self._health.closed.wait(delay)
        return True

    def frames(self) -> Iterator[FrameEvent]:
        i, connected_before, closed = 0, False, self._health.closed
        while not closed.is_set():
            refused = self._guard()
            if refused is not None:
                self._health.update(state=HealthState.FAILED, last_error=refused, retry_in_s=0.0)
                log.error("rtsp refused camera=%s url=%s: %s", self.camera_id, self.url, refused)
                return
            cap = self._open()
            if cap is None:
                if not self._failed(f"cannot open {self.url} (server down, wrong path, or timeout "
                                    f"{self._open_ms} ms)"):
                    return
                continue
            if connected_before:
                self._health.update(reconnects=self._health.snapshot().reconnects + 1)
                log.info("rtsp reconnected camera=%s url=%s", self.camera_id, self.url)
            connected_before = True
            try:
                while not closed.is_set():
                    ok, img = cap.read()
                    if not ok or img is None:
                        break
                    self._health.frame_read()
                    yield FrameEvent(self.camera_id, i, wall_ms(), img)
                    i += 1
            finally:
                cap.release()
            if closed.is_set() or not self._failed("stream stopped (read failed, timed out or ended)"):
                break
        if closed.is_set():
            self._health.update(state=HealthState.ENDED, retry_in_s=0.0)
