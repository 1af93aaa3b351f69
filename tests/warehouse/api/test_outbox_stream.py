"""Feedback and its bus event never diverge (outbox through a bus outage); the live stream
resumes from Last-Event-ID; failed keys are rate limited; health, metrics, audit, cameras."""
from __future__ import annotations

import json
import threading
import time

import pytest
from fastapi.testclient import TestClient

from tests.warehouse.api.conftest import alert
from warehouse.api import Services, create_app
from warehouse.bus import SqliteBus
from warehouse.bus.events import parse_event
from warehouse.consumers import FeedbackRouter
from warehouse.ops import CameraRecord, FailureLimiter, OpsStore


def test_bus_outage_delays_feedback_but_loses_none(tmp_path):
    ops = OpsStore(f"sqlite:///{tmp_path / 'ops.db'}")
    down = SqliteBus(tmp_path / "bus.db")
    down.close()  # the bus is unreachable: every publish raises
    op = ops.create_api_key(role="operator", name="op")[1]
    services = Services(ops=ops, bus=down)
    client = TestClient(create_app(services))
    for i in range(3):
        ops.ingest_alert(alert(i))
        r = client.post(f"/alerts/al-{i}/feedback", json={"verdict": "reject"}, headers={"X-API-Key": op})
        assert r.status_code == 201, r.text  # accepted: the event waits in the outbox
    health = client.get("/healthz").json()
    assert health["status"] == "degraded" and health["bus"]["ok"] is False and health["outbox"]["pending"] == 3
    assert client.post("/alerts/al-0/feedback", json={"verdict": "reject"}, headers={"X-API-Key": op}).status_code == 200

    up = SqliteBus(tmp_path / "bus.db")  # the bus is back
    services.outbox.bus = up
    assert services.outbox.run_once().published == 3
    assert client.get("/healthz").json()["status"] == "ok"
    recs = up.consumer("feedback", group="t").poll(timeout_s=0.5)
    events = [parse_event("feedback", r.value) for r in recs]  # every event is the contract's FeedbackEvent
    assert sorted(e.alert_id for e in events) == ["al-0", "al-1", "al-2"] and {e.verdict for e in events} == {"reject"}
    router = FeedbackRouter(up)
    router.run_once(timeout_s=0.5)
    router.run_once(timeout_s=0.2)
    misses = up.consumer("miss-events", group="t").poll(timeout_s=0.5)
    assert sorted(m.value["alert_id"] for m in misses) == ["al-0", "al-1", "al-2"]  # one miss per rejected alert
    assert services.outbox.run_once().published == 0  # nothing published twice by the relay
    up.close()


def test_outbox_relay_thread_delivers_after_a_write(env):
    client, ops, bus, keys = env
    services = client.app.state.services
    services.outbox.idle_s = 0.05
    services.outbox.start()
    try:
        ops.add_camera(CameraRecord("cam-1", "harbour", "synthetic://road"))
        ops.record_miss(camera_id="cam-1", event_type="illegal_parking", ts_ms=1_700_000_000_000, reporter="r")  # store only
        deadline = time.time() + 5
        got = []
        c = bus.consumer("miss-events", group="t")
        while time.time() < deadline and not got:
            got = c.poll(timeout_s=0.2)
        assert len(got) == 1 and got[0].key == "event:illegal_parking"
    finally:
        services.outbox.stop()


def _sse_ids(text: str) -> list[str]:
    return [line[4:] for line in text.splitlines() if line.startswith("id: ")]


def test_stream_resumes_from_last_event_id(env):
    client, ops, _, keys = env
    hub = client.app.state.services.alert_hub
    for i in range(5):
        a = alert(i)
        ops.ingest_alert(a)
        if i >= 2:
            hub.publish(a)  # al-0, al-1 were stored before this server started: only the store has them
    h = {"X-API-Key": keys["viewer"]}
    r = client.get("/alerts/stream", params={"max_events": 3}, headers={**h, "Last-Event-ID": "al-1"})
    assert _sse_ids(r.text) == ["al-2", "al-3", "al-4"]  # from the replay buffer
    r = client.get("/alerts/stream", params={"max_events": 4}, headers={**h, "Last-Event-ID": "al-0"})
    assert _sse_ids(r.text)[:2] == ["al-1", "al-2"]  # al-0 unknown to the buffer: the store replays


def test_live_stream_filters_by_camera(env):
    client, ops, _, keys = env
    hub = client.app.state.services.alert_hub
    result = {}

    def read():
        r = client.get("/alerts/stream", params={"max_events": 2, "camera_id": "cam-b", "heartbeat_s": 0.1},
                       headers={"X-API-Key": keys["viewer"]})
        result["ids"] = _sse_ids(r.text)

    t = threading.Thread(target=read)
    t.start()
    deadline = time.time() + 5
    while hub.subscribers == 0 and time.time() < deadline:
        time.sleep(0.02)
    for i in range(6):
        hub.publish(alert(i, camera="cam-b" if i % 2 else "cam-a"))
    t.join(10)
    assert result["ids"] == ["al-1", "al-3"]


def test_failed_keys_are_rate_limited_per_client(tmp_path):
    ops = OpsStore("sqlite://")
    good = ops.create_api_key(role="viewer", name="v")[1]
    client = TestClient(create_app(Services(ops=ops, bus=None, auth_limiter=FailureLimiter(burst=5, per_s=0.01))))
    codes = [client.get("/cameras", headers={"X-API-Key": f"guess-{i}"}).status_code for i in range(7)]
    assert codes == [401] * 5 + [429] * 2
    r = client.get("/cameras", headers={"X-API-Key": good})
    assert r.status_code == 429 and int(r.headers["Retry-After"]) > 0  # blocked before the key is looked at


def test_camera_api_masks_credentials_below_admin_and_audits(env):
    client, ops, _, keys = env
    body = {"camera_id": "cam-9", "region": "harbour", "stream_url": "rtsp://u:pw@10.1.2.3/live",
            "zones": [{"name": "pier", "kind": "intrusion", "points_xy": [[0, 0], [50, 0], [50, 50]], "window": {"start": "22:00", "end": "06:00"}}]}
    admin, viewer = {"X-API-Key": keys["admin"]}, {"X-API-Key": keys["viewer"]}
    assert client.post("/cameras", json=body, headers=admin).status_code == 201
    assert client.post("/cameras", json=body, headers=admin).status_code == 409  # duplicate create
    assert client.get("/cameras/cam-9", headers=viewer).json()["stream_url"] == "rtsp://***@10.1.2.3/live"
    assert client.get("/cameras/cam-9", headers=admin).json()["stream_url"] == "rtsp://u:pw@10.1.2.3/live"
    assert "pw" not in json.dumps(client.get("/cameras", headers=viewer).json())
    r = client.patch("/cameras/cam-9", json={"region": "north"}, headers=admin)
    assert r.status_code == 200 and r.json()["has_credentials"]  # credentials kept when the URL is not changed
    bad = client.patch("/cameras/cam-9", json={"stream_url": "http://169.254.169.254/"}, headers=admin)
    assert bad.status_code == 422 and bad.json()["field"] == "stream_url"
    assert client.get("/cameras/cam-9/health", headers=viewer).json()["state"] == "unknown"
    assert client.delete("/cameras/cam-9", headers=admin).status_code == 204
    audit = client.get("/audit", params={"target": "cam-9"}, headers=admin).json()
    assert [a["action"] for a in audit] == ["camera.delete", "camera.update", "camera.create"]
    assert all(a["actor"].startswith("admin-1") for a in audit)


def test_metrics_are_prometheus_text(env):
    client, ops, _, keys = env
    client.app.state.services.alert_hub.publish(alert(1))
    r = client.get("/metrics", headers={"X-API-Key": keys["viewer"]})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
    from prometheus_client.parser import text_string_to_metric_families

    names = {f.name for f in text_string_to_metric_families(r.text)}
    assert {"warehouse_alerts_streamed", "warehouse_alerts_per_second", "warehouse_outbox_pending"} <= names


def test_keys_api_last_admin_and_unique_names(env):
    client, ops, _, keys = env
    admin = {"X-API-Key": keys["admin"]}
    assert client.post("/keys", json={"role": "viewer", "name": "viewer-1"}, headers=admin).status_code == 409
    [me] = [k for k in client.get("/keys", headers=admin).json() if k["name"] == "admin-1"]
    r = client.delete(f"/keys/{me['key_id']}", headers=admin)
    assert r.status_code == 409 and "last active admin" in r.json()["detail"]


def test_control_plane_status_becomes_metrics():
    """The pure mapping from the control plane's status() (its shape in warehouse/control/plane.py)."""
    from prometheus_client import CollectorRegistry, generate_latest
    from prometheus_client.parser import text_string_to_metric_families

    from warehouse.api.metrics import control_families

    status = {
        "cameras": {"cam-1": {"health": "healthy", "running": True, "fps": 2.0, "frames_read": 120},
                    "cam-2": {"health": "unhealthy", "running": True, "fps": 1.0, "frames_read": None}},
        "workers": {"w-1": {"frames_scored": 95}},
        "plan": {"age_s": 12.5},
        "consumer_lag": {"ops-alert-sink": 3},
    }

    class _Families:  # prometheus_client registers collectors: any object with collect()
        def collect(self):
            return control_families(status)

    reg = CollectorRegistry(auto_describe=False)
    reg.register(_Families())
    samples = {(s.name, tuple(sorted(s.labels.items()))): s.value
               for f in text_string_to_metric_families(generate_latest(reg).decode()) for s in f.samples}
    assert samples[("warehouse_stream_up", (("camera_id", "cam-1"),))] == 1.0
    assert samples[("warehouse_stream_up", (("camera_id", "cam-2"),))] == 0.0
    assert samples[("warehouse_stream_frames_read_total", (("camera_id", "cam-1"),))] == 120
    assert ("warehouse_stream_frames_read_total", (("camera_id", "cam-2"),)) not in samples  # unknown stays absent
    assert samples[("warehouse_worker_frames_scored_total", (("worker_id", "w-1"),))] == 95
    assert samples[("warehouse_plan_age_seconds", ())] == 12.5
    assert samples[("warehouse_consumer_lag", (("group", "ops-alert-sink"),))] == 3


@pytest.mark.parametrize(
    "raw, expected",
    [
        ({"scenes": {"road": 0.9, "park": 0.2}, "source": "classifier", "frames": 8, "needs_review": False, "primary": "road"},
         [("road", 0.9), ("park", 0.2)]),  # the control plane's DiscoveredScenes.to_dict()
        ({"road": 1.0}, [("road", 1.0)]),  # a plain mapping
        ([["road", 0.7], {"scene": "park", "confidence": 0.1}], [("road", 0.7), ("park", 0.1)]),  # pairs
    ],
)
def test_scene_links_from_the_control_plane(raw, expected):
    from warehouse.api.routes.cameras import scene_pairs

    assert scene_pairs(raw) == expected


def test_a_database_that_refuses_writes_answers_503_and_reads_still_work(env):
    import sqlalchemy as sa

    client, ops, bus, keys = env
    ops.ingest_alert(alert(1))
    sa.event.listen(ops.engine, "connect", lambda conn, _rec: conn.execute("PRAGMA query_only=ON"))
    ops.engine.dispose()  # new connections: the database now refuses every write
    r = client.post("/alerts/al-1/feedback", json={"verdict": "reject"}, headers={"X-API-Key": keys["operator"]})
    assert r.status_code == 503 and r.headers["Retry-After"] and r.json()["error"] == "DatabaseUnavailable"
    assert client.get("/alerts/al-1", headers={"X-API-Key": keys["viewer"]}).json()["status"] == "open"  # nothing written
    assert bus.consumer("feedback", group="t").poll(timeout_s=0.2) == []  # and nothing published


def test_live_stream_reads_the_bus_itself(env):
    """No AlertSink runs: the stream's own bus reader brings alerts to viewers."""
    from warehouse.bus.events import AlertEvent, to_wire, wall_ms

    client, ops, bus, keys = env
    result = {}

    def read():
        r = client.get("/alerts/stream", params={"max_events": 2, "heartbeat_s": 0.1}, headers={"X-API-Key": keys["viewer"]})
        result["ids"] = _sse_ids(r.text)

    t = threading.Thread(target=read)
    t.start()
    hub = client.app.state.services.alert_hub
    deadline = time.time() + 5
    while hub.subscribers == 0 and time.time() < deadline:
        time.sleep(0.02)
    for i in range(2):
        ev = AlertEvent.build(alert_id=f"bus-{i}", camera_id="cam-1", frame_index=i, algorithm_id="scene.road.fire", model_version="1",
                              score=0.9, xyxy=[1.0, 2.0, 3.0, 4.0], stream_ts_ms=i, ts_ms=wall_ms(), region_cell=[0, 0])
        bus.publish("alerts", to_wire(ev), key="cam-1")
    bus.flush()
    t.join(10)
    assert result["ids"] == ["bus-0", "bus-1"]
    assert ops.list_alerts() == []  # nothing stored: that is the sink's job, not the stream's


@pytest.mark.kafka
def test_outbox_delivers_through_real_kafka_after_an_outage(tmp_path, kafka_bootstrap, kafka_topic_prefix):
    """Verdicts taken while the Kafka producer is gone are all on the real broker once it is back."""
    from warehouse.bus import KafkaBus

    ops = OpsStore(f"sqlite:///{tmp_path / 'ops.db'}")
    op = ops.create_api_key(role="operator", name="op")[1]
    gone = KafkaBus(kafka_bootstrap, topic_prefix=kafka_topic_prefix, client_id="h11-outbox-down")
    gone.close()  # this producer can no longer publish: the API must still take the verdicts
    services = Services(ops=ops, bus=gone)
    client = TestClient(create_app(services))
    for i in range(3):
        ops.ingest_alert(alert(i))
        assert client.post(f"/alerts/al-{i}/feedback", json={"verdict": "reject"}, headers={"X-API-Key": op}).status_code == 201
    assert ops.outbox_stats()["pending"] == 3
    back = KafkaBus(kafka_bootstrap, topic_prefix=kafka_topic_prefix, client_id="h11-outbox-up")
    try:
        services.outbox.bus = back
        assert services.outbox.run_once().published == 3
        consumer = back.consumer("feedback", group="h11-check")
        got, deadline = [], time.time() + 30
        while len(got) < 3 and time.time() < deadline:
            got += consumer.poll(timeout_s=1.0)
        assert sorted(r.value["alert_id"] for r in got) == ["al-0", "al-1", "al-2"]
        assert {r.key for r in got} == {"scene.road.fire"}  # keyed by algorithm
        consumer.close()
    finally:
        back.close()
