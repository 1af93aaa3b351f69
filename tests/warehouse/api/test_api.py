"""Operations API: roles, cameras, alerts, feedback onto the real embedded bus, misses."""
from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient

from tests.warehouse.api.conftest import alert as _alert
from warehouse.api import Services, create_app
from warehouse.ops import CameraRecord, OpsStore

CAM = {"camera_id": "c1", "region": "r", "stream_url": "synthetic://road"}


@pytest.mark.parametrize(
    "role, method, path, body, expected",
    [
        (None, "get", "/cameras", None, 401),  # no key at all
        ("viewer", "post", "/cameras", CAM, 403),  # viewer cannot register
        ("operator", "post", "/cameras", CAM, 403),  # nor an operator
        ("admin", "post", "/cameras", CAM, 201),  # admin can
        ("viewer", "get", "/cameras", None, 200),  # anyone with a key can read
        ("viewer", "post", "/keys", {"role": "admin", "name": "x"}, 403),  # only admins mint keys
        ("operator", "get", "/audit", None, 403),  # only admins read the audit log
        ("admin", "post", "/cameras", {**CAM, "camera_id": "../etc"}, 422),  # path-like id refused
        ("admin", "post", "/cameras", {**CAM, "extra": 1}, 422),  # unknown field refused
    ],
)
def test_roles_and_validation(env, role, method, path, body, expected):
    client, _, _, keys = env
    headers = {"X-API-Key": keys[role]} if role else {}
    r = getattr(client, method)(path, headers=headers, **({"json": body} if body is not None else {}))
    assert r.status_code == expected, r.text
    if expected >= 400:
        assert set(r.json()) >= {"detail", "error", "field", "errors"}  # the documented error body


def test_wrong_key_is_refused_and_keys_are_stored_hashed(env):
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


def test_feedback_is_idempotent_per_operator(env):
    client, ops, bus, keys = env
    ops.ingest_alert(_alert(1))
    h = {"X-API-Key": keys["operator"]}
    first = client.post("/alerts/al-1/feedback", json={"verdict": "reject"}, headers=h)
    again = client.post("/alerts/al-1/feedback", json={"verdict": "reject"}, headers=h)
    flip = client.post("/alerts/al-1/feedback", json={"verdict": "confirm"}, headers=h)
    assert (first.status_code, again.status_code, flip.status_code) == (201, 200, 409)
    assert again.json()["event_id"] == first.json()["event_id"] and again.json()["created"] is False
    assert "already" in flip.json()["detail"]
    assert len(bus.consumer("feedback", group="t").poll(timeout_s=0.5)) == 1  # one event, so one miss downstream


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


TS = 1_700_000_000_000


@pytest.mark.parametrize(
    "body, expected, needle",
    [
        ({"camera_id": "cam-1", "event_type": "illegal_parking", "ts_ms": TS}, 201, None),  # a valid report
        ({"camera_id": "cam-9", "event_type": "illegal_parking", "ts_ms": TS}, 404, "cam-9"),  # unknown camera
        ({"camera_id": "cam-1", "event_type": "illegal_parkin", "ts_ms": TS}, 422, "did you mean illegal_parking"),  # typo
        ({"camera_id": "cam-1", "event_type": "illegal_parking", "ts_ms": True}, 422, "body.ts_ms"),  # a boolean is not a time
        ({"camera_id": "cam-1", "event_type": "illegal_parking", "ts_ms": 5}, 422, "body.ts_ms"),  # 1970: out of range
        ({"camera_id": "cam-1", "event_type": "illegal_parking", "ts_ms": TS, "algorithm_id": "../../etc/passwd"}, 422, "algorithm_id"),
    ],
)
def test_report_miss(env, body, expected, needle):
    client, ops, bus, keys = env
    ops.add_camera(CameraRecord("cam-1", "harbour", "synthetic://road"))
    r = client.post("/misses", json=body, headers={"X-API-Key": keys["operator"]})
    assert r.status_code == expected, r.text
    recs = bus.consumer("miss-events", group="t").poll(timeout_s=0.3)
    assert len(recs) == (1 if expected == 201 else 0)
    if needle:
        assert needle in r.text


def test_same_miss_report_twice_is_one_event(env):
    client, ops, bus, keys = env
    ops.add_camera(CameraRecord("cam-1", "harbour", "synthetic://road"))
    body = {"camera_id": "cam-1", "event_type": "illegal_parking", "ts_ms": TS}
    codes = [client.post("/misses", json=body, headers={"X-API-Key": keys["operator"]}).status_code for _ in range(2)]
    assert codes == [201, 200]
    assert len(bus.consumer("miss-events", group="t").poll(timeout_s=0.3)) == 1


def test_alert_listing_filters_and_cursor(env):
    client, ops, _, keys = env
    ops.add_camera(CameraRecord("cam-a", "north", "synthetic://road"))
    ops.add_camera(CameraRecord("cam-b", "south", "synthetic://road"))
    for i in range(7):
        ops.ingest_alert(_alert(i, camera="cam-a" if i < 5 else "cam-b", algorithm="scene.road.fire" if i % 2 else "scene.road.smoke"))
    assert ops.ingest_alert(_alert(0, camera="cam-a")) is False  # idempotent re-ingest
    h = {"X-API-Key": keys["viewer"]}
    assert sorted(a["alert_id"] for a in client.get("/alerts", params={"region": "south"}, headers=h).json()) == ["al-5", "al-6"]
    r = client.get("/alerts", params={"camera_id": "cam-a", "algorithm_id": "scene.road.fire"}, headers=h)
    assert [a["alert_id"] for a in r.json()] == ["al-3", "al-1"]  # newest first
    seen, cursor = [], None
    while True:
        r = client.get("/alerts", params={"limit": 3, **({"cursor": cursor} if cursor else {})}, headers=h)
        seen += [a["alert_id"] for a in r.json()]
        cursor = r.headers.get("X-Next-Cursor")
        if not cursor:
            break
    assert seen == [f"al-{i}" for i in range(6, -1, -1)]  # every alert once, in order, across pages
    r = client.get("/alerts", params={"since_ms": TS + 2, "until_ms": TS + 4}, headers=h)
    assert [a["alert_id"] for a in r.json()] == ["al-3", "al-2"]
    assert client.get("/alerts", params={"cursor": "!!"}, headers=h).status_code == 422


def test_lineage_version_out_of_range_is_422_not_500(env):
    client, _, _, keys = env
    r = client.get(f"/algorithms/scene.road.fire/versions/{2**63}/lineage", headers={"X-API-Key": keys["viewer"]})
    assert r.status_code == 422 and r.json()["field"] == "path.number"


def test_oversized_body_is_413(env):
    client, _, _, keys = env
    r = client.post("/cameras", content=b'{"x": "' + b"a" * 2_000_000 + b'"}', headers={"X-API-Key": keys["admin"], "Content-Type": "application/json"})
    assert r.status_code == 413 and r.json()["error"] == "PayloadTooLarge"


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
