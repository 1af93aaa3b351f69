"""Cross-camera batching: frames from many cameras, one backbone batch.

The policy is a pure function (``plan_batch``): given what is pending and the time, flush a
batch when it is full or when its oldest frame has waited ``max_wait_ms``; take frames
oldest first, at most ``max_per_camera`` per camera so one busy camera cannot starve the
others. ``CrossCameraBatcher`` is the thin thread-safe shell around it.

>>> b = CrossCameraBatcher(BatchPolicy(max_batch=2, max_wait_ms=10), clock=lambda: 0.0)
>>> b.put("cam-1", "f1"); b.put("cam-2", "f2"); b.put("cam-1", "f3")
>>> [(f.camera_id, f.frame) for f in b.next_batch()]
[('cam-1', 'f1'), ('cam-2', 'f2')]
"""
from __future__ import annotations

import itertools
import logging
import threading
import time
from collections import deque
from dataclasses import dataclass
from typing import Callable, Sequence

log = logging.getLogger(__name__)


class BatchingError(ValueError):
    """A batching policy or call that cannot work."""


@dataclass(frozen=True, slots=True)
class BatchPolicy:
    max_batch: int = 32
    max_wait_ms: float = 20.0
    max_per_camera: int | None = None  # None: no per-camera cap within one batch
    max_pending: int = 4096  # beyond this the oldest frames are dropped (and counted)

    def __post_init__(self) -> None:
        if self.max_batch < 1:
            raise BatchingError(f"max_batch must be >= 1, got {self.max_batch}")
        if self.max_wait_ms < 0:
            raise BatchingError(f"max_wait_ms must be >= 0, got {self.max_wait_ms}")
        if self.max_per_camera is not None and self.max_per_camera < 1:
            raise BatchingError(f"max_per_camera must be >= 1 or None, got {self.max_per_camera}")
        if self.max_pending < self.max_batch:
            raise BatchingError(f"max_pending ({self.max_pending}) must be >= max_batch ({self.max_batch})")


@dataclass(frozen=True, slots=True)
class PendingFrame:
    camera_id: str
    frame: object
    frame_id: object
    enqueued_s: float  # clock time the frame entered the batcher (latency starts here)
    seq: int


@dataclass(frozen=True, slots=True)
class BatchDecision:
    take: tuple[int, ...]  # indices into the pending sequence, in batch order
    wait_s: float  # when ``take`` is empty: how long until a flush could be due (inf if nothing pending)


def plan_batch(pending: Sequence[PendingFrame], *, now_s: float, policy: BatchPolicy, force: bool = False) -> BatchDecision:
    """Which pending frames form the next batch, or how long to wait (pure).

    ``pending`` is in arrival order. A batch is due when ``max_batch`` frames are eligible,
    when the oldest frame has waited ``max_wait_ms``, or when ``force`` (draining).

    >>> p = [PendingFrame("a", None, i, enqueued_s=0.0, seq=i) for i in range(3)]
    >>> plan_batch(p, now_s=0.001, policy=BatchPolicy(max_batch=8, max_wait_ms=5))
    BatchDecision(take=(), wait_s=0.004)
    >>> plan_batch(p, now_s=0.010, policy=BatchPolicy(max_batch=8, max_wait_ms=5, max_per_camera=2)).take
    (0, 1)
    """
    if not pending:
        return BatchDecision((), float("inf"))
    per_cam: dict[str, int] = {}
    take = []
    for i, f in enumerate(pending):
        c = per_cam.get(f.camera_id, 0)
        if policy.max_per_camera is not None and c >= policy.max_per_camera:
            continue
        per_cam[f.camera_id] = c + 1
        take.append(i)
        if len(take) == policy.max_batch:
            return BatchDecision(tuple(take), 0.0)
    waited_s = now_s - pending[0].enqueued_s
    due_in_s = policy.max_wait_ms / 1000.0 - waited_s
    if force or due_in_s <= 0:
        return BatchDecision(tuple(take), 0.0)
    return BatchDecision((), round(due_in_s, 9))


class CrossCameraBatcher:
    """Thread-safe queue of frames from many cameras, released as batches by ``plan_batch``."""

    def __init__(self, policy: BatchPolicy | None = None, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.policy = policy or BatchPolicy()
        self._clock = clock
        self._pending: deque[PendingFrame] = deque()
        self._cond = threading.Condition()
        self._seq = itertools.count()
        self._closed = False
        self.dropped = 0

    def __len__(self) -> int:
        return len(self._pending)

    def put(self, camera_id: str, frame: object, *, frame_id: object = None, enqueued_s: float | None = None) -> None:
        with self._cond:
            if self._closed:
                raise BatchingError(f"batcher is closed; frame from camera {camera_id!r} refused")
            seq = next(self._seq)
            t = self._clock() if enqueued_s is None else enqueued_s
            self._pending.append(PendingFrame(camera_id, frame, seq if frame_id is None else frame_id, t, seq))
            while len(self._pending) > self.policy.max_pending:
                old = self._pending.popleft()
                self.dropped += 1
                log.warning("batcher full: dropped frame camera=%s frame_id=%s", old.camera_id, old.frame_id)
            self._cond.notify()

    def next_batch(self, *, force: bool = False) -> list[PendingFrame]:
        """A batch if one is due now, else ``[]`` (never blocks)."""
        with self._cond:
            return self._take(plan_batch(self._pending, now_s=self._clock(), policy=self.policy, force=force))

    def get(self, timeout_s: float | None = None) -> list[PendingFrame]:
        """Block until a batch is due (or ``timeout_s`` passes, or the batcher closes and drains)."""
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        with self._cond:
            while True:
                d = plan_batch(self._pending, now_s=self._clock(), policy=self.policy, force=self._closed)
                if d.take or (self._closed and not self._pending):
                    return self._take(d)
                wait = d.wait_s
                if deadline is not None:
                    left = deadline - time.monotonic()
                    if left <= 0:
                        return []
                    wait = min(wait, left)
                self._cond.wait(None if wait == float("inf") else wait)

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    def _take(self, d: BatchDecision) -> list[PendingFrame]:
        if not d.take:
            return []
        if d.take == tuple(range(len(d.take))):  # the common case: a prefix
            return [self._pending.popleft() for _ in d.take]
        chosen = set(d.take)
        items = list(self._pending)
        self._pending = deque(f for i, f in enumerate(items) if i not in chosen)
        return [items[i] for i in d.take]
