"""Exactly-once *effects* on an at-least-once bus: validate, dedup by ``event_id``,
dead-letter what cannot be processed, commit only what was processed.

Example::

    def on_miss(record: Record) -> None:
        loop.add_miss(record.event)          # the validated MissEvent

    worker = IdempotentConsumer(bus, TOPIC_MISS_EVENTS, group="retraining", handler=on_miss,
                                seen=SqlSeenStore("sqlite:///var/seen.db", scope="retraining"))
    while running:
        worker.run_once(timeout_s=1.0)

What happens to each record (see ``docs/faults.md``):

- undecodable bytes, or a value that fails its topic's schema
  (:func:`warehouse.bus.events.parse_event`) -> ``dead-letter`` with the reason, the original
  bytes and the source offset; the consumer moves on;
- an ``event_id`` already handled by this group (a redelivery after a crash) -> skipped;
- the handler raises a *poison* error (``ValueError``, ``TypeError``, ``LookupError``: bad
  values, unknown ids) -> dead-lettered, the consumer moves on;
- the handler raises a *transient* error (``OSError``, a database or broker outage) -> the
  records processed so far are committed, the rest are handed out again at the next poll;
- any other error -> retried ``max_attempts`` times, then dead-lettered: a bug in a handler
  never wedges a partition either.
"""
from __future__ import annotations

import base64
import collections
import dataclasses
import logging
import re
import sqlite3
from collections.abc import Callable, Hashable
from typing import Any

from warehouse.bus._codec import DECODE_ERROR_FIELD, encode_value
from warehouse.bus.api import TOPIC_DEAD_LETTER, EventBus, Record
from warehouse.bus.errors import BusError, BusUnavailableError
from warehouse.bus.seen import MemorySeenStore, SeenStore

__all__ = [
    "dead_letter",
    "dead_letter_id",
    "classify_error",
    "IdempotentConsumer",
    "ConsumeStats",
    "PoisonBatch",
]

log = logging.getLogger(__name__)

MAX_REASON_CHARS = 9_000
# A dead letter must fit in one Kafka record (1 MB by default) after base64 (+33%).
MAX_ORIGINAL_BYTES = 700_000


class PoisonBatch(ValueError):
    """Raised by a batch handler: every record of the batch cannot be processed, for ``reason``."""


def dead_letter_id(group: str, record: Record) -> str:
    """Stable id of the dead letter of ``record`` for ``group`` (a redelivery dead-letters to the same id)."""
    ident = f"dl:{record.topic}:{record.partition}:{record.offset}:{group}"
    return ident if len(ident) <= 200 else ident[:200]


def dead_letter(bus: EventBus, record: Record, reason: str, *, group: str = "unknown", error_type: str = "") -> dict[str, Any]:
    """Publish a :class:`~warehouse.bus.events.DeadLetterEvent` for ``record`` (same key); returns it as sent.

    Example::

        dead_letter(bus, record, "feedback without algorithm_id", group="feedback-router")
    """
    from warehouse.bus.events import DeadLetterEvent, to_wire

    raw = record.raw if record.raw is not None else _reencode(record.value)
    reason = str(reason)
    if len(raw) > MAX_ORIGINAL_BYTES:
        reason = f"{reason} (original truncated to {MAX_ORIGINAL_BYTES} of {len(raw)} bytes)"
        raw = raw[:MAX_ORIGINAL_BYTES]
    if len(reason) > MAX_REASON_CHARS:
        reason = reason[: MAX_REASON_CHARS - 3] + "..."
    event = DeadLetterEvent(
        event_id=_safe_id(dead_letter_id(group, record)),
        source_topic=record.topic,
        source_partition=record.partition,
        source_offset=record.offset,
        source_key=record.key,
        consumer_group=group[:200] or "unknown",
        reason=reason,
        error_type=error_type[:200],
        original_b64=base64.b64encode(raw).decode("ascii"),
    )
    payload = to_wire(event)
    bus.publish(TOPIC_DEAD_LETTER, payload, key=record.key)
    log.warning("group=%s dead-lettered %s: %s", group, record, reason[:500])
    return payload


def _safe_id(ident: str) -> str:
    cleaned = re.sub(r"[^A-Za-z0-9._:@-]", "_", ident)
    return cleaned if cleaned[:1].isalnum() else "d" + cleaned[:199]


def _reencode(value: Any) -> bytes:
    try:
        return encode_value(value).encode("utf-8")
    except BusError:
        return repr(value).encode("utf-8", errors="replace")


def classify_error(exc: BaseException) -> str:
    """``"transient"`` (retry: an outage), ``"poison"`` (dead-letter: the record is bad) or ``"unknown"``."""
    from catalog import CatalogConnectionError, CatalogError

    if isinstance(exc, CatalogConnectionError):
        return "transient"
    if isinstance(exc, CatalogError):
        return "poison" if isinstance(exc, (ValueError, LookupError)) else "unknown"
    if isinstance(exc, (BusUnavailableError, ConnectionError, TimeoutError, sqlite3.OperationalError)):
        return "transient"
    try:
        import sqlalchemy.exc as sa_exc

        if isinstance(exc, (sa_exc.OperationalError, sa_exc.InterfaceError, sa_exc.DisconnectionError, sa_exc.TimeoutError)):
            return "transient"
        if isinstance(exc, sa_exc.DataError):
            return "poison"
    except ImportError:  # pragma: no cover - sqlalchemy is a dependency
        pass
    if isinstance(exc, OSError):
        return "transient"
    if isinstance(exc, (ValueError, TypeError, LookupError)):
        return "poison"
    return "unknown"


# ---------------------------------------------------------------------------- the consumer


@dataclasses.dataclass(frozen=True, slots=True)
class ConsumeStats:
    """What one :meth:`IdempotentConsumer.run_once` did."""

    polled: int = 0
    handled: int = 0
    duplicates: int = 0
    dead_lettered: int = 0


class IdempotentConsumer:
    """Run ``handler`` once per ``event_id`` over a group's records (see the module docstring).

    ``handler(record)`` gets each valid, new record (``record.event`` is the validated
    model when ``validate`` is on). Alternatively ``batch_handler(records)`` gets the valid
    new records of one poll grouped by ``batch_key(record)`` (e.g. per algorithm); raising
    :class:`PoisonBatch` (or another poison error) dead-letters that group with the reason.
    """

    def __init__(
        self,
        bus: EventBus,
        topics: list[str] | str,
        *,
        group: str,
        handler: Callable[[Record], None] | None = None,
        batch_handler: Callable[[list[Record]], None] | None = None,
        batch_key: Callable[[Record], Hashable] | None = None,
        seen: SeenStore | None = None,
        from_beginning: bool = True,
        validate: bool = True,
        max_attempts: int = 3,
    ) -> None:
        if (handler is None) == (batch_handler is None):
            raise BusError(f"IdempotentConsumer(group={group!r}) needs exactly one of handler= or batch_handler=")
        self.group = group
        self._bus = bus
        self._handler = handler
        self._batch_handler = batch_handler
        self._batch_key = batch_key or (lambda r: None)
        self._seen = seen if seen is not None else MemorySeenStore()
        self._validate = validate
        self._max_attempts = max(1, int(max_attempts))
        self._attempts: dict[tuple[str, int, int], int] = {}
        self._consumer = bus.consumer(topics, group=group, from_beginning=from_beginning)

    # -- per record --------------------------------------------------------------------
    def _screen(self, record: Record) -> tuple[str, Any]:
        """``("dead", (reason, error_type))``, ``("dup", None)`` or ``("ok", record with .event)``."""
        value = record.value
        if not isinstance(value, dict) or DECODE_ERROR_FIELD in value:
            why = value.get(DECODE_ERROR_FIELD) if isinstance(value, dict) else type(value).__name__
            return "dead", (f"undecodable payload: {why}", "DecodeError")
        event = None
        if self._validate:
            from warehouse.bus.events import EventSchemaError, parse_event

            try:
                event = parse_event(record.topic, value)
            except EventSchemaError as exc:
                return "dead", (str(exc), type(exc).__name__)
        event_id = value.get("event_id")
        if not isinstance(event_id, str) or not event_id:
            return "dead", (f"missing or non-string event_id: {event_id!r:.100}", "EventSchemaError")
        if self._seen.seen(event_id):
            return "dup", None
        return "ok", dataclasses.replace(record, event=event) if event is not None else record

    def _dead(self, record: Record, reason: str, error_type: str) -> None:
        dead_letter(self._bus, record, reason, group=self.group, error_type=error_type)

    def _failure(self, records: list[Record], exc: BaseException) -> str:
        """Classify a handler failure for ``records``: ``"dead"`` (dead-lettered now) or ``"retry"``."""
        kind = classify_error(exc)
        if kind == "poison" or isinstance(exc, PoisonBatch):
            for r in records:
                self._dead(r, f"{type(exc).__name__}: {exc}", type(exc).__name__)
            return "dead"
        if kind == "unknown":
            key = records[0].position
            self._attempts[key] = self._attempts.get(key, 0) + 1
            if self._attempts[key] >= self._max_attempts:
                del self._attempts[key]
                for r in records:
                    self._dead(r, f"handler failed {self._max_attempts} times, last with {type(exc).__name__}: {exc}",
                               type(exc).__name__)  # fmt: skip
                return "dead"
        return "retry"

    # -- one poll ----------------------------------------------------------------------
    def run_once(self, timeout_s: float = 1.0, max_records: int = 500) -> ConsumeStats:
        """Poll one batch, handle it, commit what was processed; returns counts.

        Raises the handler's error after committing the processed prefix when a record must
        be retried (an outage); that record and the ones after it come back at the next poll.
        """
        records = self._consumer.poll(timeout_s=timeout_s, max_records=max_records)
        if not records:
            return ConsumeStats()
        if getattr(self._bus, "transactional", False):
            return self._run_transaction(records)
        counts, done, _ = self._process(records, on_retry=lambda done: self._settle(records, done), defer_marks=False)
        self._settle(records, done)
        return ConsumeStats(len(records), counts["ok"], counts["dup"], counts["dead"])

    def _run_transaction(self, records: list[Record]) -> ConsumeStats:
        """The batch's outputs, dead letters and offsets commit in one Kafka transaction."""
        first: dict[tuple[str, int], int] = {}
        for r in records:
            first.setdefault((r.topic, r.partition), r.offset)

        def rewind(_done: set[int] | None = None) -> None:
            self._bus.abort()
            for (topic, partition), offset in first.items():
                self._consumer.seek(topic, partition, offset)

        self._bus.begin()
        try:
            counts, _, marks = self._process(records, on_retry=rewind, defer_marks=True)
            self._bus.flush()
            offsets: dict[tuple[str, int], int] = {}
            for r in records:
                offsets[(r.topic, r.partition)] = r.offset + 1
            self._bus.commit_transaction(offsets, self.group)
        except BusError:
            rewind()
            raise
        for event_id in marks:  # after the commit: an aborted batch must be processed again
            self._seen.add(event_id)
        return ConsumeStats(len(records), counts["ok"], counts["dup"], counts["dead"])

    def _process(self, records: list[Record], *, on_retry: Callable[[set[int]], None],
                 defer_marks: bool) -> tuple[collections.Counter, set[int], list[str]]:  # fmt: skip
        """Screen and handle ``records``; returns counts, the indexes done and (``defer_marks``)
        the ids to mark processed once the caller committed. ``on_retry(done)`` runs before a
        retryable handler error is raised."""
        counts: collections.Counter[str] = collections.Counter()
        done: set[int] = set()
        marks: list[str] = []
        valid: list[tuple[int, Record]] = []
        in_batch: set[str] = set()
        for i, record in enumerate(records):
            verdict, detail = self._screen(record)
            if verdict == "ok":
                event_id = record.value["event_id"]
                verdict = "dup" if event_id in in_batch else verdict  # a retried publish in the same poll
                in_batch.add(event_id)
            if verdict == "dead":
                self._dead(record, *detail)
                counts["dead"] += 1
                done.add(i)
            elif verdict == "dup":
                log.debug("group=%s skips duplicate %s", self.group, record)
                counts["dup"] += 1
                done.add(i)
            else:
                valid.append((i, detail))
        groups = self._groups(valid)
        for members in groups:
            batch = [r for _, r in members]
            try:
                if self._handler is not None:
                    self._handler(batch[0])
                else:
                    self._batch_handler(batch)
            except Exception as exc:  # noqa: BLE001 - classified below, never swallowed silently
                if self._failure(batch, exc) == "retry":
                    log.warning("group=%s will retry %s: %s: %s", self.group, batch[0], type(exc).__name__, exc)
                    on_retry(done)
                    raise
                counts["dead"] += len(batch)
                done.update(i for i, _ in members)
                continue
            for record in batch:
                if defer_marks:
                    marks.append(record.value["event_id"])
                else:
                    self._seen.add(record.value["event_id"])
                self._attempts.pop(record.position, None)
            counts["ok"] += len(batch)
            done.update(i for i, _ in members)
        return counts, done, marks

    def _groups(self, valid: list[tuple[int, Record]]) -> list[list[tuple[int, Record]]]:
        if self._handler is not None:
            return [[item] for item in valid]
        by_key: dict[Hashable, list[tuple[int, Record]]] = {}
        for item in valid:
            by_key.setdefault(self._batch_key(item[1]), []).append(item)
        return list(by_key.values())

    def _settle(self, records: list[Record], done: set[int]) -> None:
        """Make dead letters durable, commit each partition's processed prefix, rewind the rest."""
        self._bus.flush()  # dead letters (and the handlers' own publishes) before the commit
        commit: dict[tuple[str, int], int] = {}
        rewind: dict[tuple[str, int], int] = {}
        for i, r in enumerate(records):
            tp = (r.topic, r.partition)
            if tp in rewind:
                continue
            if i in done:
                commit[tp] = r.offset + 1
            else:
                rewind[tp] = r.offset
        try:
            if commit:
                self._consumer.commit(commit)
        except BusError as exc:  # processed ids are in the seen store: a redelivery is skipped
            log.warning("group=%s commit failed (%s); the records come back and are skipped as duplicates", self.group, exc)
        for (topic, partition), offset in rewind.items():
            self._consumer.seek(topic, partition, offset)

    def close(self) -> None:
        self._consumer.close()
