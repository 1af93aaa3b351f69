"""What only the Kafka backend has to prove: topics it creates, payloads from foreign producers."""
from __future__ import annotations

import base64

import pytest

from tests.warehouse.bus._helpers import drain
from warehouse.bus import TOPIC_DEAD_LETTER, TOPIC_MISS_EVENTS, IdempotentConsumer, KafkaBus

pytestmark = pytest.mark.kafka


@pytest.fixture
def bus(kafka_bootstrap: str, kafka_topic_prefix: str):
    bus = KafkaBus(kafka_bootstrap, topic_prefix=kafka_topic_prefix, partitions=3, client_id="kafka-bus-test")
    yield bus
    bus.close()


def test_topics_are_created_with_the_bus_partition_count(bus: KafkaBus) -> None:
    bus.ensure_topics([TOPIC_MISS_EVENTS])
    (described,) = bus._admin.describe_topics([bus.topic_prefix + TOPIC_MISS_EVENTS])
    assert len(described["partitions"]) == 3


def test_foreign_non_json_payload_is_dead_lettered(bus: KafkaBus, kafka_bootstrap: str) -> None:
    from kafka import KafkaProducer

    bus.ensure_topics([TOPIC_MISS_EVENTS])
    foreign = KafkaProducer(bootstrap_servers=kafka_bootstrap)
    foreign.send(bus.topic_prefix + TOPIC_MISS_EVENTS, key=b"algo-1", value=b"\xff{not json")
    foreign.flush()
    foreign.close()
    worker = IdempotentConsumer(bus, TOPIC_MISS_EVENTS, group="g", handler=lambda r: None)
    dead = 0
    for _ in range(100):
        dead += worker.run_once(timeout_s=0.2).dead_lettered
        if dead:
            break
    worker.close()
    (record,) = drain(bus.consumer(TOPIC_DEAD_LETTER, group="inspect"), 1)
    assert record.key == "algo-1" and "not UTF-8 text" in record.value["reason"]
    assert base64.b64decode(record.value["original_b64"]) == b"\xff{not json"  # the bytes as written
