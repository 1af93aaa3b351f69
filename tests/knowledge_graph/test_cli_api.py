"""`warehouse graph ...` and `GET /graph/cameras/{id}/explain` over the same CityGraph."""
from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from knowledge_graph import CityGraph
from warehouse.cli import app as cli_app

runner = CliRunner()


def _cli(home, *args):
    return runner.invoke(cli_app, ["graph", *args, "--home", str(home)])


def test_cli_register_explain_feedback_undo(home_with_catalog):
    tmp_path = home_with_catalog
    r = _cli(tmp_path, "add-camera", "cam-7", "--region", "coast", "--scene", "seafront=0.9", "--scene", "road=0.3")
    assert r.exit_code == 0, r.output
    r = _cli(tmp_path, "explain", "cam-7", "--at", "2024-05-01T23:00", "--json")
    assert r.exit_code == 0, r.output
    report = json.loads(r.stdout)
    ids = [c["algorithm_id"] for c in report["choices"]]
    assert "scene.seafront.person_in_water" in ids and not any("parking" in a for a in ids)
    r = _cli(tmp_path, "miss", "cam-7", "illegal_parking", "m-1", "--json")
    change = json.loads(r.stdout)
    assert change["kind"] == "miss_added"
    # the journal under --home carried the change to the next process
    text = _cli(tmp_path, "explain", "cam-7", "--at", "2024-05-01T12:00").stdout
    assert "miss:m-1" in text and "camera cam-7 in region coast" in text
    assert _cli(tmp_path, "undo", change["change_id"]).exit_code == 0
    assert "miss:m-1" not in _cli(tmp_path, "explain", "cam-7", "--at", "2024-05-01T12:00").stdout
    assert len(_cli(tmp_path, "changes", "--camera", "cam-7", "--json").stdout.strip().splitlines()) == 3


def test_cli_zones_select_track_algorithms_and_cascades_are_shown(home_with_catalog):
    r = _cli(home_with_catalog, "add-camera", "road-1", "--region", "suburbs", "--scene", "road=0.9", "--zone", "no_parking")
    assert r.exit_code == 0, r.output
    report = json.loads(_cli(home_with_catalog, "explain", "road-1", "--at", "2024-05-01T12:00", "--json").stdout)
    by_id = {c["algorithm_id"]: c for c in report["choices"]}
    assert report["camera"]["hints"]["zones"] == ["no_parking"]
    assert by_id["track.illegal_parking"]["cascaded"] and by_id["ocr.text_ppocr"]["cascaded"]
    assert by_id["track.illegal_parking"]["explanation"]["triggered_by"] == ["scene.road.illegal_parking"]
    r = _cli(home_with_catalog, "set-zones", "road-1", "--zone", "lane", "--json")  # edited in place, journaled
    assert r.exit_code == 0 and json.loads(r.stdout)["kind"] == "camera_registered", r.output
    after = json.loads(_cli(home_with_catalog, "explain", "road-1", "--at", "2024-05-01T12:00", "--json").stdout)
    ids = {c["algorithm_id"] for c in after["choices"]}
    assert "track.wrong_way" in ids and "track.illegal_parking" not in ids
    bad = _cli(home_with_catalog, "add-camera", "road-2", "--region", "suburbs", "--scene", "road=0.9", "--zone", "lawn")
    assert bad.exit_code == 2 and "zone kinds ['lawn']" in bad.output


@pytest.mark.parametrize(
    "args, needle",
    [
        (["explain", "ghost"], "unknown camera 'ghost'"),  # unknown camera, with how to register
        (["add-camera", "c", "--region", "atlantis", "--scene", "road=1"], "unknown region 'atlantis'"),  # bad region
        (["add-camera", "c", "--region", "city", "--scene", "road=high"], "is not a number"),  # bad confidence
        (["explain", "ghost", "--at", "tonight"], "not an ISO time"),  # bad time (camera checked after)
    ],
)
def test_cli_errors_exit_2_with_one_line(home_with_catalog, args, needle):
    r = _cli(home_with_catalog, *args)
    assert r.exit_code == 2 and needle in r.output


def test_cli_validate_reports_the_catalogs_gaps(home_with_catalog):
    r = _cli(home_with_catalog, "validate")
    assert r.exit_code == 0 and "64 event types" in r.output
    # the home's catalog holds only road and seafront heads: park-only events are gaps
    assert "event type 'fallen_tree'" not in r.output  # a road event: covered
    assert "no algorithm with a production version detects it" in r.output


def test_cli_remove_camera_and_undo(home_with_catalog):
    home = home_with_catalog
    assert _cli(home, "add-camera", "c1", "--region", "downtown", "--scene", "road=0.9").exit_code == 0
    r = _cli(home, "remove-camera", "c1", "--json")
    assert r.exit_code == 0, r.output
    change = json.loads(r.stdout)
    assert change["kind"] == "camera_removed"
    assert "unknown camera 'c1'" in _cli(home, "explain", "c1").output
    assert _cli(home, "undo", change["change_id"]).exit_code == 0
    assert "scene.road.illegal_parking" in _cli(home, "explain", "c1", "--at", "2024-05-01T12:00").stdout


@pytest.fixture()
def api(tmp_path, ontology):
    from warehouse.api import Services, create_app
    from warehouse.bus import SqliteBus
    from warehouse.ops_store import OpsStore

    graph = CityGraph(ontology)
    graph.add_camera("cam-sea", region="coast", scenes={"seafront": 0.9})
    ops = OpsStore(f"sqlite:///{tmp_path / 'ops.db'}")
    bus = SqliteBus(tmp_path / "bus.db")
    key = ops.create_api_key(role="viewer", name="v")[1]
    yield TestClient(create_app(Services(ops=ops, bus=bus, graph=graph))), {"X-API-Key": key}
    bus.close()


def test_api_explain(api):
    client, headers = api
    r = client.get("/graph/cameras/cam-sea/explain", params={"at": "2024-05-01T23:00:00"}, headers=headers)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["camera"]["primary_scene"] == "seafront"
    choice = next(c for c in body["choices"] if c["algorithm_id"] == "scene.seafront.beach_closure_intrusion")
    assert choice["explanation"]["governance_task_ids"] == ["beach_closure_night"]
    assert all(p[-1] == "algorithm:" + c["algorithm_id"] for c in body["choices"] for p in c["explanation"]["paths"])


@pytest.mark.parametrize(
    "path, headers, expected",
    [
        ("/graph/cameras/ghost/explain", True, 404),  # unknown camera
        ("/graph/cameras/cam-sea/explain", False, 401),  # no key
    ],
)
def test_api_errors(api, path, headers, expected):
    client, key = api
    assert client.get(path, headers=key if headers else {}).status_code == expected
