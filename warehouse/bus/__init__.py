"""The event bus: a durable, partitioned log of typed JSON events on Kafka or embedded in SQLite.

Usage (the same code runs on both backends)::

    from warehouse.bus import TOPIC_ALERTS, AlertEvent, IdempotentConsumer, SqlSeenStore, open_bus, to_wire

    bus = open_bus("sqlite:///var/bus.db")          # or "kafka://127.0.0.1:9092"
    alert = AlertEvent.build(alert_id="al-1", camera_id="cam-7", algorithm_id="scene.road.smoke",
                             model_version="3", score=0.9, xyxy=(0, 0, 64, 48), frame_index=12,
                             stream_ts_ms=480, ts_ms=1_780_000_000_000)
    bus.publish(TOPIC_ALERTS, to_wire(alert), key="cam-7")
    bus.flush()                                      # raises PublishError naming what was not written

    worker = IdempotentConsumer(bus, TOPIC_ALERTS, group="console",
                                handler=lambda record: print(record.event.alert_id),
                                seen=SqlSeenStore("sqlite:///var/seen.db", scope="console"))
    worker.run_once(timeout_s=0.5)   # validated, deduplicated, poison dead-lettered, processed committed
    bus.close()

See ``docs/event-bus.md`` for topics, keys and delivery semantics, ``docs/faults.md`` for
dead letters (``warehouse deadletter``), outages, crashes and exactly-once on Kafka.
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
