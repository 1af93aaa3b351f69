"""Frame sampling: keep a camera's frames at the plan's rate, whatever the source's rate.

Sampling is by timestamp, not by counting frames, so it holds for live streams whose rate
wobbles or that drop frames: a frame is kept when it is due (one target period after the
last kept one, less half a source period of tolerance so a 25 fps source sampled at 5 fps
keeps exactly every 5th frame rather than drifting).

>>> s = RateSampler(target_fps=5, source_fps=25)
>>> [i for i in range(25) if s.accept(i * 40)]
[0, 5, 10, 15, 20]
"""
from __future__ import annotations

from typing import Sequence

from runtime.streams.base import StreamConfigError


class RateSampler:
    """Keep frames at ``target_fps`` out of a source at ``source_fps`` (``None``: unknown)."""

    __slots__ = ("target_fps", "source_fps", "_period_ms", "_tolerance_ms", "_next_due_ms")

    def __init__(self, *, target_fps: float, source_fps: float | None = None) -> None:
        if not (isinstance(target_fps, (int, float)) and target_fps > 0):
            raise StreamConfigError(f"target_fps={target_fps!r}; expected a rate > 0 from the plan, e.g. 5")
        if source_fps is not None and not (isinstance(source_fps, (int, float)) and source_fps > 0):
            raise StreamConfigError(f"source_fps={source_fps!r}; expected a rate > 0 or None when unknown")
        self.target_fps = float(target_fps)
        self.source_fps = None if source_fps is None else float(source_fps)
        self._period_ms = 1000.0 / self.target_fps
        self._tolerance_ms = 0.0 if self.source_fps is None else 500.0 / self.source_fps
        self._next_due_ms: float | None = None

    @property
    def passthrough(self) -> bool:
        """True when every frame is kept (the source is no faster than the plan's rate)."""
        return self.source_fps is not None and self.source_fps <= self.target_fps

    def accept(self, ts_ms: float) -> bool:
        if self._next_due_ms is None or ts_ms >= self._next_due_ms - self._tolerance_ms:
            due = self._next_due_ms
            # after a gap (reconnect, dropped frames) restart the grid instead of bursting to catch up
            if due is None or ts_ms - due >= self._period_ms:
                due = ts_ms
            self._next_due_ms = due + self._period_ms
            return True
        if ts_ms < self._next_due_ms - 2 * self._period_ms:  # clock went backwards (a looped file): restart
            self._next_due_ms = ts_ms + self._period_ms
            return True
        return False

    def reset(self) -> None:
        self._next_due_ms = None


def sample_mask(ts_ms: Sequence[float], *, target_fps: float, source_fps: float | None = None) -> list[bool]:
    """Which of these timestamps a fresh :class:`RateSampler` keeps.

    >>> sample_mask([0, 100, 200, 300], target_fps=5, source_fps=10)
    [True, False, True, False]
    """
    s = RateSampler(target_fps=target_fps, source_fps=source_fps)
    return [s.accept(t) for t in ts_ms]
