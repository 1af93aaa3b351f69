"""Fan-out of live alerts to HTTP stream subscribers, with a bounded replay buffer.

Thread-safe ``publish`` (the bus consumer's thread) into asyncio queues (the server's
loop): one hand-off per event loop per alert, the JSON encoded once for all subscribers.
A slow subscriber drops its oldest queued alert and is told (``dropped``), never blocks
others. Reconnecting clients send ``Last-Event-ID``; :meth:`AlertHub.replay_after` serves
what followed it from the buffer (the route falls back to the store beyond it).
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


def sse_frame(alert: dict) -> str:
    return f"id: {alert['alert_id']}\nevent: alert\ndata: {json.dumps(alert, sort_keys=True, separators=(',', ':'))}\n\n"


@dataclass(eq=False, slots=True)
class Subscription:
    queue: asyncio.Queue
    accepts: Callable[[dict], bool]
    dropped: int = 0
    loop: asyncio.AbstractEventLoop | None = field(default=None, repr=False)


class AlertHub:
    def __init__(self, *, max_queue: int = 5000, replay: int = 10_000) -> None:
        self._subs: dict[asyncio.AbstractEventLoop, list[Subscription]] = {}
        self._lock = threading.Lock()
        self._max_queue = max_queue
        self._buffer: deque[tuple[str, dict, str]] = deque(maxlen=replay)
        self._index: dict[str, int] = {}  # alert id -> publish number, for ids in the buffer
        self._published = 0
        self._recent: deque[float] = deque(maxlen=100_000)  # publish times (alerts per second)

    def subscribe(self, accepts: Callable[[dict], bool] | None = None) -> Subscription:
        loop = asyncio.get_running_loop()
        sub = Subscription(asyncio.Queue(maxsize=self._max_queue), accepts or (lambda a: True), loop=loop)
        with self._lock:
            self._subs.setdefault(loop, []).append(sub)
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        with self._lock:
            for loop, subs in list(self._subs.items()):
                if sub in subs:
                    subs.remove(sub)
                    if not subs:
                        del self._subs[loop]

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
            n = sum(1 for t in reversed(self._recent) if now - t <= window_s) if self._recent else 0
        return n / window_s

    def publish(self, alert: dict) -> None:
        """Called from any thread."""
        entry = (str(alert["alert_id"]), alert, sse_frame(alert))
        with self._lock:
            self._published += 1
            if len(self._buffer) == self._buffer.maxlen:
                self._index.pop(self._buffer[0][0], None)
            self._buffer.append(entry)
            self._index[entry[0]] = self._published
            self._recent.append(time.monotonic())
            targets = [(loop, list(subs)) for loop, subs in self._subs.items()]
        for loop, subs in targets:
            try:
                loop.call_soon_threadsafe(self._deliver, subs, entry)
            except RuntimeError:  # that loop has closed; its subscriptions go with it
                with self._lock:
                    self._subs.pop(loop, None)

    @staticmethod
    def _deliver(subs: list[Subscription], entry: tuple[str, dict, str]) -> None:
        for sub in subs:
            if not sub.accepts(entry[1]):
                continue
            if sub.queue.full():
                sub.queue.get_nowait()
                sub.dropped += 1
            sub.queue.put_nowait(entry)

    def replay_after(self, alert_id: str) -> list[tuple[str, dict, str]] | None:
        """Buffered alerts published after ``alert_id``; None when it is not in the buffer."""
        with self._lock:
            n = self._index.get(alert_id)
            if n is None:
                return None
            start = len(self._buffer) - (self._published - n)
            return list(self._buffer)[start:]
