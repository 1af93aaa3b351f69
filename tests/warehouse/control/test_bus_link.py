"""The control loop hears model-updates at once, on both buses (a watcher thread that really waits in poll)."""
from __future__ import annotations

import threading
import time
import uuid

import pytest

from warehouse.bus import open_bus
from warehouse.bus.events import ModelUpdateEvent, to_wire
from warehouse.control.bus_link import UpdateWatcher


def _update(version: int) -> dict:
    ev = ModelUpdateEvent(event_id=f"mu-{uuid.uuid4().hex[:8]}", algorithm_id="scene.road.smoke", version=version,
                          action="promoted", stage="production", previous_version=version - 1 or None,
                          artifact_sha256="0" * 64, canary_cameras=[], reason="test")
    return to_wire(ev)


def _check(bus) -> None:
    heard: list[list[str]] = []
    woke = threading.Event()
    watcher = UpdateWatcher(bus.consumer("model-updates", group="control-plane", from_beginning=False),
                            lambda ids: (heard.append(ids), woke.set()), poll_s=0.5).start()
    try:
        time.sleep(3.0)  # the consumer joins its group (positions at the end: only what comes after counts)
        t0 = time.monotonic()
        bus.publish("model-updates", _update(2), key="scene.road.smoke")
        bus.flush()
        assert woke.wait(20), "the promotion never reached the control loop's watcher"
        assert heard == [["scene.road.smoke"]] and time.monotonic() - t0 < 20
    finally:
        watcher.stop()
    assert bus.lag("control-plane", "model-updates") == 0  # committed: a restarted loop does not hear it again


def test_watcher_on_the_embedded_bus(tmp_path):
    bus = open_bus(f"sqlite:///{tmp_path / 'bus.db'}")
    try:
        _check(bus)
    finally:
        bus.close()


@pytest.mark.kafka
def test_watcher_on_kafka(kafka_bootstrap):
    bus = open_bus(f"kafka://{kafka_bootstrap}", topic_prefix=f"upd-{uuid.uuid4().hex[:8]}.")
    try:
        bus.publish("model-updates", _update(1), key="scene.road.smoke")  # the topic exists before the consumer
        bus.flush()
        _check(bus)
    finally:
        bus.close()


def test_control_events_name_what_operators_follow():
    from runtime.work import CameraWork
    from warehouse.control.bus_link import control_event
    from warehouse.control.state import ConfigureCamera, RerateReader, StartReader, StopWorker

    ev = control_event(StartReader("cam-1", "w-1", "rtsp://10.0.0.5/a", 2.0), 1_700_000_000.0)
    assert (ev.action, ev.camera_id, ev.worker_id) == ("camera_placed", "cam-1", "w-1")
    assert control_event(StopWorker("w-2", "dead: node lost"), 1.0).action == "worker_lost"
    assert control_event(StopWorker("w-2", "no longer in the plan"), 1.0) is None
    assert control_event(ConfigureCamera("w-1", CameraWork.build("cam-9")), 1.0).camera_id == "cam-9"
    assert control_event(RerateReader("cam-1", "w-1", 1.0), 1.0) is None
