"""Exceptions of the event bus: one base, :class:`BusError`, subclassing ``RuntimeError``."""
from __future__ import annotations

__all__ = ["BusError", "BusUnavailableError", "MalformedEvent", "PublishError"]


class BusError(RuntimeError):
    """Base of every error raised by ``warehouse.bus``; messages name the value and the fix."""


class BusUnavailableError(BusError):
    """The backend (Kafka broker, SQLite file) cannot be reached or opened.

    Example message: ``kafka broker at 127.0.0.1:9 is unreachable ...; start one with
    `python scripts/kafka_broker.py start` or use sqlite:///var/bus.db``.
    """


class MalformedEvent(BusError, ValueError):
    """A payload that can never be handled (missing fields, wrong types, not a JSON object).

    Raise it from a handler run by :class:`~warehouse.bus.IdempotentConsumer` to send the
    record to the dead-letter topic instead of retrying it forever.
    """


class PublishError(BusUnavailableError):
    """Some published records were not written; ``failed`` lists them, ``written`` counts the rest.

    ``failed`` holds ``(topic, key, event_id, error)`` tuples. The producer is idempotent,
    so a record the broker acknowledged is written once; a record reported here was not
    acknowledged and must be published again by the caller (same event id: consumers
    deduplicate it if it did land after all).
    """

    def __init__(self, message: str, *, failed: list[tuple[str, str | None, str | None, str]], written: int) -> None:
        super().__init__(message)
        self.failed = failed
        self.written = written
