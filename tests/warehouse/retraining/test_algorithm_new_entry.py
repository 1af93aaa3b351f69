"""``POST /algorithms/new`` and ``warehouse algorithm new`` end to end (real stores, simulated labeler)."""
from __future__ import annotations

import json
import time

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from catalog import ArtifactStore, Catalog, load_taxonomy
from warehouse.api import Services, create_app
from warehouse.bus import SqliteBus
from warehouse.cli import app as cli
from warehouse.framepool import FramePool, RetainedFrame
from warehouse.ops import OpsStore
from warehouse.retraining.datasets import Flywheel
from warehouse.retraining.labeling import SimulatedLabeler
from warehouse.retraining.simulation import rare_event_pool


def _pool(url, event):
    sp = rare_event_pool(2500, positive_rate=0.03, dim=32, seed=5, prefix="cam-q:")
    pool = FramePool(url)
    pool.add(*[RetainedFrame(f, "cam-q", i, 1_780_000_000_000 + i, e, truth=(event,) if y else ())
               for i, (f, e, y) in enumerate(zip(sp.frame_ids, sp.embeddings, sp.labels))])
    pos = [f for f, y in zip(sp.frame_ids, sp.labels) if y][:5]
    neg = [f for f, y in zip(sp.frame_ids, sp.labels) if not y][:15]
    return sp, pool, [(f, 1) for f in pos] + [(f, 0) for f in neg]


@pytest.mark.slow
def test_post_algorithms_new_runs_in_the_background(tmp_path):
    event = "graffiti_fresh_h10"
    sp, pool, seeds = _pool(f"sqlite:///{tmp_path}/pool.db", event)
    cat = Catalog.open(f"sqlite:///{tmp_path}/cat.db", store=ArtifactStore(str(tmp_path / "art")))
    ops = OpsStore(f"sqlite:///{tmp_path / 'ops.db'}")
    admin = ops.create_api_key(role="admin", name="admin-1")[1]
    op = ops.create_api_key(role="operator", name="op-1")[1]
    fw = Flywheel.open(f"sqlite:///{tmp_path}/fw.db", catalog=cat, pool=pool, )
    fw.labeler_for = lambda a: SimulatedLabeler(sp.truth())
    bus = SqliteBus(tmp_path / "bus.db")
    client = TestClient(create_app(Services(ops=ops, bus=bus, catalog=cat, flywheel=fw)))
    body = {"name": "Fresh graffiti", "event_type": event, "scenes": ["plaza"], "description": "new paint on walls",
            "seed_frames": [{"frame_ref": f, "label": y} for f, y in seeds], "budget": 40}
    assert client.post("/algorithms/new", json=body, headers={"X-API-Key": op}).status_code == 403
    assert client.post("/algorithms/new", json={**body, "seed_frames": body["seed_frames"][:5]},
                       headers={"X-API-Key": admin}).status_code == 422
    r = client.post("/algorithms/new", json=body, headers={"X-API-Key": admin})
    assert r.status_code == 202, r.text
    task = r.json()["task_id"]
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        t = client.get(f"/tasks/{task}", headers={"X-API-Key": admin}).json()
        if t["state"] in ("done", "failed"):
            break
        time.sleep(0.5)
    assert t["state"] == "done", t
    assert cat.production_version(f"scene.plaza.{event}") is not None
    assert {c["kind"] for c in t["children"]} == {"mining", "labeling", "training"}
    bus.close()
    cat.close()
    load_taxonomy().events.pop(event, None)


def test_cli_algorithm_new_with_ground_truth_labels(tmp_path):
    event = "kite_flying_h10"
    _, _, seeds = _pool(f"sqlite:///{tmp_path}/pool.db", event)
    (tmp_path / "seeds.json").write_text(json.dumps([{"frame_ref": f, "label": y} for f, y in seeds]))
    args = ["algorithm", "new", "--name", "Kites", "--event", event, "--scene", "park", "--seeds-file", str(tmp_path / "seeds.json"),
            "--labeler", "ground-truth", "--home", str(tmp_path), "--pool-url", f"sqlite:///{tmp_path}/pool.db",
            "--catalog-url", f"sqlite:///{tmp_path}/cat.db"]
    res = CliRunner().invoke(cli, args, env={"WAREHOUSE_BUS_URL": f"sqlite:///{tmp_path}/bus.db"})
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout[res.stdout.index("{"):])
    assert out["promoted"] and out["algorithm_id"] == f"scene.park.{event}" and out["labels_used"] > 20
    bad = CliRunner().invoke(cli, args[:-2] + ["--seed", "x=2"])
    assert bad.exit_code == 2 and "REF=0 or REF=1" in bad.output
    load_taxonomy().events.pop(event, None)
