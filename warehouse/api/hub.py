"""Fan-out of live alerts to HTTP stream subscribers (thread-safe publish, asyncio queues)."""
from __future__ import annotations

import asyncio
import threading


class AlertHub:
    def __init__(self, *, max_queue: int = 1000) -> None:
        self._subs: list[tuple[asyncio.AbstractEventLoop, asyncio.Queue]] = []
        self._lock = threading.Lock()
        self._max_queue = max_queue

    def subscribe(self) -> asyncio.Queue:
        q: asyncio.Queue = asyncio.Queue(maxsize=self._max_queue)
        with self._lock:
            self._subs.append((asyncio.get_running_loop(), q))
        return q

    def unsubscribe(self, q: asyncio.Queue) -> None:
        with self._lock:
            self._subs = [(lp, s) for lp, s in self._subs if s is not q]

    @property
    def subscribers(self) -> int:
        with self._lock:
            return len(self._subs)

    def publish(self, alert: dict) -> None:
        """Called from any thread; a slow subscriber drops its oldest alert, never blocks others."""
        with self._lock:
            subs = list(self._subs)
        for loop, q in subs:
            loop.call_soon_threadsafe(self._put, q, alert)

    @staticmethod
    def _put(q: asyncio.Queue, alert: dict) -> None:
        if q.full():
            q.get_nowait()
        q.put_nowait(alert)
