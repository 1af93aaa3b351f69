"""The application's consumers on the real embedded bus: schema-checked, idempotent, poison dead-lettered."""
from __future__ import annotations

import base64
import json

import pytest

from warehouse.bus import AlertEvent, FeedbackEvent, MemorySeenStore, MissEvent, SqliteBus, to_wire
from warehouse.consumers import AlertSink, FeedbackRouter, RetrainingService, miss_for_rejection
from warehouse.ops_store import OpsStore

TS = 1_780_000_000_000


def alert(alert_id="al-1", camera_id="cam-1", **kw) -> dict:
    fields = dict(camera_id=camera_id, algorithm_id="scene.road.fire", model_version="1", score=0.9, xyxy=(0, 0, 4, 4),
                  frame_index=5, stream_ts_ms=200, ts_ms=TS, alert_id=alert_id) | kw  # fmt: skip
    return to_wire(AlertEvent.build(**fields))


def feedback(verdict="reject", alert_id="al-1", algorithm_id="scene.road.fire") -> dict:
    return to_wire(FeedbackEvent(event_id=f"fb-{alert_id}-{verdict}", feedback_id=f"fb-{alert_id}", alert_id=alert_id,
                                 camera_id="cam-1", algorithm_id=algorithm_id, verdict=verdict, operator="op",
                                 frame_ref="cam-1:5", alert_ts_ms=TS))  # fmt: skip


def miss(event_id="m-1", algorithm_id="scene.road.fire", frame_ref="cam-1:5") -> dict:
    return to_wire(MissEvent(event_id=event_id, kind="false_alarm", camera_id="cam-1", algorithm_id=algorithm_id,
                             frame_ref=frame_ref, ts_ms=TS))  # fmt: skip


def dead_letters(bus) -> list[dict]:
    return [r.value for r in bus.consumer("dead-letter", group="inspect").poll(timeout_s=0.3)]


class _Graph:
    def __init__(self):
        self.calls = []

    def record_rejection(self, *a):
        self.calls.append(("reject", *a))

    def record_confirmation(self, *a):
        self.calls.append(("confirm", *a))


@pytest.fixture
def bus(tmp_path):
    b = SqliteBus(tmp_path / "bus.db")
    yield b
    b.close()


def test_router_turns_rejections_into_miss_events_once(bus):
    g = _Graph()
    router = FeedbackRouter(bus, graph=g, seen=MemorySeenStore())
    bus.publish("feedback", feedback("reject"), key="scene.road.fire")
    bus.publish("feedback", feedback("reject"), key="scene.road.fire")  # duplicate delivery
    bus.publish("feedback", feedback("confirm", "al-2"), key="scene.road.fire")
    bus.publish("feedback", {"event_id": "junk", "type": "alert_feedback"}, key="x")  # malformed
    router.run_once(timeout_s=0.5)
    misses = bus.consumer("miss-events", group="t").poll(timeout_s=0.5)
    assert [m.value["kind"] for m in misses] == ["false_alarm"]
    assert misses[0].value["event_id"] == to_wire(miss_for_rejection(FeedbackEvent(**{k: v for k, v in feedback().items()})))["event_id"]
    assert [c[0] for c in g.calls] == ["reject", "confirm"]
    (dead,) = dead_letters(bus)
    assert "field 'feedback_id'" in dead["reason"] and dead["source_topic"] == "feedback" and dead["source_offset"] >= 0
    assert json.loads(base64.b64decode(dead["original_b64"]))["event_id"] == "junk"


def test_alert_sink_stores_valid_alerts_and_dead_letters_the_rest(bus):
    ops = OpsStore("sqlite://")
    sink = AlertSink(bus, ops, seen=MemorySeenStore())
    bus.publish("alerts", alert("al-1"), key="cam-1")
    bus.publish("alerts", {**alert("al-2"), "ts_ms": None}, key="cam-1")  # used to wedge the sink
    bus.publish("alerts", alert("al-3"), key="cam-1")
    sink.run_once(timeout_s=0.5)
    assert sorted(a["alert_id"] for a in ops.list_alerts()) == ["al-1", "al-3"]
    (dead,) = dead_letters(bus)
    assert "'ts_ms' = None" in dead["reason"] and dead["source_offset"] == 1


def test_alert_sink_can_refuse_unknown_cameras(bus):
    ops = OpsStore("sqlite://")
    sink = AlertSink(bus, ops, seen=MemorySeenStore(), require_known_camera=True)
    bus.publish("alerts", alert("al-9", camera_id="cam-nowhere"), key="cam-nowhere")
    stats = sink.run_once(timeout_s=0.5)
    assert (stats.handled, stats.dead_lettered) == (0, 1)
    assert "cam-nowhere" in dead_letters(bus)[0]["reason"]


class _Loop:
    def __init__(self, fail_with=None):
        self.handled, self.fail_with = [], fail_with

    def handle(self, misses):
        if self.fail_with is not None:
            raise self.fail_with
        self.handled.append([m["event_id"] for m in misses])
        return {"misses": len(misses)}


def test_retraining_dead_letters_unknown_algorithms_and_loop_refusals(bus):
    good, refusing = _Loop(), _Loop(fail_with=ValueError("misses carry no frame_ref"))
    loops = {"scene.road.fire": good, "scene.road.smoke": refusing}
    service = RetrainingService(bus, loop_for=loops.get, seen=MemorySeenStore())
    bus.publish("miss-events", miss("m-1"), key="scene.road.fire")
    bus.publish("miss-events", miss("m-2", algorithm_id="scene.road.unknown"), key="scene.road.unknown")
    bus.publish("miss-events", miss("m-3", algorithm_id="scene.road.smoke"), key="scene.road.smoke")
    bus.publish("miss-events", miss("m-4"), key="scene.road.fire")
    results = service.run_once(timeout_s=0.5)
    assert results == [{"misses": 2}] and good.handled == [["m-1", "m-4"]]
    reasons = {json.loads(base64.b64decode(d["original_b64"]))["event_id"]: d["reason"]
               for d in dead_letters(bus)}
    assert set(reasons) == {"m-2", "m-3"}
    assert "no retraining loop for algorithm 'scene.road.unknown'" in reasons["m-2"]
    assert "ValueError: misses carry no frame_ref" in reasons["m-3"]


def test_retraining_outage_redelivers_without_losing_or_repeating(bus):
    loop = _Loop(fail_with=ConnectionError("catalog database down"))
    service = RetrainingService(bus, loop_for=lambda a: loop, seen=MemorySeenStore())
    bus.publish("miss-events", miss("m-1"), key="scene.road.fire")
    with pytest.raises(ConnectionError):
        service.run_once(timeout_s=0.5)
    assert dead_letters(bus) == []  # an outage is not the record's fault
    loop.fail_with = None
    service.run_once(timeout_s=0.5)
    service.run_once(timeout_s=0.2)
    assert loop.handled == [["m-1"]]
