"""Helpers shared by the bus tests: a drain loop and a harness that closes what it opened."""
from __future__ import annotations

import contextlib
import time
from collections.abc import Callable

from warehouse.bus import BusConsumer, EventBus, Record

# Kafka needs a group join before the first fetch: generous deadline, short polls.
DRAIN_DEADLINE_S = 30.0
POLL_S = 0.2


def drain(consumer: BusConsumer, n: int, *, deadline_s: float = DRAIN_DEADLINE_S) -> list[Record]:
    """Poll until ``n`` records arrived (or the deadline passed); returns what arrived."""
    out: list[Record] = []
    end = time.monotonic() + deadline_s
    while len(out) < n and time.monotonic() < end:
        out.extend(consumer.poll(timeout_s=POLL_S, max_records=n - len(out)))
    return out


class BusHarness:
    """Opens buses on one store (SQLite file or Kafka broker + topic prefix) and closes them all."""

    def __init__(self, factory: Callable[[], EventBus], backend: str) -> None:
        self.backend = backend
        self._factory = factory
        self._buses: list[EventBus] = []
        self._consumers: list[BusConsumer] = []

    def open(self) -> EventBus:
        bus = self._factory()
        self._buses.append(bus)
        return bus

    def consumer(self, bus: EventBus, topics: list[str] | str, *, group: str, from_beginning: bool = True) -> BusConsumer:
        consumer = bus.consumer(topics, group=group, from_beginning=from_beginning)
        self._consumers.append(consumer)
        return consumer

    def close_all(self) -> None:
        for item in [*self._consumers, *self._buses]:
            with contextlib.suppress(Exception):
                item.close()
