"""Algorithms through the API: import a model with its manifest, promote, roll back,
retire; every change audited, every model-updates event through the outbox."""
from __future__ import annotations

import base64

import numpy as np
import pytest
import yaml
from fastapi.testclient import TestClient

from catalog import AlgorithmSpec, ArtifactStore, Catalog, Stage, linear_head_onnx
from tests.catalog.helpers import image_classifier_onnx
from tests.catalog.test_manifest import ALG as IMPORTED, BASE
from warehouse.api import Services, create_app
from warehouse.bus import SqliteBus
from warehouse.ops import OpsStore

ALG = "scene.road.fallen_tree"


@pytest.fixture()
def api(tmp_path):
    store = ArtifactStore(tmp_path / "artifacts")
    cat = Catalog.open(f"sqlite:///{tmp_path / 'cat.db'}", store=store)
    cat.register_algorithm(AlgorithmSpec(id=ALG, name="Fallen tree", event_types=("fallen_tree",), scene_tags=("road",), labels=("fallen_tree",)))
    sha = store.put_bytes(linear_head_onnx(np.zeros((4, 1), np.float32), np.zeros(1, np.float32), labels=["fallen_tree"]), suffix=".onnx")
    cat.add_version(ALG, artifact_sha256=sha, metrics={"precision": 0.7}, stage=Stage.PRODUCTION)
    cat.add_version(ALG, artifact_sha256=sha, metrics={"precision": 0.8})
    ops = OpsStore(f"sqlite:///{tmp_path / 'ops.db'}")
    bus = SqliteBus(tmp_path / "bus.db")
    keys = {r: ops.create_api_key(role=r, name=f"{r}-1")[1] for r in ("operator", "admin")}
    client = TestClient(create_app(Services(ops=ops, bus=bus, catalog=cat)))
    yield client, cat, ops, bus, keys
    bus.close()
    cat.close()


def test_promote_rollback_retire_are_audited_and_announced(api):
    client, cat, ops, bus, keys = api
    admin = {"X-API-Key": keys["admin"]}
    assert client.post(f"/algorithms/{ALG}/versions/2/promote", json={}, headers={"X-API-Key": keys["operator"]}).status_code == 403
    r = client.post(f"/algorithms/{ALG}/versions/2/promote", json={"reason": "better precision"}, headers=admin)
    assert r.status_code == 200, r.text
    assert cat.production_version(ALG).number == 2
    r = client.post(f"/algorithms/{ALG}/rollback", json={"reason": "operators reject more"}, headers=admin)
    assert r.status_code == 200 and cat.production_version(ALG).number == 1
    assert client.post(f"/algorithms/{ALG}/versions/1/retire", json={}, headers=admin).status_code == 200
    events = [x.value for x in bus.consumer("model-updates", group="t").poll(timeout_s=0.5)]
    assert [(e["action"], e["version"]) for e in events] == [("promoted", 2), ("rolled_back", 1), ("retired", 1)]
    assert [e.action for e in ops.list_audit(action="algorithm.*")] == ["algorithm.retire", "algorithm.rollback", "algorithm.promote"]
    detail = client.get(f"/algorithms/{ALG}", headers=admin).json()
    assert [v["stage"] for v in detail["versions"]] == ["retired", "retired"]


def test_promotion_survives_a_bus_outage(api, tmp_path):
    client, cat, ops, bus, keys = api
    bus.close()  # the bus goes away: the catalog write stands, the event waits in the outbox
    r = client.post(f"/algorithms/{ALG}/versions/2/promote", json={}, headers={"X-API-Key": keys["admin"]})
    assert r.status_code == 200 and cat.production_version(ALG).number == 2
    assert ops.outbox_stats()["pending"] == 1


def test_import_a_model_with_its_manifest(api):
    client, cat, ops, _, keys = api
    admin = {"X-API-Key": keys["admin"]}
    body = {"manifest_yaml": yaml.safe_dump(BASE), "artifact_b64": base64.b64encode(image_classifier_onnx()).decode()}
    r = client.post("/algorithms/import", json=body, headers=admin)
    assert r.status_code == 201, r.text
    assert (r.json()["algorithm_id"], r.json()["number"]) == (IMPORTED, 1)
    assert ops.list_audit(action="algorithm.import")[0].target == f"{IMPORTED}@v1"
    evil = {**body, "manifest_yaml": yaml.safe_dump({**BASE, "version": {**BASE["version"], "artifact": "../../etc/passwd"}})}
    r = client.post("/algorithms/import", json=evil, headers=admin)
    assert r.status_code == 422 and "plain file name" in r.json()["detail"]
    broken = {**body, "artifact_b64": base64.b64encode(b"not onnx").decode()}
    r = client.post("/algorithms/import", json=broken, headers=admin)
    assert r.status_code == 422 and len(cat.versions(IMPORTED)) == 1  # refused, nothing written


def test_camera_assignments_explain_what_runs(tmp_path):
    from knowledge_graph import CityGraph
    from warehouse.ops import CameraRecord

    store = ArtifactStore(tmp_path / "artifacts")
    cat = Catalog.open(f"sqlite:///{tmp_path / 'cat.db'}", store=store)
    cat.register_algorithm(AlgorithmSpec(id=ALG, name="Fallen tree", event_types=("fallen_tree",), scene_tags=("road",), labels=("fallen_tree",)))
    sha = store.put_bytes(linear_head_onnx(np.zeros((4, 1), np.float32), np.zeros(1, np.float32), labels=["fallen_tree"]), suffix=".onnx")
    cat.add_version(ALG, artifact_sha256=sha, stage=Stage.PRODUCTION)
    graph = CityGraph.from_catalog(cat)
    ops = OpsStore("sqlite://")
    ops.add_camera(CameraRecord("cam-1", "downtown", "synthetic://road"))
    ops.add_camera(CameraRecord("cam-2", "downtown", "synthetic://road"))
    graph.add_camera("cam-1", "downtown", {"road": 0.9})
    key = {"X-API-Key": ops.create_api_key(role="viewer", name="v")[1]}
    client = TestClient(create_app(Services(ops=ops, bus=None, catalog=cat, graph=graph)))
    body = client.get("/cameras/cam-1/assignments", headers=key).json()
    [choice] = [c for c in body["choices"] if c["algorithm_id"] == ALG]
    assert "fallen_tree" in choice["why"] and choice["paths"][0][0] == "camera:cam-1" and body["running"] is None
    assert client.get("/cameras/cam-2/assignments", headers=key).json()["choices"] == []  # not in the graph yet
    assert client.get("/cameras/cam-9/assignments", headers=key).status_code == 404
    cat.close()
