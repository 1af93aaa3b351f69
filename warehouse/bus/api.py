"""The bus contract: records, the ``EventBus`` / ``BusConsumer`` protocols, topic names.

Every backend (:class:`~warehouse.bus.SqliteBus`, :class:`~warehouse.bus.KafkaBus`) passes
the same contract suite (``tests/warehouse/bus/test_contract.py``):

- ``publish`` appends ``value`` to one partition of ``topic`` chosen by a hash of ``key``;
  records with the same key keep their publish order.
- every consumer group sees every record; a group resumes from its committed offsets;
  what was polled but not committed is delivered again to the next consumer of the group
  (at-least-once), hence :class:`~warehouse.bus.IdempotentConsumer`.
"""
from __future__ import annotations

import dataclasses
from typing import Any, Protocol, runtime_checkable

__all__ = [
    "Record",
    "EventBus",
    "BusConsumer",
    "TOPIC_ALERTS",
    "TOPIC_FEEDBACK",
    "TOPIC_MISS_EVENTS",
    "TOPIC_MODEL_UPDATES",
    "TOPIC_DEAD_LETTER",
    "TOPIC_CONTROL",
    "ALL_TOPICS",
    "DEFAULT_PARTITIONS",
]

TOPIC_ALERTS = "alerts"  # key: camera id
TOPIC_FEEDBACK = "feedback"  # key: algorithm id
TOPIC_MISS_EVENTS = "miss-events"  # key: algorithm id
TOPIC_MODEL_UPDATES = "model-updates"  # key: algorithm id
TOPIC_DEAD_LETTER = "dead-letter"  # key: the failed record's key
TOPIC_CONTROL = "control"  # key: camera id or worker id (the control plane's actions)
ALL_TOPICS = (TOPIC_ALERTS, TOPIC_FEEDBACK, TOPIC_MISS_EVENTS, TOPIC_MODEL_UPDATES, TOPIC_DEAD_LETTER, TOPIC_CONTROL)
DEFAULT_PARTITIONS = 4


@dataclasses.dataclass(frozen=True, slots=True)
class Record:
    """One consumed event. ``topic`` is the logical name (without the bus's ``topic_prefix``).

    ``raw`` is the record's bytes exactly as stored (what the dead-letter topic keeps and a
    replay republishes); ``value`` is their JSON object, or ``{"_decode_error": why}`` when
    they are not one. ``event`` is the validated event model once
    :class:`~warehouse.bus.IdempotentConsumer` has checked it against the topic's schema.
    """

    topic: str
    partition: int
    offset: int
    key: str | None
    value: dict[str, Any]
    timestamp_ms: int
    raw: bytes | None = None
    event: Any = None

    @property
    def position(self) -> tuple[str, int, int]:
        """``(topic, partition, offset)``: where the record is, for logs and dead letters."""
        return (self.topic, self.partition, self.offset)

    def __str__(self) -> str:
        event_id = self.value.get("event_id") if isinstance(self.value, dict) else None
        return f"{self.topic}[{self.partition}]@{self.offset} key={self.key} event_id={event_id!r:.80}"


@runtime_checkable
class BusConsumer(Protocol):
    """A member of a consumer group reading one or more topics.

    Example::

        consumer = bus.consumer("alerts", group="console")
        for record in consumer.poll(timeout_s=0.5):
            handle(record)
        consumer.commit()  # everything polled so far is done
    """

    def poll(self, timeout_s: float = 1.0, max_records: int = 500) -> list[Record]:
        """Next records (possibly none after ``timeout_s``), in offset order per partition."""
        ...

    def commit(self, offsets: dict[tuple[str, int], int] | None = None) -> None:
        """Commit every record returned by :meth:`poll` so far for this group, or, with
        ``offsets``, exactly ``{(topic, partition): next offset to read}``."""
        ...

    def seek(self, topic: str, partition: int, offset: int) -> None:
        """Read ``topic``'s ``partition`` again from ``offset`` at the next :meth:`poll`
        (records polled but not processed are handed out again)."""
        ...

    def close(self) -> None:
        """Leave the group without committing; uncommitted records go to the next member."""
        ...


@runtime_checkable
class EventBus(Protocol):
    """A durable, partitioned log of JSON-object events.

    Example::

        bus = open_bus("sqlite:///var/bus.db")
        bus.publish(TOPIC_ALERTS, {"event_id": "a1", "type": "alert", "ts_ms": 1}, key="cam-7")
        bus.flush()
    """

    def publish(self, topic: str, value: dict[str, Any], *, key: str | None = None) -> None:
        """Append ``value`` (a JSON-serialisable dict) to ``topic``; same key -> same partition."""
        ...

    def publish_raw(self, topic: str, data: bytes, *, key: str | None = None) -> None:
        """Append ``data`` as is (no JSON check): a dead-letter replay republishes the original bytes."""
        ...

    def flush(self, timeout_s: float = 10) -> int:
        """Block until everything published is durable; returns how many records were written
        since the last flush. Raises :class:`~warehouse.bus.PublishError` naming exactly the
        records that were not written (every other one was)."""
        ...

    def consumer(self, topics: list[str] | str, *, group: str, from_beginning: bool = True) -> BusConsumer:
        """A consumer in ``group``; a group with no committed offset starts at the
        beginning (``from_beginning``) or at the end of each partition."""
        ...

    def close(self) -> None:
        """Flush and release connections."""
        ...
