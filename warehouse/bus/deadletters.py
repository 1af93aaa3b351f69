"""Inspect and re-drive the ``dead-letter`` topic (``warehouse deadletter list|show|replay``).

A dead letter keeps the failed record's original bytes, so a replay republishes exactly
what the producer wrote, to its source topic with its source key. The consumer that
refused it processes it again (its id was never marked processed); if it is still bad it is
dead-lettered again, under a new id.

Example::

    letters = read_dead_letters(bus)
    for letter in letters:
        print(letter.event_id, letter.source, letter.reason)
    replay_dead_letters(bus, [d for d in letters if d.source_topic == "feedback"])
"""
from __future__ import annotations

import base64
import dataclasses
import json
import time
import uuid
from typing import Any

from warehouse.bus.api import TOPIC_DEAD_LETTER, EventBus
from warehouse.bus.errors import BusError
from warehouse.bus.sqlite_bus import SqliteBus

__all__ = ["DeadLetter", "read_dead_letters", "find_dead_letter", "replay_dead_letters", "UnknownDeadLetterError"]


class UnknownDeadLetterError(BusError, KeyError):
    """No dead letter with that id; the message lists a few that exist."""

    def __str__(self) -> str:
        return str(self.args[0])


@dataclasses.dataclass(frozen=True, slots=True)
class DeadLetter:
    """One dead letter as read back (its fields from :class:`~warehouse.bus.events.DeadLetterEvent`)."""

    event_id: str
    time_utc: str
    source_topic: str
    source_partition: int
    source_offset: int
    source_key: str | None
    consumer_group: str
    reason: str
    error_type: str
    original: bytes
    offset: int  # where the letter itself is on the dead-letter topic (partition, offset)
    partition: int

    @property
    def source(self) -> str:
        return f"{self.source_topic}[{self.source_partition}]@{self.source_offset}"

    def original_text(self) -> str:
        """The original bytes as pretty JSON when they are JSON, else as escaped text."""
        try:
            return json.dumps(json.loads(self.original), indent=2, ensure_ascii=False)
        except ValueError:
            text = self.original.decode("utf-8", errors="backslashreplace")
            return "".join(c if c.isprintable() or c in "\n\t" else f"\\x{ord(c):02x}" for c in text)

    def to_json(self) -> dict[str, Any]:
        out = {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name != "original"}
        out["original_b64"] = base64.b64encode(self.original).decode("ascii")
        return out

    @classmethod
    def from_value(cls, value: dict[str, Any], *, partition: int, offset: int) -> DeadLetter | None:
        """None for a record that is not a dead letter of this schema (skipped, not fatal)."""
        try:
            return cls(
                event_id=str(value["event_id"]), time_utc=str(value.get("time_utc", "")),
                source_topic=str(value["source_topic"]), source_partition=int(value["source_partition"]),
                source_offset=int(value["source_offset"]), source_key=value.get("source_key"),
                consumer_group=str(value.get("consumer_group", "")), reason=str(value.get("reason", "")),
                error_type=str(value.get("error_type", "")), original=base64.b64decode(value.get("original_b64", ""), validate=True),
                offset=offset, partition=partition,
            )  # fmt: skip
        except (KeyError, TypeError, ValueError):
            return None


def read_dead_letters(bus: EventBus, *, idle_s: float = 1.0, deadline_s: float = 30.0) -> list[DeadLetter]:
    """Every dead letter on the topic, oldest first, one per id (a redelivered failure is
    dead-lettered again under the same id). Reads with a throw-away group, never commits.

    Stops after ``idle_s`` without a new record once the first arrived (Kafka needs a
    group join first), or after ``deadline_s``.
    """
    consumer = bus.consumer(TOPIC_DEAD_LETTER, group=f"deadletter-inspect-{uuid.uuid4().hex[:12]}", from_beginning=True)
    letters: dict[str, DeadLetter] = {}
    try:
        end = time.monotonic() + deadline_s
        last_new = time.monotonic()
        first_wait = min(deadline_s, 10.0)  # an empty topic: give the group join this long
        got_any = False
        while time.monotonic() < end:
            batch = consumer.poll(timeout_s=0.2, max_records=500)
            now = time.monotonic()
            if batch:
                got_any, last_new = True, now
            for record in batch:
                letter = DeadLetter.from_value(record.value, partition=record.partition, offset=record.offset)
                if letter is not None:
                    letters.setdefault(letter.event_id, letter)
            if (got_any and now - last_new >= idle_s) or (not got_any and now - last_new >= first_wait):
                break
            if not got_any and isinstance(bus, SqliteBus) and now - last_new >= idle_s:
                break  # the embedded bus has no join: an empty poll means an empty topic
    finally:
        consumer.close()
    return sorted(letters.values(), key=lambda d: (d.time_utc, d.partition, d.offset))


def find_dead_letter(letters: list[DeadLetter], event_id: str) -> DeadLetter:
    for letter in letters:
        if letter.event_id == event_id:
            return letter
    shown = ", ".join(d.event_id for d in letters[:5]) or "none"
    raise UnknownDeadLetterError(f"no dead letter {event_id!r}; there are {len(letters)} ({shown}...): list them with `warehouse deadletter list`")


def replay_dead_letters(bus: EventBus, letters: list[DeadLetter]) -> int:
    """Republish each letter's original bytes to its source topic (source key); returns how many."""
    for letter in letters:
        bus.publish_raw(letter.source_topic, letter.original, key=letter.source_key)
    bus.flush()
    return len(letters)
