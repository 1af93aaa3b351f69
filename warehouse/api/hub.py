"""Fan-out of live alerts to HTTP stream subscribers: one shared log, a cursor per subscriber.

``publish`` (any thread, e.g. the bus consumer's) encodes the SSE frame once and appends it
to a bounded log; each event loop with subscribers is woken at most once per pending batch.
A subscriber reads everything after its cursor in one slice and writes it as one chunk, so
the cost per alert does not grow with the number of clients beyond copying bytes. A client
that falls further behind than the log holds skips the oldest (counted in ``dropped``),
never slowing the others. Reconnecting clients send ``Last-Event-ID``: a subscription can
start right after any alert still in the log (the route falls back to the store beyond it).

>>> hub = AlertHub(replay=100)
>>> hub.publish({"alert_id": "a1", "camera_id": "cam-1"})
>>> hub.publish({"alert_id": "a1", "camera_id": "cam-1"})  # a second copy is dropped
>>> [e[0] for e in hub.replay_after("a1")], hub.published
([], 1)
"""
from __future__ import annotations

import asyncio
import json
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

__all__ = ["AlertHub", "Subscription", "sse_frame"]

Entry = tuple[str, dict, str]  # (alert id, alert, encoded SSE frame)


def sse_frame(alert: dict) -> str:
    return f"id: {alert['alert_id']}\nevent: alert\ndata: {json.dumps(alert, sort_keys=True, separators=(',', ':'))}\n\n"


@dataclass(eq=False, slots=True)
class Subscription:
    next_n: int  # publish number of the next alert this subscriber wants
    accepts: Callable[[dict], bool] | None  # None: every alert (no per-alert check)
    loop: asyncio.AbstractEventLoop = field(repr=False)
    dropped: int = 0


class AlertHub:
    def __init__(self, *, replay: int = 20_000, batch_window_s: float = 0.05) -> None:
        self._lock = threading.Lock()
        self._replay = replay
        self.batch_window_s = batch_window_s  # gather what arrives meanwhile into one write
        self._entries: list[Entry] = []
        self._base = 1  # publish number of self._entries[0]
        self._published = 0
        self._index: dict[str, int] = {}  # alert id -> publish number, for ids still in the log
        self._subs: dict[asyncio.AbstractEventLoop, list[Subscription]] = {}
        self._wake: dict[asyncio.AbstractEventLoop, asyncio.Event] = {}
        self._pending: set[asyncio.AbstractEventLoop] = set()
        self._recent: deque[float] = deque(maxlen=100_000)  # publish times (alerts per second)

    # -- subscribers (on their event loop) ---------------------------------------------------
    def subscribe(self, accepts: Callable[[dict], bool] | None = None, *, after: str | None = None) -> Subscription:
        """A cursor at the end of the log, or right after alert ``after`` if the log still has it."""
        loop = asyncio.get_running_loop()
        with self._lock:
            start = self._published + 1
            if after is not None and after in self._index:
                start = self._index[after] + 1
            sub = Subscription(start, accepts, loop)
            self._subs.setdefault(loop, []).append(sub)
            self._wake.setdefault(loop, asyncio.Event())
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        with self._lock:
            subs = self._subs.get(sub.loop, [])
            if sub in subs:
                subs.remove(sub)
            if not subs:
                self._subs.pop(sub.loop, None)
                self._wake.pop(sub.loop, None)

    def has(self, alert_id: str) -> bool:
        with self._lock:
            return alert_id in self._index

    def read(self, sub: Subscription, *, limit: int = 5000) -> list[Entry]:
        """What was published after the subscriber's cursor (accepted ones), cursor moved on."""
        with self._lock:
            if sub.next_n < self._base:  # fell behind the log: the oldest are gone for it
                sub.dropped += self._base - sub.next_n
                sub.next_n = self._base
            lo = sub.next_n - self._base
            batch = self._entries[lo:lo + limit]
            sub.next_n += len(batch)
        if sub.accepts is None:
            return batch
        return [e for e in batch if sub.accepts(e[1])]

    async def next_batch(self, sub: Subscription, timeout_s: float) -> list[Entry] | None:
        """Wait up to ``timeout_s`` for new alerts; None on timeout (time for a keep-alive)."""
        deadline = time.monotonic() + timeout_s
        while True:
            wake = self._wake.get(sub.loop)
            batch = self.read(sub)
            if batch:
                return batch
            left = deadline - time.monotonic()
            if wake is None or left <= 0:
                return None
            try:
                await asyncio.wait_for(wake.wait(), timeout=left)
            except asyncio.TimeoutError:
                return None
            if self.batch_window_s > 0:
                await asyncio.sleep(self.batch_window_s)

    # -- publishing (any thread) -------------------------------------------------------------
    def publish(self, alert: dict) -> None:
        entry = (str(alert["alert_id"]), alert, sse_frame(alert))
        with self._lock:
            if entry[0] in self._index:  # the stream relay and the alert sink may both feed the hub
                return
            self._published += 1
            self._entries.append(entry)
            self._index[entry[0]] = self._published
            if len(self._entries) > 2 * self._replay:  # trim in bulk: amortised O(1) per alert
                cut = len(self._entries) - self._replay
                for old in self._entries[:cut]:
                    if self._index.get(old[0], 0) < self._base + cut:
                        self._index.pop(old[0], None)
                del self._entries[:cut]
                self._base += cut
            self._recent.append(time.monotonic())
            loops = [lp for lp in self._subs if lp not in self._pending]
            self._pending.update(loops)
        for loop in loops:
            try:
                loop.call_soon_threadsafe(self._notify, loop)
            except RuntimeError:  # that loop has closed; its subscriptions go with it
                with self._lock:
                    self._subs.pop(loop, None)
                    self._wake.pop(loop, None)
                    self._pending.discard(loop)

    def _notify(self, loop: asyncio.AbstractEventLoop) -> None:
        with self._lock:
            self._pending.discard(loop)
            old = self._wake.get(loop)
            if old is not None:
                self._wake[loop] = asyncio.Event()
        if old is not None:
            old.set()  # wakes every waiter of this loop; each reads from its own cursor

    # -- figures and replay -------------------------------------------------------------------
    @property
    def subscribers(self) -> int:
        with self._lock:
            return sum(len(s) for s in self._subs.values())

    @property
    def published(self) -> int:
        return self._published

    def rate_per_s(self, window_s: float = 60.0) -> float:
        now = time.monotonic()
        with self._lock:
            n = 0
            for t in reversed(self._recent):
                if now - t > window_s:
                    break
                n += 1
        return n / window_s

    def replay_after(self, alert_id: str) -> list[Entry] | None:
        """Logged alerts published after ``alert_id``; None when the log no longer has it."""
        with self._lock:
            n = self._index.get(alert_id)
            if n is None:
                return None
            return self._entries[n - self._base + 1:]
