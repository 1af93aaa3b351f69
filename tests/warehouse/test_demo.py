"""The demo end to end: a small city through the one serving path.

Runs the real demo (real ONNX Runtime backbone, a real 2-node local Ray cluster, the real
embedded bus or a real Kafka broker) and checks what the issue asks of it: cameras of four
scene types discovered from frames, relevance that gives the seafront camera no parking
algorithm with the reason, a plan over two workers, alerts from the cameras, operator
feedback that becomes miss events, a retraining round with its gate's verdict, and, when the
gate passes, the new version hot-swapped without a dropped frame.
"""
from __future__ import annotations

import socket

import pytest
from typer.testing import CliRunner

from warehouse.cli import app
from warehouse.demo import DemoOptions, run_demo

pytestmark = [pytest.mark.slow, pytest.mark.ray]


def _check_report(report: dict, n_cameras: int) -> None:
    assert report["cameras"] == report["cameras_streamed"] == n_cameras
    assert report["workers"] == 2
    scenes = {r["scene"] for r in report["relevance"].values()}
    assert scenes == {"seafront", "road", "building_lobby", "construction_site"}  # discovered from frames, no hints
    sea = [r for c, r in report["relevance"].items() if c.startswith("seafront")]
    assert sea and all(not r["runs_parking"] and r["no_parking_because"] for r in sea)
    assert all(report["algorithms_per_camera"][c] >= 1 for c in report["relevance"])
    assert report["alerts"] >= 1
    assert report["confirmed"] + report["rejected"] >= 1
    assert report["rejected"] + report["reported_misses"] >= 1
    assert report["miss_events"] >= 1 and report["retraining"], report  # the mistakes reached the retraining loop
    assert all(r["gate"] for r in report["retraining"])
    if report["promoted"]:
        assert report["swapped"] and report["dropped_frames"] == 0, report


def test_demo_on_embedded_bus(tmp_path, backbone_cache):
    report = run_demo(DemoOptions(home=tmp_path / "demo", cache_dir=backbone_cache, cameras_per_scene=1))
    _check_report(report, 4)


@pytest.mark.kafka
def test_demo_over_real_kafka_on_a_given_ray_cluster(tmp_path, backbone_cache, kafka_bootstrap):
    """``--kafka`` and ``--ray-address``: the demo joins a running 2-node cluster instead of starting one."""
    import ray
    from ray.cluster_utils import Cluster

    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1, "include_dashboard": False})
    cluster.add_node(num_cpus=1)
    cluster.wait_for_nodes()
    try:
        report = run_demo(DemoOptions(home=tmp_path / "demo", cache_dir=backbone_cache, kafka=kafka_bootstrap,
                                      ray_address=cluster.address, cameras_per_scene=1, stream_s=20.0))
    finally:
        ray.shutdown()
        cluster.shutdown()
    assert report["bus"].startswith("kafka://")
    _check_report(report, 4)


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
    assert not (tmp_path / "demo").exists()  # nothing written, not even the run folder


def test_demo_never_deletes_what_it_finds(tmp_path, backbone_cache, monkeypatch):
    home = tmp_path / "demo"
    home.mkdir()
    (home / "precious.txt").write_text("operator notes")
    monkeypatch.setenv("WAREHOUSE_CACHE_DIR", str(backbone_cache))
    result = CliRunner().invoke(app, ["demo", "--home", str(home), "--kafka", f"127.0.0.1:{_closed_port()}"])
    assert result.exit_code == 2
    assert (home / "precious.txt").read_text() == "operator notes"
