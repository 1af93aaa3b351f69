"""``warehouse catalog ...`` through Typer's CliRunner, on SQLite and PostgreSQL."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from catalog import ArtifactStore, Catalog, Stage
from tests.catalog.helpers import head_bytes, image_classifier_onnx, make_spec
from tests.catalog.test_manifest import BASE, write_manifest
from warehouse.cli import app as root_app
from warehouse.cli.catalog_cmd import app

runner = CliRunner()


@pytest.fixture
def env(catalog_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """Settings come from WAREHOUSE_* variables: point them at the test's database and store."""
    monkeypatch.setenv("WAREHOUSE_CATALOG_URL", catalog_url)
    monkeypatch.setenv("WAREHOUSE_ARTIFACT_URL", str(tmp_path / "artifacts"))
    monkeypatch.setenv("WAREHOUSE_HOME", str(tmp_path / "home"))
    return {"url": catalog_url, "artifacts": str(tmp_path / "artifacts")}


def _seed(env: dict[str, str]) -> None:
    store = ArtifactStore(env["artifacts"])
    with Catalog.open(env["url"], store=store) as cat:
        cat.register_algorithm(make_spec("seafront.person_in_water"))
        cat.register_algorithm(make_spec("road.smoke", event_types=("smoke",), scene_tags=("road",), labels=("smoke",)))
        for seed, f1 in ((1, 0.6), (2, 0.75)):
            cat.add_version("seafront.person_in_water", artifact_sha256=store.put_bytes(head_bytes(seed)), metrics={"f1": f1})
        cat.promote("seafront.person_in_water", 2, to=Stage.PRODUCTION)


def run(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_list_json(env: dict[str, str]) -> None:
    _seed(env)
    code, out, _ = run("list", "--json")
    assert code == 0
    rows = {r["id"]: r for r in json.loads(out)}
    assert list(rows) == ["road.smoke", "seafront.person_in_water"]
    p = rows["seafront.person_in_water"]
    assert (p["production_version"], p["metrics"]["f1"], p["scene_tags"], p["kind"]) == (2, 0.75, ["seafront"], "classification_head")
    assert (rows["road.smoke"]["production_version"], rows["road.smoke"]["metrics"]) == (None, {})
    code, out, _ = run("list", "--json", "--scene", "road")
    assert [r["id"] for r in json.loads(out)] == ["road.smoke"]


def test_list_table_and_explicit_options(env: dict[str, str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    _seed(env)
    monkeypatch.delenv("WAREHOUSE_CATALOG_URL")
    code, out, _ = run("list", "--catalog-url", env["url"])
    assert code == 0 and "seafront.person_in_water" in out and "0.750" in out
    # --home alone: an empty SQLite catalog under that folder
    monkeypatch.delenv("WAREHOUSE_ARTIFACT_URL")
    code, out, _ = run("list", "--json", "--home", str(tmp_path / "fresh"))
    assert (code, json.loads(out)) == (0, [])
    assert (tmp_path / "fresh" / "catalog.db").exists()


def test_show_promote_retire_json(env: dict[str, str]) -> None:
    _seed(env)
    code, out, _ = run("show", "seafront.person_in_water", "--json", "--version", "2")
    shown = json.loads(out)
    assert code == 0 and shown["production_version"] == 2 and [v["number"] for v in shown["versions"]] == [1, 2]
    assert shown["algorithm"]["labels"] == ["person_in_water"] and shown["lineage"]["version"]["number"] == 2
    code, out, _ = run("promote", "seafront.person_in_water", "1", "--to", "production", "--json")
    assert code == 0 and json.loads(out)["stage"] == "production"
    code, out, _ = run("retire", "seafront.person_in_water", "1", "--json")
    assert code == 0 and json.loads(out)["stage"] == "retired"
    code, out, _ = run("list", "--json")
    assert {r["id"]: r["production_version"] for r in json.loads(out)}["seafront.person_in_water"] is None


def test_import_json(env: dict[str, str], tmp_path: Path) -> None:
    path = write_manifest(tmp_path / "boats", BASE, image_classifier_onnx())
    code, out, err = run("import", str(path), "--json")
    assert code == 0, err
    assert (json.loads(out)["algorithm_id"], json.loads(out)["number"]) == (BASE["id"], 1)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["show", "seafront.person_in_watr"], "did you mean seafront.person_in_water"),  # unknown id
        (["promote", "seafront.person_in_water", "9"], "has no version 9"),  # unknown version
        (["promote", "seafront.person_in_water", "1", "--to", "live"], "unknown stage 'live'"),  # bad stage
        (["promote", "seafront.person_in_water", "2", "--to", "canary"], "from production to canary"),  # forbidden move
        (["list", "--scene", "sea"], "unknown scene 'sea'"),  # taxonomy typo
        (["import", "/nonexistent/manifest.yaml"], "does not exist"),  # missing manifest
        (["list", "--catalog-url", "mysql://x/y"], "supports sqlite and postgresql"),  # unsupported backend
    ],
)
def test_errors_exit_2_with_message_and_no_traceback(env: dict[str, str], args: list[str], message: str) -> None:
    _seed(env)
    code, out, err = run(*args)
    assert code == 2
    assert message in err and err.startswith("error: ")
    assert "Traceback" not in err + out


def test_mounted_under_warehouse_root_cli(env: dict[str, str]) -> None:
    result = runner.invoke(root_app, ["catalog", "list", "--json"])
    assert result.exit_code == 0 and json.loads(result.stdout) == []
