"""The walking skeleton end to end: frame → alert → rejection → miss event → candidate version.

Runs the real demo (real ONNX Runtime backbone, real Ray, the real embedded bus or a real
Kafka broker) and checks the loop closed, with lineage back to the miss.
"""
from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest
from typer.testing import CliRunner

from warehouse.cli import app
from warehouse.demo import ALGORITHM_ID, DemoOptions, run_demo

pytestmark = [pytest.mark.slow, pytest.mark.ray]


def _check_report(report: dict) -> None:
    assert report["alerts"] >= 1
    assert report["rejected"] + report["reported_misses"] >= 1
    assert report["miss_events"] >= 1
    assert report["runtime"]["gated_out"] > 0  # the change gate skipped static frames
    [v2] = report["new_versions"]
    assert v2["algorithm_id"] == ALGORITHM_ID and v2["version"] == 2
    lin = v2["lineage"]
    ds = lin["training_run"]["dataset_version"]
    assert ds["mining_job"]["miss_event_ids"], "lineage must reach the miss events"
    assert ds["parent"] is not None, "the new dataset version extends v1's"
    assert lin["version"]["parent_version"] == 1


def test_demo_on_embedded_bus(tmp_path, backbone_cache):
    report = run_demo(DemoOptions(home=tmp_path / "demo", cache_dir=backbone_cache))
    _check_report(report)


@pytest.mark.kafka
def test_demo_over_real_kafka(tmp_path, backbone_cache, kafka_bootstrap):
    report = run_demo(DemoOptions(home=tmp_path / "demo", cache_dir=backbone_cache, kafka=kafka_bootstrap))
    assert report["bus"].startswith("kafka://")
    _check_report(report)


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize(
    "args, needle",
    [
        (["--kafka", f"127.0.0.1:{_closed_port()}"], "127.0.0.1:"),  # nothing listens there: fail fast naming it
        (["--video", "/nonexistent/cam.avi"], "/nonexistent/cam.avi"),  # missing video: named, with the fix
    ],
)
def test_demo_bad_input_fails_fast_and_writes_nothing(tmp_path, args, needle, backbone_cache, monkeypatch):
    monkeypatch.setenv("WAREHOUSE_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("WAREHOUSE_CACHE_DIR", str(backbone_cache))
    result = CliRunner().invoke(app, ["demo", "--home", str(tmp_path / "demo"), *args])
    assert result.exit_code == 2, result.output
    assert needle in result.output
    assert not (tmp_path / "demo" / "catalog.db").exists()  # nothing half-written
