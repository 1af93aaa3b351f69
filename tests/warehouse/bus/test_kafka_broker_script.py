"""scripts/kafka_broker.py without starting a broker (the contract suite starts the real one)."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.fixtures.kafka import load_broker_script

SCRIPT = Path(__file__).resolve().parents[3] / "scripts" / "kafka_broker.py"


@pytest.mark.parametrize(
    "command, rc, out",
    [
        ("status", 1, "not running"),  # nothing was started in this home
        ("stop", 0, "not running"),  # stopping nothing is not an error
    ],
)
def test_cli_on_an_empty_home(tmp_path, command: str, rc: int, out: str) -> None:
    proc = subprocess.run([sys.executable, str(SCRIPT), command, "--home", str(tmp_path)], capture_output=True, text=True, timeout=60)
    assert (proc.returncode, proc.stdout.strip().splitlines()[-1]) == (rc, out)


def test_missing_java_names_the_apt_fix(tmp_path, monkeypatch) -> None:
    broker = load_broker_script()
    monkeypatch.setenv("PATH", str(tmp_path))  # neither java nor mvn on it
    with pytest.raises(broker.BrokerError, match="`java` not found.*apt-get install openjdk-17-jre-headless maven"):
        broker.start(tmp_path / "home")


def test_cli_reports_errors_on_stderr_with_exit_2(tmp_path) -> None:
    proc = subprocess.run(
        [sys.executable, str(SCRIPT), "start", "--home", str(tmp_path)],
        capture_output=True, text=True, timeout=60, env={"PATH": str(tmp_path), "HOME": str(tmp_path)},
    )
    assert proc.returncode == 2 and "apt-get install openjdk-17-jre-headless maven" in proc.stderr


def test_cluster_config_is_single_node_kraft_on_loopback(tmp_path) -> None:
    props = load_broker_script()._server_properties(tmp_path, 19092, 19093)
    conf = dict(line.split("=", 1) for line in props.splitlines())
    assert conf["listeners"] == "PLAINTEXT://127.0.0.1:19092,CONTROLLER://127.0.0.1:19093"
    assert conf["controller.quorum.voters"] == "1@127.0.0.1:19093"
    assert conf["group.initial.rebalance.delay.ms"] == "0"
    assert conf["offsets.topic.replication.factor"] == "1"


def test_ports_recorded_at_the_first_start_are_kept(tmp_path) -> None:
    broker = load_broker_script()
    first = broker._ports(tmp_path)
    assert broker._ports(tmp_path) == first  # a restart listens where clients already connect


def test_a_recorded_port_held_by_another_process_is_refused_not_moved(tmp_path) -> None:
    import json
    import socket

    broker = load_broker_script()
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        port = squatter.getsockname()[1]
        (tmp_path / "ports.json").write_text(json.dumps({"port": port, "controller_port": broker._free_port()}))
        with pytest.raises(broker.BrokerError, match=rf"port\(s\) \[{port}\] recorded in .* are held by another process"):
            broker._ports(tmp_path, wait_s=0.3)
    assert json.loads((tmp_path / "ports.json").read_text())["port"] == port  # never silently changed
