"""`warehouse deadletter list|show|replay` on the real embedded bus (and Kafka): inspect, fix, re-drive."""
from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from warehouse.bus import MemorySeenStore, MissEvent, SqliteBus, to_wire
from warehouse.cli import app
from warehouse.consumers import RetrainingService


class _Loop:
    def __init__(self):
        self.handled = []

    def handle(self, misses):
        self.handled.extend(m["event_id"] for m in misses)
        return len(misses)


def _miss(event_id: str, algorithm_id: str) -> dict:
    return to_wire(MissEvent(event_id=event_id, kind="false_alarm", camera_id="cam-1", algorithm_id=algorithm_id,
                             frame_ref="cam-1:3", ts_ms=1_780_000_000_000))  # fmt: skip


def test_list_show_and_replay_after_the_fix(tmp_path):
    home = tmp_path / "home"
    bus = SqliteBus(home / "bus.db")
    loops: dict[str, _Loop] = {}
    service = RetrainingService(bus, loop_for=loops.get, seen=MemorySeenStore())
    bus.publish("miss-events", _miss("m-1", "scene.harbor.boat"), key="scene.harbor.boat")
    bus.publish_raw("miss-events", b"\x00 not json at all", key="scene.harbor.boat")
    service.run_once(timeout_s=0.3)
    runner = CliRunner()

    listed = runner.invoke(app, ["deadletter", "list", "--home", str(home), "--json"])
    assert listed.exit_code == 0, listed.output
    letters = json.loads(listed.output)
    assert len(letters) == 2
    by_offset = {d["source_offset"]: d for d in letters}
    assert "no retraining loop for algorithm 'scene.harbor.boat'" in by_offset[0]["reason"]
    assert "undecodable payload" in by_offset[1]["reason"]

    shown = runner.invoke(app, ["deadletter", "show", by_offset[1]["event_id"], "--home", str(home)])
    assert shown.exit_code == 0 and "\\x00 not json at all" in shown.output, shown.output
    missing = runner.invoke(app, ["deadletter", "show", "dl:nope", "--home", str(home)])
    assert missing.exit_code == 2 and missing.output.startswith("error: no dead letter 'dl:nope'")

    loops["scene.harbor.boat"] = _Loop()  # the fix: the algorithm becomes retrainable
    replayed = runner.invoke(app, ["deadletter", "replay", by_offset[0]["event_id"], "--home", str(home), "--json"])
    assert replayed.exit_code == 0 and json.loads(replayed.output)["replayed"] == 1, replayed.output
    service.run_once(timeout_s=0.3)
    assert loops["scene.harbor.boat"].handled == ["m-1"]
    bus.close()


def test_replay_republishes_the_exact_original_bytes(tmp_path):
    home = tmp_path / "home"
    bus = SqliteBus(home / "bus.db")
    service = RetrainingService(bus, loop_for=lambda a: None, seen=MemorySeenStore())
    bus.publish_raw("miss-events", b'{"event_id": "x", "weird": [1, 2', key="k")
    service.run_once(timeout_s=0.3)
    result = CliRunner().invoke(app, ["deadletter", "replay", "--all", "--topic", "miss-events", "--home", str(home)])
    assert result.exit_code == 0, result.output
    records = bus.consumer("miss-events", group="check").poll(timeout_s=0.3)
    assert [r.raw for r in records] == [b'{"event_id": "x", "weird": [1, 2'] * 2 and records[1].key == "k"
    bus.close()


def test_no_bus_under_home_is_one_clear_line(tmp_path):
    result = CliRunner().invoke(app, ["deadletter", "list", "--home", str(tmp_path / "empty")])
    assert result.exit_code == 2 and result.output.strip().startswith("error: no embedded bus at")


@pytest.mark.kafka
def test_read_and_replay_on_kafka(kafka_bootstrap: str, kafka_topic_prefix: str):
    from warehouse.bus import KafkaBus, read_dead_letters, replay_dead_letters

    bus = KafkaBus(kafka_bootstrap, topic_prefix=kafka_topic_prefix, client_id="h9-deadletters")
    loops: dict[str, _Loop] = {}
    service = RetrainingService(bus, loop_for=loops.get, seen=MemorySeenStore())
    bus.publish("miss-events", _miss("m-k1", "scene.harbor.boat"), key="scene.harbor.boat")
    bus.flush()
    for _ in range(100):
        service.run_once(timeout_s=0.2)
        letters = read_dead_letters(bus, idle_s=0.5, deadline_s=5)
        if letters:
            break
    (letter,) = letters
    assert letter.source_topic == "miss-events" and json.loads(letter.original)["event_id"] == "m-k1"
    loops["scene.harbor.boat"] = _Loop()
    assert replay_dead_letters(bus, letters) == 1
    for _ in range(100):
        service.run_once(timeout_s=0.2)
        if loops["scene.harbor.boat"].handled:
            break
    assert loops["scene.harbor.boat"].handled == ["m-k1"]
    service.close()
    bus.close()
