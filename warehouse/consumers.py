"""The application's bus consumers: thin shells over pure functions.

- ``AlertSink``: ``alerts`` -> operations store (idempotent by alert id) -> live HTTP stream.
- ``FeedbackRouter``: ``feedback`` -> a rejection becomes a ``miss-events`` record (same
  input, same event id) and the knowledge graph hears about it.
- ``RetrainingService``: ``miss-events`` -> the right algorithm's :class:`RetrainingLoop`.

Each has ``run_once(timeout_s)`` (the demo and tests step them) and is driven in a thread by
``warehouse serve``. Every record is validated against its topic's schema
(:func:`warehouse.bus.parse_event`) by :class:`~warehouse.bus.IdempotentConsumer`; a record a
consumer cannot process (bad shape, bad types, unknown ids, values out of range, not JSON)
goes to ``dead-letter`` with the reason, its original bytes and its offset, and the consumer
moves on: a poison record never blocks a partition. Processed ids live in the ``seen`` store
(pass a durable :class:`~warehouse.bus.SqlSeenStore` in production), so a redelivery after a
crash is recognised. See ``docs/faults.md``.
"""
from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass, field
from typing import Any, Callable

from warehouse.bus import (
    TOPIC_ALERTS,
    TOPIC_FEEDBACK,
    TOPIC_MISS_EVENTS,
    ConsumeStats,
    FeedbackEvent,
    IdempotentConsumer,
    MissEvent,
    PoisonBatch,
    Record,
    to_wire,
)

__all__ = ["AlertSink", "FeedbackRouter", "RetrainingService", "miss_for_rejection"]

log = logging.getLogger(__name__)


def miss_for_rejection(fb: FeedbackEvent) -> MissEvent:
    """The false-alarm miss a rejection becomes; the same feedback always gives the same event id."""
    if fb.verdict != "reject":
        raise ValueError(f"feedback {fb.event_id!r} is a {fb.verdict!r}; only a rejection becomes a miss event")
    ts_ms = fb.alert_ts_ms if fb.alert_ts_ms is not None else int(fb.time_utc.timestamp() * 1000)
    return MissEvent(
        event_id="miss-" + hashlib.sha256(fb.event_id.encode("utf-8")).hexdigest()[:20],
        kind="false_alarm", camera_id=fb.camera_id, algorithm_id=fb.algorithm_id, model_version=fb.model_version,
        frame_ref=fb.frame_ref, ts_ms=ts_ms, source_event_id=fb.event_id, alert_id=fb.alert_id, note=fb.note,
    )  # fmt: skip


class AlertSink:
    """``alerts`` -> ``ops.ingest_alert`` (idempotent by alert id) -> ``hub.publish`` for new ones.

    ``require_known_camera=True`` dead-letters alerts of cameras the operations store does
    not know (``ops.get_camera`` raises a ``KeyError``).
    """

    def __init__(self, bus, ops, *, hub=None, topic: str = TOPIC_ALERTS, group: str = "ops-alert-sink", seen=None,
                 require_known_camera: bool = False) -> None:  # fmt: skip
        self.ops, self.hub = ops, hub
        self.stored = 0
        self._require_camera = require_known_camera
        self._c = IdempotentConsumer(bus, topic, group=group, handler=self._handle, seen=seen)

    def _handle(self, record: Record) -> None:
        if self._require_camera:
            self.ops.get_camera(record.event.camera_id)  # UnknownCameraError (a KeyError) -> dead letter
        new = self.ops.ingest_alert(record.value)
        if new:
            self.stored += 1
            if self.hub is not None:
                self.hub.publish(record.value)

    def run_once(self, timeout_s: float = 1.0) -> ConsumeStats:
        return self._c.run_once(timeout_s=timeout_s)

    def close(self) -> None:
        self._c.close()


class FeedbackRouter:
    """``feedback`` -> the knowledge graph learns from it; a rejection -> ``miss-events``."""

    def __init__(self, bus, *, topic: str = TOPIC_FEEDBACK, miss_topic: str = TOPIC_MISS_EVENTS,
                 group: str = "feedback-router", graph=None, seen=None) -> None:  # fmt: skip
        self.bus, self.miss_topic, self.graph = bus, miss_topic, graph
        self.misses_published = 0
        self._c = IdempotentConsumer(bus, topic, group=group, handler=self._handle, seen=seen)

    def _handle(self, record: Record) -> None:
        fb: FeedbackEvent = record.event
        if self.graph is not None:
            try:
                if fb.verdict == "reject":
                    self.graph.record_rejection(fb.camera_id, fb.algorithm_id, fb.alert_id)
                else:
                    self.graph.record_confirmation(fb.camera_id, fb.algorithm_id, fb.alert_id)
            except KeyError as exc:  # camera/algorithm unknown to the graph: the miss is still routed
                log.warning("graph ignored feedback %s: %s", fb.event_id, exc)
        if fb.verdict == "reject":
            miss = miss_for_rejection(fb)
            self.bus.publish(self.miss_topic, to_wire(miss), key=fb.algorithm_id)
            self.bus.flush()  # durable before this feedback counts as processed
            self.misses_published += 1

    def run_once(self, timeout_s: float = 1.0) -> ConsumeStats:
        return self._c.run_once(timeout_s=timeout_s)

    def close(self) -> None:
        self._c.close()


@dataclass
class RetrainingService:
    """Collects each poll's miss events per algorithm and hands each batch to that algorithm's loop.

    A batch is processed (ids marked seen, offsets committed) only after its loop returned;
    misses of an algorithm without a loop, or that its loop refuses (``ValueError``), are
    dead-lettered with the reason; an outage (database, store) leaves them to be redelivered.
    """

    bus: Any
    loop_for: Callable[[str], Any]  # algorithm id -> RetrainingLoop (or None if not retrainable)
    topic: str = TOPIC_MISS_EVENTS
    group: str = "retraining"
    seen: Any = None
    results: list = field(default_factory=list)
    _round: list = field(default_factory=list)

    def __post_init__(self) -> None:
        self._c = IdempotentConsumer(self.bus, self.topic, group=self.group, batch_handler=self._retrain,
                                     batch_key=lambda r: r.event.algorithm_id, seen=self.seen)  # fmt: skip

    def _retrain(self, batch: list[Record]) -> None:
        algorithm_id = batch[0].event.algorithm_id
        ids = [r.event.event_id for r in batch]
        if algorithm_id is None:
            raise PoisonBatch(
                f"miss event(s) {ids[:5]} name no algorithm_id (event_type {batch[0].event.event_type!r}); "
                "a retraining loop is chosen by algorithm: report the miss with the algorithm that should have fired"
            )
        loop = self.loop_for(algorithm_id)
        if loop is None:
            raise PoisonBatch(
                f"no retraining loop for algorithm {algorithm_id!r} ({len(ids)} miss(es) {ids[:5]}); "
                "register the algorithm as retrainable, then replay these dead letters (`warehouse deadletter replay`)"
            )
        self._round.append(loop.handle([r.value for r in batch]))

    def run_once(self, timeout_s: float = 1.0) -> list:
        """Poll, retrain every algorithm that has new misses; returns this round's results."""
        self._round = []
        try:
            self._c.run_once(timeout_s=timeout_s)
        finally:
            self.results.extend(self._round)
        return list(self._round)

    def close(self) -> None:
        self._c.close()
