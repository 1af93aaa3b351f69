"""A transactional KafkaBus: a consumer's outputs and offsets commit together, or not at all."""
from __future__ import annotations

import pytest

from tests.warehouse.bus._helpers import drain
from warehouse.bus import IdempotentConsumer, KafkaBus, MemorySeenStore, Record

pytestmark = pytest.mark.kafka


def test_outputs_of_an_aborted_batch_are_never_seen_and_the_batch_is_redone(kafka_bootstrap: str, kafka_topic_prefix: str):
    source = KafkaBus(kafka_bootstrap, topic_prefix=kafka_topic_prefix, client_id="h9-tx-source", partitions=1)
    for i in range(3):
        source.publish("feedback", {"event_id": f"f{i}"}, key="k")
    source.flush()
    bus = KafkaBus(kafka_bootstrap, topic_prefix=kafka_topic_prefix, client_id="h9-tx", partitions=1,
                   transactional_id="h9-router")  # fmt: skip
    fail = {"f2": 1}

    def route(record: Record) -> None:
        bus.publish("miss-events", {"event_id": "miss-" + record.value["event_id"]}, key="k")
        if fail.get(record.value["event_id"]):
            fail[record.value["event_id"]] -= 1
            raise ConnectionError("catalog down")  # after f0, f1 were routed in this transaction

    worker = IdempotentConsumer(bus, "feedback", group="router", handler=route, seen=MemorySeenStore(), validate=False)
    handled = 0
    for _ in range(200):
        try:
            handled += worker.run_once(timeout_s=0.2).handled
        except ConnectionError:
            continue
        if handled >= 3:
            break
    outputs = [r.value["event_id"] for r in drain(source.consumer("miss-events", group="reader"), 10, deadline_s=8)]
    # read_committed: the aborted first attempt (miss-f0, miss-f1, miss-f2) is invisible; each output once
    assert outputs == ["miss-f0", "miss-f1", "miss-f2"]
    again = KafkaBus(kafka_bootstrap, topic_prefix=kafka_topic_prefix, client_id="h9-tx-check", partitions=1)
    assert drain(again.consumer("feedback", group="router"), 1, deadline_s=3) == []  # offsets committed in the txn
    worker.close()
    for b in (bus, source, again):
        b.close()
