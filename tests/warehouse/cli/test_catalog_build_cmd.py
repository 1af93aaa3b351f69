"""`warehouse catalog build` fills a catalog with trained heads and the real detectors."""
from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from catalog import load_taxonomy
from warehouse.cli import app

pytestmark = pytest.mark.slow


def test_build_one_scene_then_list(tmp_path, backbone_cache, monkeypatch):
    monkeypatch.setenv("WAREHOUSE_CACHE_DIR", str(backbone_cache))
    home = tmp_path / "home"
    r = CliRunner().invoke(app, ["catalog", "build", "--home", str(home), "--scene", "building_lobby",
                                 "--per-event", "8", "--n-empty", "8", "--json"])
    assert r.exit_code == 0, r.output
    summary = json.loads(r.stdout[r.stdout.index("{"):])
    lobby_pairs = sum(1 for s, _ in load_taxonomy().scene_event_pairs() if s == "building_lobby")
    assert summary["algorithms"] == lobby_pairs and summary["real_algorithms"] >= 6
    assert summary["total_algorithms"] == lobby_pairs + summary["real_algorithms"]
    r = CliRunner().invoke(app, ["catalog", "list", "--home", str(home), "--json"])
    listed = {a["id"]: a for a in json.loads(r.stdout)}
    heads = [a for a in listed.values() if a["kind"] == "classification_head"]
    assert len(heads) == lobby_pairs and all("f1" in (a["metrics"] or {}) for a in heads if a["production_version"])
    assert "ocr.text_ppocr" in listed and listed["ocr.text_ppocr"]["production_version"] == 1


def test_build_refuses_unknown_scene_before_any_work(tmp_path):
    r = CliRunner().invoke(app, ["catalog", "build", "--home", str(tmp_path / "h"), "--scene", "seafrnt"])
    assert r.exit_code == 2 and "seafrnt" in r.output and "seafront" in r.output
    assert not (tmp_path / "h" / "catalog.db").exists()


def test_built_heads_carry_measured_cost_profiles(tmp_path, backbone_cache, monkeypatch):
    from catalog import ArtifactStore, Catalog

    monkeypatch.setenv("WAREHOUSE_CACHE_DIR", str(backbone_cache))
    home = tmp_path / "home"
    r = CliRunner().invoke(app, ["catalog", "build", "--home", str(home), "--scene", "tunnel", "--per-event", "8",
                                 "--n-empty", "8", "--no-real"])
    assert r.exit_code == 0, r.output
    with Catalog.open(f"sqlite:///{home / 'catalog.db'}", store=ArtifactStore(home / "artifacts")) as cat:
        profiles = [cat.versions(a.id)[-1].cost_profile for a in cat.list_algorithms()]
    assert profiles and all(p is not None and p.latency_ms_per_frame > 0 and set(p.latency_ms_per_batch) == {1, 8, 32}
                            for p in profiles)
