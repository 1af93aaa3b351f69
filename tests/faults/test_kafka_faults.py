"""Consumers SIGKILLed under load and a broker restarted under producers and consumers, on real Kafka.

The suite starts its own broker (never the shared one: it restarts it) and runs the real
consumer classes in their own processes (``benchmarks/_fault_consumer.py``).
"""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from benchmarks.faults import ROLES, kill_scenario, load_broker_script, restart_scenario

pytestmark = [pytest.mark.kafka, pytest.mark.slow]


@pytest.fixture(scope="module")
def own_broker(tmp_path_factory: pytest.TempPathFactory):
    broker = load_broker_script()
    home = tmp_path_factory.mktemp("h9-kafka")
    try:
        info = broker.start(home, die_with_parent=True, heap="512m")
    except broker.BrokerError as exc:
        from tests.fixtures.services import unavailable

        unavailable("kafka (own broker for restarts)", str(exc))
    try:
        yield broker, home, info
    finally:
        broker.stop(home)
        shutil.rmtree(home / "data", ignore_errors=True)


@pytest.mark.parametrize("role", list(ROLES))
def test_sigkill_under_load_loses_nothing_and_repeats_nothing(own_broker, role: str, tmp_path: Path):
    _, _, info = own_broker
    result = kill_scenario(role, info.bootstrap, events=90, kills=3, work=tmp_path, seed=sum(map(ord, role)))
    assert result["kills_mid_stream"] == 3, result  # each kill hit a consumer that was processing
    assert result["acknowledged"] == result["events"] >= 90, result  # the producer saw every record acknowledged
    assert result["lost"] == 0, result
    assert result["duplicated"] == 0, result
    # the router runs transactional: a killed batch's miss events are aborted, never seen twice
    assert result["router_redelivered_copies"] == 0, result


def test_broker_restart_keeps_every_acknowledged_record_and_clients_recover(own_broker, tmp_path: Path):
    broker, home, info = own_broker
    result = restart_scenario(broker, home, info.bootstrap, events=120, restarts=1, work=tmp_path)
    assert broker.status(home).bootstrap == info.bootstrap  # same port after the restart
    assert result["acknowledged"] == 120 and result["acknowledged_lost"] == 0, result
    # the consumer process was never restarted: it reconnected by itself
    assert result["restart_to_first_processed_s"] < 30, result
