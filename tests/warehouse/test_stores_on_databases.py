"""The operations store and the frame pool on SQLite and on a real PostgreSQL server."""
from __future__ import annotations

import uuid

import numpy as np
import pytest

from warehouse.errors import InvalidInputError, UnknownCameraError
from warehouse.framepool import FramePool, RetainedFrame
from warehouse.ops_store import CameraRecord, OpsStore


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request, tmp_path):
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'ops.db'}"
    return request.getfixturevalue("postgres_url")


def test_ops_store_cameras_alerts_keys(db_url):
    ops = OpsStore(db_url)
    cam = f"cam-{uuid.uuid4().hex[:8]}"
    ops.add_camera(CameraRecord(cam, "harbour", "synthetic://seafront", {"scenes": ["seafront"]}))
    ops.add_camera(CameraRecord(cam, "harbour", "synthetic://seafront", {"scenes": ["seafront"]}))  # idempotent
    assert ops.get_camera(cam).hints == {"scenes": ["seafront"]}
    with pytest.raises(UnknownCameraError, match="nope"):
        ops.get_camera("nope")
    alert = {"alert_id": f"al-{cam}", "camera_id": cam, "algorithm_id": "a", "ts_ms": 5}
    assert ops.ingest_alert(alert) is True and ops.ingest_alert(alert) is False
    fb = ops.record_feedback(alert["alert_id"], verdict="reject", operator="op")
    assert fb["alert"]["camera_id"] == cam and ops.get_alert(alert["alert_id"])["status"] == "rejected"
    key, raw = ops.create_api_key(role="operator", name=f"n-{cam}")  # key names are unique; the database is shared
    assert ops.authenticate(raw) == key
    ops.revoke_api_key(key.key_id)
    assert ops.authenticate(raw) is None


def test_frame_pool_nearest(db_url):
    pool = FramePool(db_url)
    cam = f"cam-{uuid.uuid4().hex[:8]}"
    pool.add(*[RetainedFrame(f"{cam}:{i}", cam, i, i, np.eye(4, dtype=np.float32)[i % 4], truth=()) for i in range(8)])
    got = pool.nearest(np.array([0, 1, 0, 0], np.float32), k=2, camera_id=cam)
    assert sorted(f for f, _ in got) == [f"{cam}:1", f"{cam}:5"]


@pytest.mark.parametrize(
    "camera_id, region",
    [
        ("../../etc/passwd", "r"),  # path-like ids are refused
        ("", "r"),  # empty id
        ("cam-1", ""),  # empty region
    ],
)
def test_camera_record_validation(camera_id, region):
    with pytest.raises(InvalidInputError):
        CameraRecord(camera_id, region, "x")


def test_racing_identical_verdicts_record_one_and_answer_the_rest_as_repeats(db_url):
    """A double click or a retried request sends the same verdict twice at once: one feedback
    row and one outbox event, and neither request fails."""
    import threading

    ops = OpsStore(db_url)
    cam = f"cam-{uuid.uuid4().hex[:8]}"
    for round_ in range(8):
        alert = {"alert_id": f"al-{cam}-{round_}", "camera_id": cam, "algorithm_id": "a", "ts_ms": 5}
        ops.ingest_alert(alert)
        barrier, results, errors = threading.Barrier(4), [], []

        def judge():
            barrier.wait()
            try:
                results.append(ops.record_feedback(alert["alert_id"], verdict="reject", operator="op"))
            except Exception as exc:  # noqa: BLE001 - the test reports whatever a racing request raised
                errors.append(exc)

        threads = [threading.Thread(target=judge) for _ in range(4)]
        for th in threads:
            th.start()
        for th in threads:
            th.join()
        assert errors == [] and len(results) == 4
        assert sum(r["created"] for r in results) == 1 and len({r["feedback_id"] for r in results}) == 1
