"""warehouse schedule plan / check / bound on files (Typer's CliRunner)."""
from __future__ import annotations

import json

from typer.testing import CliRunner

from scheduler import generate
from warehouse.cli import app

runner = CliRunner()


def test_plan_check_bound(tmp_path):
    inst = tmp_path / "i.json"
    inst.write_text(json.dumps(generate("pinned", n_cameras=60, seed=1).to_json()))
    out = tmp_path / "p.json"
    res = runner.invoke(app, ["schedule", "plan", str(inst), "--out", str(out), "--json"])
    assert res.exit_code == 0, res.output
    doc = json.loads(res.output)
    assert doc["format"] == "warehouse.plan/1" and json.loads(out.read_text()) == doc
    res = runner.invoke(app, ["schedule", "check", str(inst), str(out), "--json"])
    assert res.exit_code == 0 and json.loads(res.output)["ok"] is True
    res = runner.invoke(app, ["schedule", "bound", str(inst), "--json"])
    assert res.exit_code == 0 and json.loads(res.output)["lp_bound"] >= doc["objective"] - 1e-6
    res = runner.invoke(app, ["schedule", "plan", str(inst), "--previous", str(out)])
    assert res.exit_code == 0 and "0 migrations" in res.output


def test_check_exits_1_and_lists_violations(tmp_path):
    inst = tmp_path / "i.json"
    inst.write_text(json.dumps(generate("uniform", n_cameras=30, seed=1).to_json()))
    out = tmp_path / "p.json"
    assert runner.invoke(app, ["schedule", "plan", str(inst), "--out", str(out)]).exit_code == 0
    doc = json.loads(out.read_text())
    doc["cameras"][0]["fps"] = 1e6
    doc["objective"] += 1
    out.write_text(json.dumps(doc))
    res = runner.invoke(app, ["schedule", "check", str(inst), str(out)])
    assert res.exit_code == 1
    assert "INVALID" in res.output and "[camera_fps]" in res.output and "[objective]" in res.output


def test_bad_files_are_one_line_exit_2(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text('{"format": "warehouse.schedule/1", "workers": [')
    res = runner.invoke(app, ["schedule", "plan", str(bad)])
    assert res.exit_code == 2 and "not valid JSON" in res.output and "Traceback" not in res.output
    bad.write_text(json.dumps({"format": "warehouse.schedule/9"}))
    res = runner.invoke(app, ["schedule", "bound", str(bad)])
    assert res.exit_code == 2 and "expected 'warehouse.schedule/1'" in res.output
