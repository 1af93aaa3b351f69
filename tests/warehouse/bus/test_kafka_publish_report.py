"""`flush()` reports exactly which records the broker did not write, and the producer goes on."""
from __future__ import annotations

import time

import pytest

from tests.warehouse.bus._helpers import drain
from warehouse.bus import KafkaBus, MalformedEvent, PublishError

pytestmark = pytest.mark.kafka


def _flush_until_reported(bus: KafkaBus, deadline_s: float = 30.0):
    end = time.monotonic() + deadline_s
    while True:
        try:
            return bus.flush(timeout_s=5), []
        except PublishError as exc:
            return exc.written, exc.failed
        except Exception:  # an ack still outstanding: the next flush reports it
            if time.monotonic() > end:
                raise


def test_refused_record_is_reported_and_the_others_written(kafka_bootstrap: str, kafka_topic_prefix: str) -> None:
    from kafka.admin import NewTopic

    bus = KafkaBus(kafka_bootstrap, topic_prefix=kafka_topic_prefix, client_id="h9-report")
    # the broker refuses records over 2,000 bytes on this topic (the producer's own limit is 1 MB)
    bus._admin.create_topics([NewTopic(kafka_topic_prefix + "alerts", 1, 1, topic_configs={"max.message.bytes": "2000"})])
    bus.publish("alerts", {"event_id": "ok-1"}, key="k")
    assert bus.flush() == 1
    bus.publish("alerts", {"event_id": "big-1", "blob": "x" * 5000}, key="k")
    written, failed = _flush_until_reported(bus)
    assert written == 0 and [f[2] for f in failed] == ["big-1"]
    bus.publish("alerts", {"event_id": "ok-2"}, key="k")  # a fatal refusal does not poison the producer
    assert _flush_until_reported(bus) == (1, [])
    consumer = bus.consumer("alerts", group="check")
    assert [r.value["event_id"] for r in drain(consumer, 2)] == ["ok-1", "ok-2"]  # exactly what was reported
    consumer.close()
    with pytest.raises(MalformedEvent, match=r"over the producer's limit"):
        bus.publish("alerts", {"event_id": "huge", "blob": "x" * 1_200_000}, key="k")
    bus.close()
