"""One contract, two backends: every test here runs on SqliteBus and on a real Kafka broker."""
from __future__ import annotations

import base64
import json
import socket
import time
import uuid
from collections.abc import Callable

import pytest

from tests.warehouse.bus._helpers import POLL_S, BusHarness, drain
from warehouse.bus import (
    TOPIC_ALERTS,
    TOPIC_DEAD_LETTER,
    TOPIC_FEEDBACK,
    TOPIC_MISS_EVENTS,
    BusError,
    BusUnavailableError,
    ConsumeStats,
    IdempotentConsumer,
    KafkaBus,
    MalformedEvent,
    MemorySeenStore,
    Record,
    open_bus,
)


def _event(event_id: str | None = None, **fields) -> dict:
    return {"event_id": event_id or uuid.uuid4().hex, "type": "test", "ts_ms": 0, **fields}


def _ids(records: list[Record]) -> list[str]:
    return [r.value["event_id"] for r in records]


def test_same_key_keeps_publish_order(harness: BusHarness) -> None:
    bus = harness.open()
    keys = ["cam-1", "cam-2", "cam-3"]
    for seq in range(15):
        for key in keys:
            bus.publish(TOPIC_ALERTS, _event(seq=seq, camera=key), key=key)
    bus.flush()
    records = drain(harness.consumer(bus, TOPIC_ALERTS, group="order"), 45)
    assert len(records) == 45
    for key in keys:
        mine = [r for r in records if r.key == key]
        assert [r.value["seq"] for r in mine] == list(range(15))
        assert len({r.partition for r in mine}) == 1  # one key, one partition
        assert [r.offset for r in mine] == sorted(r.offset for r in mine)
    assert {r.topic for r in records} == {TOPIC_ALERTS}  # logical name, prefix stripped


def test_every_group_sees_every_record(harness: BusHarness) -> None:
    bus = harness.open()
    sent = [_event() for _ in range(12)]
    for i, event in enumerate(sent):
        bus.publish(TOPIC_FEEDBACK, event, key=f"algo-{i % 5}")
    bus.flush()
    for group in ("console", "retraining"):
        got = drain(harness.consumer(bus, TOPIC_FEEDBACK, group=group), len(sent))
        assert sorted(_ids(got)) == sorted(e["event_id"] for e in sent), group


def test_committed_offsets_survive_consumer_reopen(harness: BusHarness) -> None:
    bus = harness.open()
    first = [_event() for _ in range(6)]
    for event in first:
        bus.publish(TOPIC_MISS_EVENTS, event, key="algo-1")
    bus.flush()
    consumer = harness.consumer(bus, TOPIC_MISS_EVENTS, group="loop")
    assert _ids(drain(consumer, 6)) == [e["event_id"] for e in first]
    consumer.commit()
    consumer.close()

    second = [_event() for _ in range(4)]
    for event in second:
        bus.publish(TOPIC_MISS_EVENTS, event, key="algo-1")
    bus.flush()
    reopened = harness.consumer(bus, TOPIC_MISS_EVENTS, group="loop")
    assert _ids(drain(reopened, 4)) == [e["event_id"] for e in second]
    assert reopened.poll(timeout_s=POLL_S) == []  # nothing from the committed part again


def test_polled_but_uncommitted_records_are_redelivered_after_crash(harness: BusHarness) -> None:
    bus = harness.open()
    done = [_event() for _ in range(3)]
    for event in done:
        bus.publish(TOPIC_ALERTS, event, key="cam-9")
    bus.flush()
    consumer = harness.consumer(bus, TOPIC_ALERTS, group="crashy")
    assert len(drain(consumer, 3)) == 3
    consumer.commit()
    in_flight = [_event() for _ in range(4)]
    for event in in_flight:
        bus.publish(TOPIC_ALERTS, event, key="cam-9")
    bus.flush()
    assert _ids(drain(consumer, 4)) == [e["event_id"] for e in in_flight]
    consumer.close()  # "crash": no commit for the second batch

    successor = harness.consumer(bus, TOPIC_ALERTS, group="crashy")
    assert _ids(drain(successor, 4)) == [e["event_id"] for e in in_flight]


def test_nothing_lost_across_bus_restart(harness: BusHarness) -> None:
    bus = harness.open()
    sent = [_event() for _ in range(20)]
    for i, event in enumerate(sent):
        bus.publish(TOPIC_FEEDBACK, event, key=f"algo-{i % 3}")
    bus.close()  # close flushes

    restarted = harness.open()
    got = drain(harness.consumer(restarted, TOPIC_FEEDBACK, group="after-restart"), len(sent))
    assert sorted(_ids(got)) == sorted(e["event_id"] for e in sent)


def test_from_beginning_false_starts_at_the_end(harness: BusHarness) -> None:
    bus = harness.open()
    bus.publish(TOPIC_ALERTS, _event("old"), key="cam-1")
    bus.flush()
    consumer = harness.consumer(bus, TOPIC_ALERTS, group="live", from_beginning=False)
    # Kafka resolves "the end" when the group join completes: keep publishing until the
    # consumer sees something; "old" must never be among it.
    received: list[Record] = []
    for i in range(40):
        bus.publish(TOPIC_ALERTS, _event(f"new-{i}"), key="cam-1")
        bus.flush()
        received += consumer.poll(timeout_s=0.5)
        if received:
            break
    assert received and "old" not in _ids(received)


def _needs_algorithm(record: Record) -> None:
    if "algorithm_id" not in record.value:
        raise MalformedEvent(f"event {record.value['event_id']} has no algorithm_id")


def _run_until(worker: IdempotentConsumer, done: Callable[[list[ConsumeStats]], bool], deadline_s: float = 30.0) -> list[ConsumeStats]:
    stats: list[ConsumeStats] = []
    end = time.monotonic() + deadline_s
    while not done(stats) and time.monotonic() < end:
        stats.append(worker.run_once(timeout_s=POLL_S))
    return stats


def _polled(n: int) -> Callable[[list[ConsumeStats]], bool]:
    return lambda stats: sum(s.polled for s in stats) >= n


def test_malformed_events_go_to_dead_letter_with_reason(harness: BusHarness) -> None:
    bus = harness.open()
    bus.publish(TOPIC_FEEDBACK, _event("good-1", algorithm_id="a1"), key="a1")
    bus.publish(TOPIC_FEEDBACK, _event("bad-1"), key="a2")  # handler rejects: no algorithm_id
    bus.publish(TOPIC_FEEDBACK, {"type": "test", "algorithm_id": "a3"}, key="a3")  # no event_id at all
    bus.flush()
    worker = IdempotentConsumer(bus, TOPIC_FEEDBACK, group="fb", handler=_needs_algorithm, validate=False)
    stats = _run_until(worker, _polled(3))
    worker.close()
    assert sum(s.dead_lettered for s in stats) == 2
    assert sum(s.handled for s in stats) == 1

    dead = drain(harness.consumer(bus, TOPIC_DEAD_LETTER, group="inspect"), 2)
    by_key = {r.key: r.value for r in dead}
    assert set(by_key) == {"a2", "a3"}
    assert "has no algorithm_id" in by_key["a2"]["reason"]
    assert "event_id" in by_key["a3"]["reason"]
    assert by_key["a2"]["source_topic"] == TOPIC_FEEDBACK and by_key["a2"]["consumer_group"] == "fb"
    assert json.loads(base64.b64decode(by_key["a2"]["original_b64"]))["event_id"] == "bad-1"  # the original bytes
    assert all(v["type"] == "dead_letter" and v["event_id"] for v in by_key.values())


def test_idempotent_consumer_handles_each_event_id_once(harness: BusHarness) -> None:
    bus = harness.open()
    for event_id in ["e1", "e2", "e1", "e3", "e2"]:  # producer retries / replays
        bus.publish(TOPIC_MISS_EVENTS, _event(event_id, algorithm_id="a1"), key="a1")
    bus.flush()
    handled: list[str] = []
    worker = IdempotentConsumer(bus, TOPIC_MISS_EVENTS, group="miss", handler=lambda r: handled.append(r.value["event_id"]),
                                validate=False)
    stats = _run_until(worker, _polled(5))
    worker.close()
    assert handled == ["e1", "e2", "e3"]
    assert sum(s.duplicates for s in stats) == 2


def test_idempotent_consumer_redelivers_after_handler_failure(harness: BusHarness) -> None:
    bus = harness.open()
    for event_id in ["f1", "f2", "f3"]:
        bus.publish(TOPIC_MISS_EVENTS, _event(event_id, algorithm_id="a1"), key="a1")
    bus.flush()
    handled: list[str] = []
    failures = {"f2": 1}  # f2 fails once (a transient error), then succeeds

    def handler(record: Record) -> None:
        event_id = record.value["event_id"]
        if failures.get(event_id):
            failures[event_id] -= 1
            raise ConnectionError(f"catalog down while handling {event_id}")
        handled.append(event_id)

    seen = MemorySeenStore()
    worker = IdempotentConsumer(bus, TOPIC_MISS_EVENTS, group="retry", handler=handler, seen=seen, validate=False)
    with pytest.raises(ConnectionError, match="f2"):
        _run_until(worker, lambda stats: False)
    _run_until(worker, lambda stats: len(handled) == 3)  # the batch comes back; f1 is not handled twice
    worker.close()
    assert handled == ["f1", "f2", "f3"]


@pytest.mark.parametrize(
    "value, match",
    [
        (["not", "a", "dict"], "must be a dict"),  # a list is not a JSON object
        ({"event_id": "x", "blob": object()}, "not JSON-serialisable"),  # arbitrary objects
        ({"event_id": "x", "score": float("nan")}, "not JSON-serialisable"),  # NaN is not JSON
    ],
)
def test_publish_refuses_values_that_cannot_round_trip(harness: BusHarness, value, match: str) -> None:
    bus = harness.open()
    with pytest.raises(MalformedEvent, match=match):
        bus.publish(TOPIC_ALERTS, value, key="cam-1")


@pytest.mark.parametrize(
    "topic",
    [
        "",  # empty
        "alerts/cam-1",  # slash is not a Kafka topic character
        "a" * 300,  # too long
    ],
)
def test_invalid_topic_names_are_refused(harness: BusHarness, topic: str) -> None:
    bus = harness.open()
    with pytest.raises(BusError, match="not a valid name"):
        bus.publish(topic, _event())


# ---------------------------------------------------------------- errors without a broker


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # nothing listens once the socket is closed


@pytest.mark.timeout(30)
@pytest.mark.parametrize("how", ["class", "url"])
def test_unreachable_kafka_fails_fast_naming_the_address(how: str) -> None:
    address = f"127.0.0.1:{_closed_port()}"
    with pytest.raises(BusUnavailableError, match=rf"{address}.*kafka_broker\.py start"):
        if how == "class":
            KafkaBus(address, connect_timeout_s=2)
        else:
            open_bus(f"kafka://{address}")


@pytest.mark.parametrize(
    "url, match",
    [
        ("redis://localhost:6379", "unknown scheme 'redis'.*sqlite, kafka"),  # not a backend
        ("var/bus.db", "no scheme"),  # a bare path
        ("sqlite://", "no file path"),  # scheme without a path
        ("kafka://", "no broker address"),  # scheme without an address
        ("kafka://localhost", "HOST:PORT"),  # address without a port
    ],
)
def test_bad_bus_urls_name_the_valid_forms(url: str, match: str) -> None:
    with pytest.raises(BusError, match=match):
        open_bus(url)
