"""Exceptions of the event bus: one base, :class:`BusError`, subclassing ``RuntimeError``."""
from __future__ import annotations

__all__ = ["BusError", "BusUnavailableError", "MalformedEvent"]


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
