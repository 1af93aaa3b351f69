"""The event bus: a durable, partitioned log of JSON events on Kafka or embedded in SQLite.

Usage (the same code runs on both backends)::

    from warehouse.bus import TOPIC_ALERTS, open_bus

    bus = open_bus("sqlite:///var/bus.db")          # or "kafka://127.0.0.1:9092"
    bus.publish(TOPIC_ALERTS, {"event_id": "a-1", "type": "alert", "ts_ms": 1700000000000,
                               "camera_id": "cam-7"}, key="cam-7")
    bus.flush()

    consumer = bus.consumer(TOPIC_ALERTS, group="console")
    for record in consumer.poll(timeout_s=0.5):
        print(record.key, record.value["event_id"])
    consumer.commit()                                # at-least-once: commit after handling
    bus.close()

See ``docs/event-bus.md`` for topics, keys, payload conventions and delivery semantics.
"""
from __future__ import annotations

from warehouse.bus.api import (
    ALL_TOPICS,
    DEFAULT_PARTITIONS,
    TOPIC_ALERTS,
    TOPIC_CONTROL,
    TOPIC_DEAD_LETTER,
    TOPIC_FEEDBACK,
    TOPIC_MISS_EVENTS,
    TOPIC_MODEL_UPDATES,
    BusConsumer,
    EventBus,
    Record,
)
from warehouse.bus.deadletters import (
    DeadLetter,
    UnknownDeadLetterError,
    find_dead_letter,
    read_dead_letters,
    replay_dead_letters,
)
from warehouse.bus.errors import BusError, BusUnavailableError, MalformedEvent, PublishError
from warehouse.bus.events import (
    AlertEvent,
    BusEvent,
    ControlEvent,
    DeadLetterEvent,
    EventSchemaError,
    FeedbackEvent,
    MissEvent,
    ModelUpdateEvent,
    parse_event,
    to_wire,
)
from warehouse.bus.idempotent import (
    ConsumeStats,
    IdempotentConsumer,
    PoisonBatch,
    classify_error,
    dead_letter,
    dead_letter_id,
)
from warehouse.bus.seen import MemorySeenStore, SeenStore, SqliteSeenStore, SqlSeenStore
from warehouse.bus.kafka_bus import KafkaBus
from warehouse.bus.sqlite_bus import SqliteBus
from warehouse.bus.url import BUS_SCHEMES, open_bus

__all__ = [
    "DeadLetter",
    "UnknownDeadLetterError",
    "find_dead_letter",
    "read_dead_letters",
    "replay_dead_letters",
    "AlertEvent",
    "BusEvent",
    "ControlEvent",
    "DeadLetterEvent",
    "EventSchemaError",
    "FeedbackEvent",
    "MissEvent",
    "ModelUpdateEvent",
    "PoisonBatch",
    "PublishError",
    "SqlSeenStore",
    "TOPIC_CONTROL",
    "classify_error",
    "dead_letter_id",
    "parse_event",
    "to_wire",
    "ALL_TOPICS",
    "BUS_SCHEMES",
    "DEFAULT_PARTITIONS",
    "TOPIC_ALERTS",
    "TOPIC_DEAD_LETTER",
    "TOPIC_FEEDBACK",
    "TOPIC_MISS_EVENTS",
    "TOPIC_MODEL_UPDATES",
    "BusConsumer",
    "BusError",
    "BusUnavailableError",
    "ConsumeStats",
    "EventBus",
    "IdempotentConsumer",
    "KafkaBus",
    "MalformedEvent",
    "MemorySeenStore",
    "Record",
    "SeenStore",
    "SqliteBus",
    "SqliteSeenStore",
    "dead_letter",
    "open_bus",
]
