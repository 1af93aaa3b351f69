"""Operational state of a city: cameras, alerts, operator feedback, reported misses, API keys.

Kept apart from the catalog's tables (which are about algorithms) but usually in the same
database: SQLite by default, PostgreSQL in production. Every write is one transaction;
ingest is idempotent by id, so a consumer that re-reads a record changes nothing.

>>> ops = OpsStore("sqlite://")
>>> ops.add_camera(CameraRecord("cam-1", region="harbour", stream_url="synthetic://seafront"))
>>> ops.get_camera("cam-1").region
'harbour'
"""
from __future__ import annotations

import hashlib
import json
import secrets
import time
from dataclasses import asdict, dataclass, field

import sqlalchemy as sa

from warehouse._db import make_engine

from warehouse.errors import InvalidInputError, UnknownAlertError, UnknownCameraError

ROLES = ("viewer", "operator", "admin")
_ROLE_RANK = {r: i for i, r in enumerate(ROLES)}

_meta = sa.MetaData()
_cameras = sa.Table(
    "ops_cameras", _meta,
    sa.Column("camera_id", sa.String(128), primary_key=True),
    sa.Column("region", sa.String(128), nullable=False),
    sa.Column("stream_url", sa.Text, nullable=False),
    sa.Column("hints", sa.Text, nullable=False, default="{}"),
    sa.Column("created_ms", sa.BigInteger, nullable=False),
)
_alerts = sa.Table(
    "ops_alerts", _meta,
    sa.Column("alert_id", sa.String(64), primary_key=True),
    sa.Column("camera_id", sa.String(128), nullable=False, index=True),
    sa.Column("algorithm_id", sa.String(200), nullable=False, index=True),
    sa.Column("payload", sa.Text, nullable=False),
    sa.Column("ts_ms", sa.BigInteger, nullable=False, index=True),
    sa.Column("status", sa.String(16), nullable=False, default="open"),
)
_feedback = sa.Table(
    "ops_feedback", _meta,
    sa.Column("feedback_id", sa.String(64), primary_key=True),
    sa.Column("alert_id", sa.String(64), nullable=False, index=True),
    sa.Column("verdict", sa.String(16), nullable=False),
    sa.Column("operator", sa.String(128), nullable=False),
    sa.Column("note", sa.Text, nullable=False, default=""),
    sa.Column("ts_ms", sa.BigInteger, nullable=False),
)
_keys = sa.Table(
    "ops_api_keys", _meta,
    sa.Column("key_id", sa.String(32), primary_key=True),
    sa.Column("key_sha256", sa.String(64), nullable=False, unique=True),
    sa.Column("role", sa.String(16), nullable=False),
    sa.Column("name", sa.String(128), nullable=False),
    sa.Column("created_ms", sa.BigInteger, nullable=False),
    sa.Column("revoked", sa.Boolean, nullable=False, default=False),
)


def _now_ms() -> int:
    return int(time.time() * 1000)


@dataclass(frozen=True, slots=True)
class CameraRecord:
    camera_id: str
    region: str
    stream_url: str
    hints: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        import re

        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,127}", self.camera_id or ""):
            raise InvalidInputError(
                f"camera id {self.camera_id!r} is not valid; use 1-128 letters, digits, '.', '_', ':' or '-', "
                "starting with a letter or digit"
            )
        if not self.region:
            raise InvalidInputError(f"camera {self.camera_id!r} has an empty region; give the district/area it belongs to")


@dataclass(frozen=True, slots=True)
class ApiKey:
    key_id: str
    role: str
    name: str


def hash_key(raw_key: str) -> str:
    # API keys are 256-bit random tokens, so a fast hash is enough (no dictionary to attack);
    # only the hash is stored.
    return hashlib.sha256(raw_key.encode("utf-8")).hexdigest()


class OpsStore:
    def __init__(self, url: str) -> None:
        self.engine = make_engine(url)
        _meta.create_all(self.engine)

    # -- cameras -----------------------------------------------------------------------
    def add_camera(self, cam: CameraRecord) -> None:
        with self.engine.begin() as c:
            existing = c.execute(sa.select(_cameras).where(_cameras.c.camera_id == cam.camera_id)).first()
            row = dict(camera_id=cam.camera_id, region=cam.region, stream_url=cam.stream_url, hints=json.dumps(cam.hints, sort_keys=True))
            if existing is None:
                c.execute(_cameras.insert().values(**row, created_ms=_now_ms()))
            elif (existing.region, existing.stream_url, existing.hints) != (row["region"], row["stream_url"], row["hints"]):
                c.execute(_cameras.update().where(_cameras.c.camera_id == cam.camera_id).values(**row))

    def get_camera(self, camera_id: str) -> CameraRecord:
        with self.engine.connect() as c:
            r = c.execute(sa.select(_cameras).where(_cameras.c.camera_id == camera_id)).first()
            if r is None:
                known = [x[0] for x in c.execute(sa.select(_cameras.c.camera_id).limit(50))]
                raise UnknownCameraError(camera_id, known)
        return CameraRecord(r.camera_id, r.region, r.stream_url, json.loads(r.hints))

    def list_cameras(self) -> list[CameraRecord]:
        with self.engine.connect() as c:
            rows = c.execute(sa.select(_cameras).order_by(_cameras.c.camera_id)).all()
        return [CameraRecord(r.camera_id, r.region, r.stream_url, json.loads(r.hints)) for r in rows]

    # -- alerts ------------------------------------------------------------------------
    def ingest_alert(self, alert: dict) -> bool:
        """Store an alert payload (from the ``alerts`` topic); False if already stored."""
        for k in ("alert_id", "camera_id", "algorithm_id", "ts_ms"):
            if k not in alert:
                raise InvalidInputError(f"alert payload lacks {k!r}: {sorted(alert)}; runtime alerts always carry it")
        with self.engine.begin() as c:
            if c.execute(sa.select(_alerts.c.alert_id).where(_alerts.c.alert_id == alert["alert_id"])).first():
                return False
            c.execute(_alerts.insert().values(
                alert_id=alert["alert_id"], camera_id=alert["camera_id"], algorithm_id=alert["algorithm_id"],
                payload=json.dumps(alert, sort_keys=True), ts_ms=int(alert["ts_ms"]), status="open",
            ))
        return True

    def get_alert(self, alert_id: str) -> dict:
        with self.engine.connect() as c:
            r = c.execute(sa.select(_alerts).where(_alerts.c.alert_id == alert_id)).first()
        if r is None:
            raise UnknownAlertError(alert_id)
        return {**json.loads(r.payload), "status": r.status}

    def list_alerts(self, *, camera_id: str | None = None, status: str | None = None, limit: int = 100) -> list[dict]:
        q = sa.select(_alerts).order_by(_alerts.c.ts_ms.desc()).limit(limit)
        if camera_id:
            q = q.where(_alerts.c.camera_id == camera_id)
        if status:
            q = q.where(_alerts.c.status == status)
        with self.engine.connect() as c:
            return [{**json.loads(r.payload), "status": r.status} for r in c.execute(q)]

    def record_feedback(self, alert_id: str, *, verdict: str, operator: str, note: str = "") -> dict:
        if verdict not in ("confirm", "reject"):
            raise InvalidInputError(f"verdict {verdict!r} is not valid; use 'confirm' or 'reject'")
        fb_id = "fb-" + secrets.token_hex(8)
        with self.engine.begin() as c:
            r = c.execute(sa.select(_alerts).where(_alerts.c.alert_id == alert_id)).first()
            if r is None:
                raise UnknownAlertError(alert_id)
            c.execute(_feedback.insert().values(feedback_id=fb_id, alert_id=alert_id, verdict=verdict, operator=operator, note=note, ts_ms=_now_ms()))
            c.execute(_alerts.update().where(_alerts.c.alert_id == alert_id).values(status="confirmed" if verdict == "confirm" else "rejected"))
        return {"feedback_id": fb_id, "alert": json.loads(r.payload), "verdict": verdict, "operator": operator, "note": note}

    # -- API keys ----------------------------------------------------------------------
    def create_api_key(self, *, role: str, name: str, raw_key: str | None = None) -> tuple[ApiKey, str]:
        """Create a key; returns the record and the raw key (shown once, stored hashed)."""
        if role not in ROLES:
            raise InvalidInputError(f"role {role!r} is not valid; use one of {ROLES}")
        raw = raw_key or secrets.token_urlsafe(32)
        key = ApiKey("key-" + secrets.token_hex(6), role, name)
        with self.engine.begin() as c:
            c.execute(_keys.insert().values(key_id=key.key_id, key_sha256=hash_key(raw), role=role, name=name, created_ms=_now_ms(), revoked=False))
        return key, raw

    def ensure_api_key(self, *, role: str, name: str, raw_key: str) -> ApiKey:
        found = self.authenticate(raw_key)
        return found if found is not None else self.create_api_key(role=role, name=name, raw_key=raw_key)[0]

    def authenticate(self, raw_key: str) -> ApiKey | None:
        with self.engine.connect() as c:
            r = c.execute(sa.select(_keys).where(_keys.c.key_sha256 == hash_key(raw_key), _keys.c.revoked.is_(False))).first()
        return None if r is None else ApiKey(r.key_id, r.role, r.name)

    def revoke_api_key(self, key_id: str) -> None:
        with self.engine.begin() as c:
            c.execute(_keys.update().where(_keys.c.key_id == key_id).values(revoked=True))


def role_allows(have: str, need: str) -> bool:
    return _ROLE_RANK.get(have, -1) >= _ROLE_RANK[need]


__all__ = ["ApiKey", "CameraRecord", "OpsStore", "ROLES", "hash_key", "role_allows", "asdict"]
