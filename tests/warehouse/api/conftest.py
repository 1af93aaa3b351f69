"""A real app over a real SQLite ops store and the real embedded bus."""
from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from warehouse.api import Services, create_app
from warehouse.bus import SqliteBus
from warehouse.ops import OpsStore, StreamPolicy


@pytest.fixture()
def env(tmp_path):
    ops = OpsStore(f"sqlite:///{tmp_path / 'ops.db'}", stream_policy=StreamPolicy(allowed_roots=(tmp_path.resolve(),)))
    bus = SqliteBus(tmp_path / "bus.db")
    keys = {role: ops.create_api_key(role=role, name=f"{role}-1")[1] for role in ("viewer", "operator", "admin")}
    services = Services(ops=ops, bus=bus)
    client = TestClient(create_app(services))
    yield client, ops, bus, keys
    bus.close()


def alert(i: int = 1, camera: str = "cam-1", algorithm: str = "scene.road.fire", ts_ms: int | None = None) -> dict:
    return {"alert_id": f"al-{i}", "camera_id": camera, "algorithm_id": algorithm, "ts_ms": ts_ms if ts_ms is not None else 1_700_000_000_000 + i,
            "model_version": "1", "score": 0.9, "frame_ref": f"{camera}:{i}", "xyxy": [1, 2, 30, 40]}
