"""`warehouse camera add|list|show|remove` and `warehouse status`: the one camera record, and the loop's snapshot."""
from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from warehouse.cli import app


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("WAREHOUSE_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


def _run(*args: str):
    return CliRunner().invoke(app, list(args))


def test_camera_add_list_show_remove(home):
    r = _run("camera", "add", "cam-7", "--region", "coast", "--url", "rtsp://viewer:s3cret@10.0.0.9/live", "--scene", "seafront", "--json")
    assert r.exit_code == 0, r.output
    out = json.loads(r.output)
    assert out["created"] and out["camera"]["hints"] == {"scenes": ["seafront"]}
    assert "s3cret" not in r.output  # credentials are stored apart and never printed
    again = json.loads(_run("camera", "add", "cam-7", "--region", "coast", "--url", "rtsp://viewer:s3cret@10.0.0.9/live",
                            "--scene", "seafront", "--json").output)
    assert again["created"] is False  # the same record again changes nothing
    listed = json.loads(_run("camera", "list", "--json").output)["cameras"]
    assert [c["camera_id"] for c in listed] == ["cam-7"] and listed[0]["status"] is None  # no control plane ran
    shown = json.loads(_run("camera", "show", "cam-7", "--json").output)
    assert shown["region"] == "coast" and "s3cret" not in json.dumps(shown)
    assert _run("camera", "remove", "cam-7").exit_code == 0
    assert json.loads(_run("camera", "list", "--json").output)["cameras"] == []


@pytest.mark.parametrize("args, needle", [
    (["camera", "show", "nope"], "nope"),  # unknown camera: named
    (["camera", "add", "c1", "--region", "x", "--url", "file:///etc/passwd"], "file"),  # not an allowed stream
    (["camera", "add", "c1", "--region", "x", "--url", "synthetic://road", "--hint", "noequals"], "KEY=VALUE"),
    (["status"], "warehouse serve"),  # no loop has run here: says how to start one
])
def test_errors_are_one_line_and_exit_2(home, args, needle):
    r = _run(*args)
    assert r.exit_code == 2, r.output
    assert needle in r.output and "Traceback" not in r.output


def test_status_reads_the_snapshot_the_loop_writes(home):
    from warehouse.control.wiring import write_status

    write_status(home / "status.json", {
        "cameras": {"cam-1": {"worker": "w-1", "fps": 2.0, "health": "healthy", "algorithms": {"scene.road.smoke": "3"},
                              "running": True}},
        "workers": {"w-1": {"node": "n" * 40, "alive": True, "cameras": ["cam-1"], "planned_fps": 2.0, "memory_used_mib": 0.2,
                            "memory_budget_mib": 900.0, "models_resident": 1}},
        "plan": {"age_s": 3.0, "unserved": 0}, "last_reconcile": {"actions": ["start reader cam-1"], "failed": [], "reconcile_ms": 0.2},
    })
    st = json.loads(_run("status", "--json").output)
    assert st["cameras"]["cam-1"]["algorithms"] == {"scene.road.smoke": "3"} and st["age_s"] >= 0
    text = _run("status").output
    assert "camera cam-1: healthy on w-1" in text and "scene.road.smoke@3" in text
    assert not list(home.glob(".status.json.*.tmp"))  # the write was atomic: no temp file left
