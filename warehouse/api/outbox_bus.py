"""An :class:`~warehouse.bus.EventBus`-shaped adapter that writes into the operations
store's outbox: code that publishes (the promotion functions) gets a durable hand-off, and
the outbox relay delivers when the bus is up."""
from __future__ import annotations

from typing import Any

__all__ = ["OutboxBus"]


class OutboxBus:
    def __init__(self, ops: Any) -> None:
        self.ops = ops
        self.queued = 0

    def publish(self, topic: str, value: dict[str, Any], *, key: str | None = None) -> None:
        if self.ops.enqueue_event(topic, value, key=key):
            self.queued += 1

    def flush(self, timeout_s: float = 10) -> None:
        """Nothing to do: the outbox row is committed when ``publish`` returns."""

    def close(self) -> None:
        pass
