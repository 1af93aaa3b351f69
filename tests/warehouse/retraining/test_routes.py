"""The labeling, datasets and tasks routes over a real app, real stores and a real retrain."""
from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from warehouse.api import Services, create_app
from warehouse.bus import SqliteBus
from warehouse.ops import OpsStore
from warehouse.retraining.datasets import Flywheel
from warehouse.retraining.labeling import SimulatedLabeler
from warehouse.retraining.loop import RetrainingLoop

from .conftest import ALG, EVENT


@pytest.fixture
def api(world, tmp_path):
    ops = OpsStore(f"sqlite:///{tmp_path / 'ops.db'}")
    bus = SqliteBus(tmp_path / "bus.db")
    keys = {role: ops.create_api_key(role=role, name=f"{role}-1")[1] for role in ("viewer", "operator", "admin")}
    keys["operator2"] = ops.create_api_key(role="operator", name="operator-2")[1]
    fw = Flywheel.open(f"sqlite:///{tmp_path}/fw.db", catalog=world.catalog, pool=world.pool)
    client = TestClient(create_app(Services(ops=ops, bus=bus, catalog=world.catalog, flywheel=fw)))
    yield client, fw, keys
    bus.close()


def h(keys, role):
    return {"X-API-Key": keys[role]}


def test_labeling_queue_over_the_api_with_agreement(api):
    client, fw, keys = api
    ids = fw.queue.open_tasks(ALG, EVENT, ["cam1:1", "cam1:2", "cam1:3"], job_id="j1", labels_needed=2)
    r = client.get("/labeling/tasks", params={"algorithm_id": ALG, "limit": 2}, headers=h(keys, "viewer")).json()
    assert [t["frame_ref"] for t in r["tasks"]] == ["cam1:1", "cam1:2"] and r["progress"] == {"done": 0, "total": 3}
    assert set(r["tasks"][0]) == {"task_id", "algorithm_id", "event_type", "frame_ref", "image_url", "question", "state"}
    assert client.post(f"/labeling/tasks/{ids[0]}", json={"label": 1}, headers=h(keys, "viewer")).status_code == 403
    assert client.post(f"/labeling/tasks/{ids[0]}", json={"label": 2}, headers=h(keys, "operator")).status_code == 422
    client.post(f"/labeling/tasks/{ids[0]}", json={"label": 1}, headers=h(keys, "operator")).raise_for_status()
    # the same labeler does not get it again; a second labeler does, and agrees
    mine = client.get("/labeling/tasks", headers=h(keys, "operator")).json()["tasks"]
    assert ids[0] not in [t["task_id"] for t in mine]
    done = client.post(f"/labeling/tasks/{ids[0]}", json={"label": 1}, headers=h(keys, "operator2")).json()
    assert done["task"]["state"] == "done" and done["progress"]["done"] == 1
    client.post(f"/labeling/tasks/{ids[1]}", json={"label": 1}, headers=h(keys, "operator")).raise_for_status()
    client.post(f"/labeling/tasks/{ids[1]}", json={"label": 0}, headers=h(keys, "operator2")).raise_for_status()
    assert fw.queue.get(ids[1]).state == "open"  # a tie waits for a third labeler
    client.post(f"/labeling/tasks/{ids[2]}/skip", headers=h(keys, "operator")).raise_for_status()
    assert client.get("/labeling/agreement", headers=h(keys, "viewer")).json()["rate"] == 0.5
    assert client.post("/labeling/tasks/lt-nope", json={"label": 1}, headers=h(keys, "operator")).status_code == 404
    img = client.get(f"/labeling/tasks/{ids[0]}/image", headers=h(keys, "viewer"))
    assert img.status_code == 404 and "JPEG" in img.json()["detail"]  # the synthetic world retains embeddings only


def test_datasets_and_tasks_after_a_retrain(api, world):
    client, fw, keys = api
    world.register_v1()
    loop = RetrainingLoop(algorithm_id=ALG, event_type=EVENT, catalog=world.catalog, store=world.store, pool=world.pool,
                          labeler=SimulatedLabeler(world.truth), seed=1, flywheel=fw.store, budget=30, epochs=100)
    r = loop.handle(world.misses())
    ds = client.get("/datasets", params={"algorithm_id": ALG}, headers=h(keys, "viewer")).json()["datasets"]
    assert [d["id"] for d in ds] == [r.dataset_version_id, ds[1]["id"]] and ds[0]["parent_id"] == ds[1]["id"]
    show = client.get(f"/datasets/{r.dataset_version_id}", headers=h(keys, "viewer")).json()
    assert show["mining_job"]["miss_event_ids"] == [m["event_id"] for m in world.misses()]
    assert show["labels"]["labeling_task"]["kind"] == "labeling" and show["contents"]["mistake_heldout"] > 0
    d = client.get("/datasets/diff", params={"from": ds[1]["id"], "to": r.dataset_version_id}, headers=h(keys, "viewer")).json()
    assert d["counts"]["added"] == r.labels_used and d["counts"]["removed"] == 0
    assert client.get("/datasets/ds-nope", headers=h(keys, "viewer")).status_code == 404
    tasks = client.get("/tasks", params={"kind": "training"}, headers=h(keys, "viewer")).json()["tasks"]
    assert len(tasks) == 1 and tasks[0]["state"] == "done" and tasks[0]["progress"] == {"done": 1, "total": 1}
    parent = client.get(f"/tasks/{r.task_id}", headers=h(keys, "viewer")).json()
    assert {c["kind"] for c in parent["children"]} == {"mining", "labeling", "training", "evaluation"}
    assert client.get("/tasks", params={"kind": "baking"}, headers=h(keys, "viewer")).status_code == 422
