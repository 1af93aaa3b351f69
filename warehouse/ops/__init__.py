"""Operational state of a city, and its safety rules: cameras (with zones and lines, stream
URLs checked against an admin's policy, credentials kept apart), alerts, feedback and misses
with a transactional outbox to the bus, API keys with roles, an audit log.

>>> from warehouse.ops import CameraRecord, OpsStore
>>> ops = OpsStore("sqlite://")
>>> ops.add_camera(CameraRecord("cam-1", "harbour", "rtsp://user:pw@10.0.0.5/live"))
True
>>> ops.get_camera("cam-1").stream_url, ops.stream_url_with_credentials("cam-1")
('rtsp://10.0.0.5/live', 'rtsp://user:pw@10.0.0.5/live')
"""
from warehouse.ops.alerts import ALERT_STATES
from warehouse.ops.cameras import CAMERA_ID_RE, CameraRecord
from warehouse.ops.errors import (
    ConflictError,
    DatabaseUnavailableError,
    LastAdminError,
    RateLimitedError,
    StreamUrlRefusedError,
    UnknownKeyError,
)
from warehouse.ops.keys import ROLES, ApiKey, AuditEntry, hash_key, role_allows
from warehouse.ops.outbox import OutboxRelay, RelayRound
from warehouse.ops.ratelimit import FailureLimiter
from warehouse.ops.store import OpsStore
from warehouse.ops.streams import StreamPolicy, redact, split_credentials
from warehouse.ops.zones import LINE_KINDS, ZONE_KINDS, Zone

__all__ = [
    "ALERT_STATES",
    "CAMERA_ID_RE",
    "LINE_KINDS",
    "ROLES",
    "ZONE_KINDS",
    "ApiKey",
    "AuditEntry",
    "CameraRecord",
    "ConflictError",
    "DatabaseUnavailableError",
    "FailureLimiter",
    "LastAdminError",
    "OpsStore",
    "OutboxRelay",
    "RateLimitedError",
    "RelayRound",
    "StreamPolicy",
    "StreamUrlRefusedError",
    "UnknownKeyError",
    "Zone",
    "hash_key",
    "redact",
    "role_allows",
    "split_credentials",
]
