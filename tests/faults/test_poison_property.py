"""Generated malformed records for every topic through every consumer: each dead-lettered with a
reason, its bytes and offset, and the good record right behind it (same partition) processed."""
from __future__ import annotations

import base64
import json
import uuid

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from benchmarks.faults import make_event, poison_scenario
from warehouse.bus import KafkaBus, MemorySeenStore, SqliteBus, parse_event
from warehouse.consumers import AlertSink, FeedbackRouter, RetrainingService
from warehouse.ops_store import OpsStore

TOPICS = ["alerts", "feedback", "miss-events"]
json_values = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=6,
)  # fmt: skip


def _valid(topic: str, value: object) -> bool:
    try:
        parse_event(topic, value)
    except ValueError:
        return False
    return True


@st.composite
def poison(draw, topic: str) -> bytes:
    """A record of ``topic`` that its schema refuses: a field dropped, retyped or added, or raw bytes."""
    base, _ = make_event(topic, draw(st.integers(0, 1000)), "p")
    how = draw(st.sampled_from(["drop", "retype", "extra", "bytes", "not-an-object"]))
    if how == "bytes":
        raw = draw(st.binary(max_size=80))
        assume(not _decodes_to_valid(topic, raw))
        return raw
    if how == "not-an-object":
        return json.dumps(draw(st.lists(json_values, max_size=3))).encode()
    field = draw(st.sampled_from(sorted(base)))
    if how == "drop":
        base.pop(field)
    elif how == "retype":
        base[field] = draw(json_values)
    else:
        base[draw(st.text(min_size=1, max_size=10).filter(lambda k: k not in base))] = draw(json_values)
    assume(not _valid(topic, base))
    return json.dumps(base).encode()


def _decodes_to_valid(topic: str, raw: bytes) -> bool:
    try:
        return _valid(topic, json.loads(raw))
    except ValueError:
        return False


class Rig:
    """One embedded bus with the three consumers and a reader of the dead-letter topic."""

    def __init__(self, path) -> None:
        self.bus = SqliteBus(path)
        self.ops = OpsStore("sqlite://")
        self.handled: list[str] = []
        rig = self

        class _Loop:
            def handle(self, misses):
                rig.handled.extend(m["event_id"] for m in misses)
                return len(misses)

        self.consumers = {
            "alerts": AlertSink(self.bus, self.ops, seen=MemorySeenStore()),
            "feedback": FeedbackRouter(self.bus, seen=MemorySeenStore()),
            "miss-events": RetrainingService(self.bus, loop_for=lambda a: _Loop(), seen=MemorySeenStore()),
        }
        self.letters = self.bus.consumer("dead-letter", group="inspect")
        self.misses = self.bus.consumer("miss-events", group="inspect-misses")
        self.routed: set[str] = set()

    def processed(self, topic: str, event_id: str) -> bool:
        if topic == "alerts":
            return any(a["alert_id"] == event_id for a in self.ops.list_alerts(limit=10_000))
        if topic == "feedback":
            self.routed.update(r.value.get("source_event_id") for r in self.misses.poll(timeout_s=0.01))
            return event_id in self.routed
        return event_id in self.handled


@pytest.fixture(scope="module")
def rig(tmp_path_factory):
    r = Rig(tmp_path_factory.mktemp("poison") / "bus.db")
    yield r
    r.bus.close()


@pytest.mark.parametrize("topic", TOPICS)
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(data=st.data())
def test_poison_is_dead_lettered_and_the_next_record_processed(rig: Rig, topic: str, data) -> None:
    raw = data.draw(poison(topic))
    key = f"k-{uuid.uuid4().hex[:6]}"
    good, _ = make_event(topic, 0, uuid.uuid4().hex[:8])
    rig.bus.publish_raw(topic, raw, key=key)
    rig.bus.publish(topic, good, key=key)  # same key: same partition, right behind the poison
    consumer = rig.consumers[topic]
    for _ in range(20):
        consumer.run_once(timeout_s=0.01)
        if rig.processed(topic, good["event_id"]):
            break
    assert rig.processed(topic, good["event_id"]), f"good record behind {raw[:80]!r} was not processed (wedged)"
    letters = [r.value for r in rig.letters.poll(timeout_s=0.05) if r.key == key]
    assert len(letters) == 1, letters
    (letter,) = letters
    assert letter["reason"] and letter["source_topic"] == topic and letter["type"] == "dead_letter"
    assert base64.b64decode(letter["original_b64"]) == raw  # the original bytes, exactly


@pytest.mark.kafka
def test_poison_never_wedges_a_kafka_partition(kafka_bootstrap: str) -> None:
    prefix = f"h9p{uuid.uuid4().hex[:8]}."
    result = poison_scenario(lambda: KafkaBus(kafka_bootstrap, topic_prefix=prefix, client_id="h9-poison"), per_topic=10)
    assert result["poison_records"] >= 30  # the known wedging shapes and byte garbage, per topic
    assert result["dead_lettered_with_reason"] == result["poison_records"] and result["wedged"] == 0, result
