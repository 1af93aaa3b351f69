"""The live stream's own bus reader: ``alerts`` -> :class:`~warehouse.api.AlertHub`, without
waiting for the store.

``AlertSink`` stores each alert and then hands it to the hub; at 1,000 alerts/s the store
write dominates, so live viewers would wait on the database. This relay reads the topic in
its own consumer group from the end (live only), checks the few fields the stream needs,
and publishes at once; the hub drops the second copy of an alert id, so both may feed it.
The API starts it on the first stream subscription when the services have a bus; it stops
after ``idle_stop_s`` without subscribers and starts again (live, from the end) on demand.

>>> relay = StreamRelay(bus, hub).start()   # doctest: +SKIP
"""
from __future__ import annotations

import logging
import threading
import time
import uuid

__all__ = ["StreamRelay"]

log = logging.getLogger(__name__)


class StreamRelay:
    def __init__(self, bus, hub, *, topic: str = "alerts", group: str | None = None, poll_s: float = 0.05,
                 idle_stop_s: float = 30.0) -> None:
        self.bus, self.hub, self.topic, self.poll_s, self.idle_stop_s = bus, hub, topic, poll_s, idle_stop_s
        # a group of its own per server: every server streams every alert; live only
        self.group = group or f"live-stream-{uuid.uuid4().hex[:8]}"
        self.relayed = 0
        self._consumer = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def run_once(self, timeout_s: float | None = None) -> int:
        if self._consumer is None:
            self._consumer = self.bus.consumer(self.topic, group=self.group, from_beginning=False)
        n = 0
        for record in self._consumer.poll(timeout_s=self.poll_s if timeout_s is None else timeout_s, max_records=2000):
            v = record.value
            if isinstance(v, dict) and isinstance(v.get("alert_id"), str) and isinstance(v.get("camera_id"), str):
                self.hub.publish(v)
                n += 1
            else:  # AlertSink dead-letters it; the stream just does not show it
                log.debug("stream relay skipped %s: not an alert", record)
        if n:
            self._consumer.commit()
        self.relayed += n
        return n

    def _run(self) -> None:
        idle_since = None
        while not self._stop.is_set():
            if self.hub.subscribers == 0:  # nobody watches: stop reading (restarted on the next subscription)
                idle_since = idle_since or time.monotonic()
                if time.monotonic() - idle_since > self.idle_stop_s:
                    self._close_consumer()
                    return
            else:
                idle_since = None
            try:
                self.run_once()
            except Exception as exc:  # bus down or closed: wait and retry; the sink still stores alerts
                log.warning("stream relay group=%s: %s; retrying", self.group, exc)
                self._consumer = None
                self._stop.wait(1.0)

    def _close_consumer(self) -> None:
        if self._consumer is not None:
            try:
                self._consumer.close()
            except Exception:  # the bus may be gone already
                log.debug("stream relay: consumer close failed", exc_info=True)
            self._consumer = None

    def start(self) -> "StreamRelay":
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                if self._thread is not None:  # restarted after an idle stop: live again, not the backlog
                    self.group = f"live-stream-{uuid.uuid4().hex[:8]}"
                self._stop.clear()
                try:  # join the topic's end now, so whatever is published after start() is streamed
                    self._consumer = self.bus.consumer(self.topic, group=self.group, from_beginning=False)
                except Exception as exc:  # the bus is down: the thread keeps trying
                    log.warning("stream relay group=%s cannot join %s yet: %s", self.group, self.topic, exc)
                self._thread = threading.Thread(target=self._run, name="alert-stream-relay", daemon=True)
                self._thread.start()
        return self

    def stop(self, timeout_s: float = 5.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout_s)
