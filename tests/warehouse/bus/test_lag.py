"""Consumer lag (records a group has not committed), on both backends, and in the control plane's status."""
from __future__ import annotations

import uuid

import pytest

from warehouse.bus import open_bus


def _check(bus) -> None:
    for i in range(5):
        bus.publish("alerts", {"event_id": f"e{i}", "type": "alert"}, key=f"cam-{i % 2}")
    bus.flush()
    assert bus.lag("g1", "alerts") == 5  # nothing committed yet
    c = bus.consumer("alerts", group="g1")
    got = []
    for _ in range(20):
        got += c.poll(timeout_s=0.5)
        if len(got) >= 5:
            break
    c.commit()
    c.close()
    assert bus.lag("g1", "alerts") == 0 and bus.lag("g2", "alerts") == 5  # per group


def test_lag_on_the_embedded_bus(tmp_path):
    bus = open_bus(f"sqlite:///{tmp_path / 'bus.db'}")
    try:
        _check(bus)
    finally:
        bus.close()


@pytest.mark.kafka
def test_lag_on_kafka(kafka_bootstrap):
    bus = open_bus(f"kafka://{kafka_bootstrap}", topic_prefix=f"lag-{uuid.uuid4().hex[:8]}.")
    try:
        _check(bus)
    finally:
        bus.close()


def test_the_control_plane_reports_each_consumer_groups_lag(tmp_path):
    from warehouse.control import ControlPlane

    bus = open_bus(f"sqlite:///{tmp_path / 'bus.db'}")
    try:
        for i in range(3):
            bus.publish("alerts", {"event_id": f"e{i}", "type": "alert"}, key="cam")
        plane = ControlPlane(ops=None, catalog=None, graph=None, cluster=None, bus=bus)
        assert plane._lag() == {"ops-alert-sink": 3, "feedback-router": 0, "retraining": 0}
    finally:
        bus.close()
