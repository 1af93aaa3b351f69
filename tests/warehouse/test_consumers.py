"""Feedback routing on the real embedded bus: rejection -> miss event, once, malformed -> dead letter."""
from __future__ import annotations

from warehouse.bus import MemorySeenStore, SqliteBus
from warehouse.feedback import feedback_event, miss_event_from_rejection
from warehouse.consumers import AlertSink, FeedbackRouter
from warehouse.ops_store import OpsStore


def _fb(verdict="reject", alert_id="al-1"):
    alert = {"alert_id": alert_id, "camera_id": "cam-1", "algorithm_id": "scene.road.fire", "ts_ms": 5, "frame_ref": "cam-1:5"}
    return feedback_event(feedback_id=f"fb-{alert_id}-{verdict}", alert=alert, verdict=verdict, operator="op")


class _Graph:
    """Records what the router tells the knowledge graph."""

    def __init__(self):
        self.calls = []

    def record_rejection(self, *a):
        self.calls.append(("reject", *a))

    def record_confirmation(self, *a):
        self.calls.append(("confirm", *a))


def test_router_turns_rejections_into_miss_events_once(tmp_path):
    bus = SqliteBus(tmp_path / "bus.db")
    g = _Graph()
    router = FeedbackRouter(bus, graph=g, seen=MemorySeenStore())
    bus.publish("feedback", _fb("reject"), key="scene.road.fire")
    bus.publish("feedback", _fb("reject"), key="scene.road.fire")  # duplicate delivery
    bus.publish("feedback", _fb("confirm", "al-2"), key="scene.road.fire")
    bus.publish("feedback", {"event_id": "junk", "type": "alert_feedback"}, key="x")  # malformed
    router.run_once(timeout_s=0.5)
    misses = bus.consumer("miss-events", group="t").poll(timeout_s=0.5)
    assert [m.value["kind"] for m in misses] == ["false_alarm"]
    assert misses[0].value["event_id"] == miss_event_from_rejection(_fb("reject"))["event_id"]
    assert [c[0] for c in g.calls] == ["reject", "confirm"]
    dead = bus.consumer("dead-letter", group="t").poll(timeout_s=0.5)
    assert len(dead) == 1 and "lacks" in dead[0].value["reason"] and dead[0].value["value"]["event_id"] == "junk"
    bus.close()


def test_alert_sink_stores_and_dead_letters(tmp_path):
    bus = SqliteBus(tmp_path / "bus.db")
    ops = OpsStore("sqlite://")
    sink = AlertSink(bus, ops, seen=MemorySeenStore())
    bus.publish("alerts", {"event_id": "al-1", "alert_id": "al-1", "camera_id": "c", "algorithm_id": "a", "ts_ms": 1}, key="c")
    bus.publish("alerts", {"event_id": "bad", "camera_id": "c"}, key="c")
    sink.run_once(timeout_s=0.5)
    assert [a["alert_id"] for a in ops.list_alerts()] == ["al-1"]
    assert len(bus.consumer("dead-letter", group="t").poll(timeout_s=0.5)) == 1
    bus.close()
