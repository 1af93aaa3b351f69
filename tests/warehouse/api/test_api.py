"""Operations API: roles, cameras, alerts, feedback onto the real embedded bus, misses."""
from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient

from warehouse.api import Services, create_app
from warehouse.bus import SqliteBus
from warehouse.ops_store import OpsStore


@pytest.fixture()
def env(tmp_path):
    ops = OpsStore(f"sqlite:///{tmp_path / 'ops.db'}")
    bus = SqliteBus(tmp_path / "bus.db")
    keys = {role: ops.create_api_key(role=role, name=f"{role}-1")[1] for role in ("viewer", "operator", "admin")}
    client = TestClient(create_app(Services(ops=ops, bus=bus)))
    yield client, ops, bus, keys
    bus.close()


def _alert(i: int = 1, camera: str = "cam-1") -> dict:
    return {"alert_id": f"al-{i}", "camera_id": camera, "algorithm_id": "scene.road.fire", "ts_ms": 1000 + i,
            "model_version": 1, "score": 0.9, "frame_ref": f"cam-1:{i}"}


@pytest.mark.parametrize(
    "role, method, path, body, expected",
    [
        (None, "get", "/cameras", None, 401),  # no key at all
        ("viewer", "post", "/cameras", {"camera_id": "c1", "region": "r", "stream_url": "x"}, 403),  # viewer cannot register
        ("operator", "post", "/cameras", {"camera_id": "c1", "region": "r", "stream_url": "x"}, 403),  # nor an operator
        ("admin", "post", "/cameras", {"camera_id": "c1", "region": "r", "stream_url": "x"}, 201),  # admin can
        ("viewer", "get", "/cameras", None, 200),  # anyone with a key can read
        ("viewer", "post", "/keys", {"role": "admin", "name": "x"}, 403),  # only admins mint keys
        ("admin", "post", "/cameras", {"camera_id": "../etc", "region": "r", "stream_url": "x"}, 422),  # path-like id refused
    ],
)
def test_roles_and_validation(env, role, method, path, body, expected):
    client, _, _, keys = env
    headers = {"X-API-Key": keys[role]} if role else {}
    r = getattr(client, method)(path, headers=headers, **({"json": body} if body is not None else {}))
    assert r.status_code == expected, r.text


def test_wrong_key_is_refused_and_keys_are_stored_hashed(env, tmp_path):
    client, ops, _, keys = env
    assert client.get("/cameras", headers={"X-API-Key": "not-a-key"}).status_code == 401
    raw = keys["admin"]
    with ops.engine.connect() as c:
        dump = json.dumps([list(map(str, r)) for r in c.exec_driver_sql("select * from ops_api_keys")])
    assert raw not in dump


def test_unknown_camera_is_404_naming_it(env):
    client, _, _, keys = env
    r = client.get("/cameras/nope-7", headers={"X-API-Key": keys["viewer"]})
    assert r.status_code == 404 and "nope-7" in r.json()["detail"] and "Register" in r.json()["detail"]


def test_rejection_goes_on_feedback_topic_keyed_by_algorithm(env):
    client, ops, bus, keys = env
    ops.ingest_alert(_alert(1))
    r = client.post("/alerts/al-1/feedback", json={"verdict": "reject", "note": "a shadow"}, headers={"X-API-Key": keys["operator"]})
    assert r.status_code == 201, r.text
    recs = bus.consumer("feedback", group="t").poll(timeout_s=0.5)
    assert [(x.key, x.value["verdict"], x.value["alert_id"]) for x in recs] == [("scene.road.fire", "reject", "al-1")]
    assert ops.get_alert("al-1")["status"] == "rejected"


@pytest.mark.parametrize(
    "body, expected, needle",
    [
        ({"verdict": "maybe"}, 422, "verdict"),  # not a verdict
        ({"verdict": "reject"}, 404, "al-404"),  # alert unknown
    ],
)
def test_bad_feedback(env, body, expected, needle):
    client, _, bus, keys = env
    r = client.post("/alerts/al-404/feedback", json=body, headers={"X-API-Key": keys["operator"]})
    assert r.status_code == expected and needle in r.text
    assert bus.consumer("feedback", group="t").poll(timeout_s=0.2) == []  # nothing half-published


@pytest.mark.parametrize(
    "camera, event, expected",
    [
        ("cam-1", "illegal_parking", 201),  # a valid report
        ("cam-9", "illegal_parking", 404),  # unknown camera
        ("cam-1", "illegal_parkin", 422),  # typo in the event type: refused, with a suggestion
    ],
)
def test_report_miss(env, camera, event, expected):
    client, ops, bus, keys = env
    from warehouse.ops_store import CameraRecord

    ops.add_camera(CameraRecord("cam-1", "harbour", "synthetic://road"))
    r = client.post("/misses", json={"camera_id": camera, "event_type": event, "ts_ms": 5},
                    headers={"X-API-Key": keys["operator"]})
    assert r.status_code == expected, r.text
    recs = bus.consumer("miss-events", group="t").poll(timeout_s=0.3)
    assert len(recs) == (1 if expected == 201 else 0)
    if expected == 422:
        assert "did you mean illegal_parking" in r.text


def test_alert_listing_filters(env):
    client, ops, _, keys = env
    for i in range(3):
        ops.ingest_alert(_alert(i, camera="cam-a" if i < 2 else "cam-b"))
    assert ops.ingest_alert(_alert(0, camera="cam-a")) is False  # idempotent re-ingest
    r = client.get("/alerts", params={"camera_id": "cam-a"}, headers={"X-API-Key": keys["viewer"]})
    assert sorted(a["alert_id"] for a in r.json()) == ["al-0", "al-1"]


def test_algorithms_route_reads_the_catalog(tmp_path):
    import numpy as np

    from catalog import AlgorithmSpec, ArtifactStore, Catalog, Stage, linear_head_onnx

    store = ArtifactStore(tmp_path / "artifacts")
    cat = Catalog.open(f"sqlite:///{tmp_path / 'cat.db'}", store=store)
    cat.register_algorithm(AlgorithmSpec(id="scene.road.fire", name="Fire", event_types=("fire",), scene_tags=("road",), labels=("fire",)))
    sha = store.put_bytes(linear_head_onnx(np.zeros((4, 1), np.float32), np.zeros(1, np.float32), labels=["fire"]), suffix=".onnx")
    cat.add_version("scene.road.fire", artifact_sha256=sha, metrics={"f1": 0.91}, stage=Stage.PRODUCTION)
    ops = OpsStore("sqlite://")
    raw = ops.create_api_key(role="viewer", name="v")[1]
    client = TestClient(create_app(Services(ops=ops, bus=None, catalog=cat)))
    [a] = client.get("/algorithms", params={"scene": "road"}, headers={"X-API-Key": raw}).json()
    assert (a["id"], a["production_version"], a["metrics"]["f1"]) == ("scene.road.fire", 1, 0.91)
    r = client.get("/algorithms/scene.road.fyre", headers={"X-API-Key": raw})
    assert r.status_code == 404 and "scene.road.fire" in r.json()["detail"]  # close ids suggested
