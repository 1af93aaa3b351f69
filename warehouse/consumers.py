"""The application's bus consumers: thin shells over pure functions.

- ``AlertSink``: ``alerts`` → operations store (idempotent by alert id) → live HTTP stream.
- ``FeedbackRouter``: ``feedback`` → a rejection becomes a ``miss-events`` record (same
  input, same event id) and the knowledge graph hears about it.
- ``RetrainingService``: ``miss-events`` → the right algorithm's :class:`RetrainingLoop`.

Each has ``run_once(timeout_s)`` (the demo and tests step them) and is driven in a thread by
``warehouse serve``. A malformed record goes to ``dead-letter`` with the reason; one bad
record never stops the others.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any, Callable

from warehouse.bus import IdempotentConsumer, MalformedEvent, Record
from warehouse.feedback import miss_event_from_rejection

log = logging.getLogger(__name__)


class AlertSink:
    def __init__(self, bus, ops, *, hub=None, topic: str = "alerts", group: str = "ops-alert-sink", seen=None) -> None:
        self.ops, self.hub = ops, hub
        self.stored = 0
        self._c = IdempotentConsumer(bus, topic, group=group, handler=self._handle, seen=seen)

    def _handle(self, record: Record) -> None:
        try:
            new = self.ops.ingest_alert(record.value)
        except ValueError as exc:
            raise MalformedEvent(str(exc)) from exc
        if new:
            self.stored += 1
            if self.hub is not None:
                self.hub.publish(record.value)

    def run_once(self, timeout_s: float = 1.0):
        return self._c.run_once(timeout_s=timeout_s)

    def close(self) -> None:
        self._c.close()


class FeedbackRouter:
    def __init__(self, bus, *, topic: str = "feedback", miss_topic: str = "miss-events", group: str = "feedback-router",
                 graph=None, seen=None) -> None:
        self.bus, self.miss_topic, self.graph = bus, miss_topic, graph
        self.misses_published = 0
        self._c = IdempotentConsumer(bus, topic, group=group, handler=self._handle, seen=seen)

    def _handle(self, record: Record) -> None:
        fb = record.value
        for k in ("event_id", "verdict", "alert_id", "camera_id", "algorithm_id"):
            if k not in fb:
                raise MalformedEvent(f"feedback event lacks {k!r} (has {sorted(fb)})")
        if self.graph is not None:
            try:
                if fb["verdict"] == "reject":
                    self.graph.record_rejection(fb["camera_id"], fb["algorithm_id"], fb["alert_id"])
                else:
                    self.graph.record_confirmation(fb["camera_id"], fb["algorithm_id"], fb["alert_id"])
            except KeyError as exc:  # camera/algorithm unknown to the graph: log, keep routing
                log.warning("graph ignored feedback %s: %s", fb["event_id"], exc)
        if fb["verdict"] == "reject":
            miss = miss_event_from_rejection(fb)
            self.bus.publish(self.miss_topic, miss, key=miss["algorithm_id"])
            self.bus.flush()
            self.misses_published += 1

    def run_once(self, timeout_s: float = 1.0):
        return self._c.run_once(timeout_s=timeout_s)

    def close(self) -> None:
        self._c.close()


@dataclass
class RetrainingService:
    """Collects miss events per algorithm and hands each batch to that algorithm's loop."""

    bus: Any
    loop_for: Callable[[str], Any]  # algorithm id -> RetrainingLoop (or None if not retrainable)
    topic: str = "miss-events"
    group: str = "retraining"
    seen: Any = None
    results: list = field(default_factory=list)
    _pending: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._c = IdempotentConsumer(self.bus, self.topic, group=self.group, handler=self._collect, seen=self.seen)

    def _collect(self, record: Record) -> None:
        m = record.value
        if m.get("type") != "miss" or not m.get("algorithm_id"):
            raise MalformedEvent(f"miss event {m.get('event_id')!r} needs type='miss' and an algorithm_id")
        self._pending.setdefault(m["algorithm_id"], []).append(m)

    def run_once(self, timeout_s: float = 1.0) -> list:
        """Poll, then retrain every algorithm that has new misses; returns this round's results.

        Records are committed by the consumer only after ``_collect`` has stored them; the
        retraining itself is recorded in the catalog (mining job lists the miss ids), so a
        crash between the two at worst retrains once more on the same misses.
        """
        self._c.run_once(timeout_s=timeout_s)
        out = []
        for algorithm_id, misses in list(self._pending.items()):
            loop = self.loop_for(algorithm_id)
            del self._pending[algorithm_id]
            if loop is None:
                log.warning("no retraining loop for algorithm %s; %d miss(es) recorded only", algorithm_id, len(misses))
                continue
            try:
                out.append(loop.handle(misses))
            except Exception:  # one algorithm's failure must not stop the others
                log.exception("retraining failed algorithm=%s misses=%s", algorithm_id, [m["event_id"] for m in misses])
        self.results.extend(out)
        return out

    def close(self) -> None:
        self._c.close()
