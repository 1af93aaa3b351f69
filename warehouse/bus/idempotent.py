"""Exactly-once *effects* on an at-least-once bus: dedup by ``event_id``, dead-letter the
malformed, commit only after handling.

Example::

    def on_miss(record: Record) -> None:
        if "algorithm_id" not in record.value:
            raise MalformedEvent(f"miss event {record.value.get('event_id')} has no algorithm_id")
        loop.add_miss(record.value)

    worker = IdempotentConsumer(bus, TOPIC_MISS_EVENTS, group="retraining", handler=on_miss,
                                seen=SqliteSeenStore("var/retraining-seen.db"))
    while running:
        worker.run_once(timeout_s=1.0)
"""
from __future__ import annotations

import collections
import dataclasses
import logging
import sqlite3
import threading
from pathlib import Path
from typing import Any, Callable, Protocol

from warehouse.bus._codec import DECODE_ERROR_FIELD, now_ms
from warehouse.bus.api import TOPIC_DEAD_LETTER, EventBus, Record
from warehouse.bus.errors import MalformedEvent

__all__ = ["dead_letter", "SeenStore", "MemorySeenStore", "SqliteSeenStore", "IdempotentConsumer", "ConsumeStats"]

log = logging.getLogger(__name__)


def dead_letter(bus: EventBus, record: Record, reason: str) -> dict[str, Any]:
    """Publish ``record`` to the dead-letter topic (same key) with ``reason``; returns the payload.

    Example::

        dead_letter(bus, record, "feedback without algorithm_id")
    """
    original_id = record.value.get("event_id") if isinstance(record.value.get("event_id"), str) else None
    payload = {
        "event_id": f"dead-letter:{record.topic}:{record.partition}:{record.offset}",
        "type": "dead-letter",
        "ts_ms": now_ms(),
        "reason": str(reason),
        "original_event_id": original_id,
        "source": {"topic": record.topic, "partition": record.partition, "offset": record.offset, "key": record.key},
        "value": record.value,
    }
    bus.publish(TOPIC_DEAD_LETTER, payload, key=record.key)
    log.warning("dead-lettered %s: %s", record, reason)
    return payload


class SeenStore(Protocol):
    """Remembers which event ids a consumer group has already handled."""

    def seen(self, event_id: str) -> bool: ...

    def add(self, event_id: str) -> None: ...


class MemorySeenStore:
    """In-process store of the last ``max_ids`` ids (lost on restart: duplicates across a
    restart are then handled again; use :class:`SqliteSeenStore` to survive one)."""

    def __init__(self, max_ids: int = 100_000) -> None:
        self._ids: collections.OrderedDict[str, None] = collections.OrderedDict()
        self._max = max_ids

    def seen(self, event_id: str) -> bool:
        return event_id in self._ids

    def add(self, event_id: str) -> None:
        self._ids[event_id] = None
        if len(self._ids) > self._max:
            self._ids.popitem(last=False)


class SqliteSeenStore:
    """Durable store of the last ``max_ids`` handled ids per ``scope`` in a SQLite file."""

    def __init__(self, path: str | Path, *, scope: str = "default", max_ids: int = 100_000) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._scope = scope
        self._max = max_ids
        self._lock = threading.Lock()
        self._adds = 0
        self._conn = sqlite3.connect(str(self.path), timeout=30, isolation_level=None, check_same_thread=False)
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA synchronous=NORMAL")  # survives process crashes; an id lost to power loss only means one re-handle
        self._conn.execute(
            "CREATE TABLE IF NOT EXISTS seen(scope TEXT NOT NULL, event_id TEXT NOT NULL, n INTEGER NOT NULL, "
            "PRIMARY KEY (scope, event_id))"
        )
        self._conn.execute("CREATE INDEX IF NOT EXISTS seen_n ON seen(scope, n)")

    def seen(self, event_id: str) -> bool:
        with self._lock:
            row = self._conn.execute("SELECT 1 FROM seen WHERE scope=? AND event_id=?", (self._scope, event_id)).fetchone()
        return row is not None

    def add(self, event_id: str) -> None:
        with self._lock:
            self._conn.execute(
                "INSERT OR IGNORE INTO seen(scope, event_id, n) "
                "VALUES (?, ?, (SELECT COALESCE(MAX(n) + 1, 0) FROM seen WHERE scope=?))",
                (self._scope, event_id, self._scope),
            )
            self._adds += 1
            if self._adds % 1000 == 0:  # prune now and then, not on every add
                self._conn.execute(
                    "DELETE FROM seen WHERE scope=? AND n < (SELECT MAX(n) FROM seen WHERE scope=?) - ?",
                    (self._scope, self._scope, self._max),
                )

    def close(self) -> None:
        with self._lock:
            self._conn.close()


@dataclasses.dataclass(frozen=True, slots=True)
class ConsumeStats:
    """What one :meth:`IdempotentConsumer.run_once` did."""

    polled: int = 0
    handled: int = 0
    duplicates: int = 0
    dead_lettered: int = 0


class IdempotentConsumer:
    """Run ``handler`` once per ``event_id`` over a group's records.

    - a record whose ``event_id`` was already handled is skipped (redelivery, replays);
    - a record without a string ``event_id``, undecodable, or whose handler raises
      :class:`MalformedEvent` goes to the dead-letter topic with the reason;
    - any other handler exception propagates *before* the commit; the consumer rejoins its
      group so the batch is delivered again, and the records already handled are then
      skipped as duplicates;
    - the commit happens after the whole batch (and its dead letters) is done.
    """

    def __init__(
        self,
        bus: EventBus,
        topics: list[str] | str,
        *,
        group: str,
        handler: Callable[[Record], None],
        seen: SeenStore | None = None,
        from_beginning: bool = True,
    ) -> None:
        self.group = group
        self._bus = bus
        self._handler = handler
        self._seen = seen if seen is not None else MemorySeenStore()
        self._subscription = (topics, from_beginning)
        self._consumer = bus.consumer(topics, group=group, from_beginning=from_beginning)

    def _process(self, record: Record) -> str:
        value = record.value
        if DECODE_ERROR_FIELD in value:
            dead_letter(self._bus, record, f"undecodable payload: {value[DECODE_ERROR_FIELD]}")
            return "dead"
        event_id = value.get("event_id")
        if not isinstance(event_id, str) or not event_id:
            dead_letter(self._bus, record, f"missing or non-string event_id: {event_id!r}")
            return "dead"
        if self._seen.seen(event_id):
            log.debug("group=%s skips duplicate %s", self.group, record)
            return "dup"
        try:
            self._handler(record)
        except MalformedEvent as exc:
            dead_letter(self._bus, record, str(exc))
            self._seen.add(event_id)
            return "dead"
        self._seen.add(event_id)
        return "ok"

    def run_once(self, timeout_s: float = 1.0, max_records: int = 500) -> ConsumeStats:
        """Poll one batch, handle it, commit; returns counts."""
        records = self._consumer.poll(timeout_s=timeout_s, max_records=max_records)
        if not records:
            return ConsumeStats()
        try:
            counts = collections.Counter(self._process(r) for r in records)
        except Exception:
            # The consumer's position is past the whole batch: leave the group without
            # committing and rejoin, so the batch comes back from the committed offsets.
            log.exception("group=%s handler failed; batch of %d will be redelivered", self.group, len(records))
            self._consumer.close()
            topics, from_beginning = self._subscription
            self._consumer = self._bus.consumer(topics, group=self.group, from_beginning=from_beginning)
            raise
        if counts["dead"]:
            self._bus.flush()  # dead letters durable before the originals are committed away
        self._consumer.commit()
        return ConsumeStats(len(records), counts["ok"], counts["dup"], counts["dead"])

    def close(self) -> None:
        self._consumer.close()
