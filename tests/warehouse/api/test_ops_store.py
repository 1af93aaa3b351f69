"""The operations store's safety rules: stream URLs, credentials apart, zones, camera
versions, keys (unique, last admin, bootstrap) and the audit log."""
from __future__ import annotations

import pytest

from warehouse.errors import InvalidInputError, UnknownCameraError
from warehouse.ops import CameraRecord, ConflictError, LastAdminError, OpsStore, StreamPolicy, StreamUrlRefusedError, Zone


@pytest.mark.parametrize(
    "url, ok",
    [
        ("rtsp://10.0.0.5/stream1", True),  # a camera on the LAN
        ("rtsps://cam.example.org:322/live", True),  # TLS RTSP with a name
        ("https://cams.city.gov/feed.mjpg", True),  # an HTTP camera
        ("synthetic://seafront?seed=3", True),  # the built-in generator
        ("file:///etc/passwd", False),  # local file: no roots configured
        ("/etc/passwd", False),  # plain path: same
        ("http://169.254.169.254/latest/meta-data/", False),  # cloud metadata
        ("http://[fe80::1]/x", False),  # IPv6 link-local
        ("http://169.254.10.1/x", False),  # IPv4 link-local
        ("http://metadata.google.internal/computeMetadata/v1/", False),  # metadata by name
        ("http://[::ffff:169.254.169.254]/", False),  # v4-mapped v6 of the metadata address
        ("gopher://10.0.0.5/", False),  # scheme not allowed
        ("rtsp:///nohost", False),  # no host
        ("rtsp://10.0.0.5:99999/x", False),  # bad port
    ],
)
def test_default_stream_policy(url, ok):
    policy = StreamPolicy()
    if ok:
        assert policy.check(url) == url
    else:
        with pytest.raises(StreamUrlRefusedError, match="stream_url"):
            policy.check(url)


def test_local_files_only_under_allowed_roots(tmp_path):
    root = tmp_path / "videos"
    root.mkdir()
    (root / "a.avi").write_bytes(b"x")
    policy = StreamPolicy(allowed_roots=(root.resolve(),))
    assert policy.check(str(root / "a.avi"))
    assert policy.check(f"file://{root / 'a.avi'}")
    with pytest.raises(StreamUrlRefusedError, match="outside the allowed stream roots"):
        policy.check(str(root / ".." / "secret.txt"))  # '..' resolved before the check
    (root / "link").symlink_to("/etc")
    with pytest.raises(StreamUrlRefusedError, match="outside"):
        policy.check(str(root / "link" / "passwd"))  # a symlink out of the root


def test_credentials_are_stored_apart_and_masked(tmp_path):
    ops = OpsStore(f"sqlite:///{tmp_path / 'ops.db'}")
    ops.add_camera(CameraRecord("cam-1", "harbour", "rtsp://admin:s3cret@10.0.0.5:554/live"))
    cam = ops.get_camera("cam-1")
    assert cam.stream_url == "rtsp://10.0.0.5:554/live" and cam.has_credentials
    assert cam.public()["stream_url"] == "rtsp://***@10.0.0.5:554/live"
    assert ops.stream_url_with_credentials("cam-1") == "rtsp://admin:s3cret@10.0.0.5:554/live"
    with ops.engine.connect() as c:
        url_col = c.exec_driver_sql("select stream_url from ops_cameras").scalar()
    assert "s3cret" not in url_col
    audit = " ".join(str(e.detail) for e in ops.list_audit())
    assert "s3cret" not in audit  # the audit log never holds the password either


def test_camera_versions_conflicts_updates_and_removal():
    ops = OpsStore("sqlite://")
    v0 = ops.cameras_version()
    assert ops.add_camera(CameraRecord("cam-1", "harbour", "synthetic://road")) is True
    assert ops.add_camera(CameraRecord("cam-1", "harbour", "synthetic://road")) is False  # same record: no-op
    v1 = ops.cameras_version()
    assert v1 > v0
    with pytest.raises(ConflictError, match="PUT/PATCH"):
        ops.add_camera(CameraRecord("cam-1", "elsewhere", "synthetic://road"))  # no silent overwrite
    ops.update_camera("cam-1", region="north", actor="alice")
    assert ops.get_camera("cam-1").region == "north" and ops.cameras_version() > v1
    v2 = ops.cameras_version()
    ops.update_camera("cam-1", region="north")  # nothing changes: the version stays
    assert ops.cameras_version() == v2
    ops.remove_camera("cam-1", actor="alice")
    assert ops.cameras_version() > v2
    with pytest.raises(UnknownCameraError):
        ops.get_camera("cam-1")
    assert [e.action for e in ops.list_audit(actor="alice")] == ["camera.delete", "camera.update"]


@pytest.mark.parametrize(
    "zone, error",
    [
        ({"name": "pier", "kind": "intrusion", "points_xy": [[0, 0], [100, 0], [100, 80]], "window": {"start": "22:00", "end": "06:00"}}, None),
        ({"name": "lane-1", "kind": "lane", "points_xy": [[0, 0], [100, 0], [100, 80], [0, 80]], "direction_deg": 90}, None),
        ({"name": "trip", "kind": "tripwire", "points_xy": [[0, 10], [200, 10]]}, None),
        ({"name": "lane-1", "kind": "lane", "points_xy": [[0, 0], [100, 0], [100, 80]]}, "direction_deg"),  # a lane needs its direction
        ({"name": "bow", "kind": "crowd", "points_xy": [[0, 0], [10, 10], [10, 0], [0, 4]]}, "crosses itself"),  # a bow tie
        ({"name": "flat", "kind": "no_parking", "points_xy": [[0, 0], [5, 5], [10, 10]]}, "no area"),  # collinear
        ({"name": "x", "kind": "no_parking", "points_xy": [[0, 0], [5, -1], [10, 10]]}, "pixels"),  # negative pixel
        ({"name": "x", "kind": "crowd", "points_xy": [[0, 0], [9, 0], [9, 9]], "window": {"start": "22:00", "end": "06:00"}}, "only intrusion"),
        ({"name": "x", "kind": "flood", "points_xy": [[0, 0], [9, 0], [9, 9]]}, "kind"),  # unknown kind names the valid ones
    ],
)
def test_zone_validation(zone, error):
    if error is None:
        assert Zone.from_dict(zone).to_dict()["name"] == zone["name"]
    else:
        with pytest.raises(InvalidInputError, match=error):
            Zone.from_dict(zone)


def test_zones_live_in_the_camera_record():
    ops = OpsStore("sqlite://")
    ops.add_camera(CameraRecord("cam-1", "harbour", "synthetic://road"))
    zones = [{"name": "pier", "kind": "intrusion", "points_xy": [[0, 0], [100, 0], [100, 80]], "window": {"start": "22:00", "end": "06:00"}}]
    cam = ops.set_zones("cam-1", zones, actor="bob")
    assert cam.zones[0].window == ("22:00", "06:00") and ops.get_camera("cam-1").zones == cam.zones
    with pytest.raises(InvalidInputError, match="unique"):
        ops.set_zones("cam-1", zones * 2)


def test_keys_unique_names_last_admin_and_bootstrap(tmp_path):
    url = f"sqlite:///{tmp_path / 'ops.db'}"
    ops = OpsStore(url)
    boot = "b" * 32
    admin = ops.ensure_bootstrap_admin(boot)
    assert admin is not None and admin.role == "admin"
    with pytest.raises(LastAdminError, match="last active admin"):
        ops.revoke_api_key(admin.key_id)
    other, _ = ops.create_api_key(role="admin", name="alice", actor="bootstrap")
    with pytest.raises(ConflictError, match="alice"):
        ops.create_api_key(role="viewer", name="alice")
    ops.revoke_api_key(admin.key_id, actor="alice")
    assert ops.authenticate(boot) is None
    restarted = OpsStore(url)  # `warehouse serve` again with the same bootstrap key
    assert restarted.ensure_bootstrap_admin(boot) is None and restarted.authenticate(boot) is None
    assert restarted.ensure_bootstrap_admin("c" * 32) is None  # an admin exists: a new env value mints nothing
    actions = [e.action for e in restarted.list_audit(action="key.*")]
    assert actions == ["key.revoke", "key.create", "key.create"]


@pytest.mark.postgres
def test_store_rules_on_postgres(postgres_fresh_url):
    """The same rules on a real PostgreSQL server (upsert ingest, outbox, cursors, keys)."""
    from tests.warehouse.api.conftest import alert

    ops = OpsStore(postgres_fresh_url)
    v0 = ops.cameras_version()
    ops.add_camera(CameraRecord("cam-1", "harbour", "rtsp://u:pw@10.0.0.5/live"))
    assert ops.cameras_version() == v0 + 1 and ops.stream_url_with_credentials("cam-1") == "rtsp://u:pw@10.0.0.5/live"
    assert [ops.ingest_alert(alert(i)) for i in (1, 2, 3, 1)] == [True, True, True, False]
    page, cursor = ops.page_alerts(limit=2)
    rest, end = ops.page_alerts(limit=2, cursor=cursor)
    assert [a["alert_id"] for a in page + rest] == ["al-3", "al-2", "al-1"] and end is None
    assert page[0]["region"] == "harbour"
    first = ops.record_feedback("al-1", verdict="reject", operator="op")
    again = ops.record_feedback("al-1", verdict="reject", operator="op")
    assert first["created"] and not again["created"] and ops.outbox_stats()["pending"] == 1
    [row] = ops.pending_outbox()
    ops.mark_published([row["id"]])
    assert ops.outbox_stats() == {"pending": 0, "published": 1, "oldest_pending_age_s": None}
    admin, _ = ops.create_api_key(role="admin", name="a1")
    with pytest.raises(LastAdminError):
        ops.revoke_api_key(admin.key_id)
    assert [e.action for e in ops.list_audit()] == ["key.create", "camera.create"]
