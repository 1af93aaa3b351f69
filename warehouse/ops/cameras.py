"""Cameras in the operations store: the one camera record every part reads."""
from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass, field, replace
from typing import Any

import sqlalchemy as sa

from warehouse.errors import InvalidInputError, UnknownCameraError
from warehouse.ops import tables as t
from warehouse.ops.errors import ConflictError
from warehouse.ops.streams import StreamPolicy, join_credentials, redact, split_credentials
from warehouse.ops.zones import Zone, zones_from_json, zones_to_json

__all__ = ["CAMERA_ID_RE", "CameraRecord", "CameraStoreMixin"]

CAMERA_ID_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,127}")
_VERSION = "cameras_version"


def now_ms() -> int:
    return int(time.time() * 1000)


@dataclass(frozen=True, slots=True)
class CameraRecord:
    """One camera. ``stream_url`` read from the store never holds credentials
    (``has_credentials`` says whether some are stored apart; the control plane reads the
    full URL with :meth:`OpsStore.stream_url_with_credentials`)."""

    camera_id: str
    region: str
    stream_url: str
    hints: dict = field(default_factory=dict)
    zones: tuple[Zone, ...] = ()
    has_credentials: bool = False
    created_ms: int = 0
    updated_ms: int = 0

    def __post_init__(self) -> None:
        if not isinstance(self.camera_id, str) or not CAMERA_ID_RE.fullmatch(self.camera_id):
            raise InvalidInputError(
                f"camera_id {self.camera_id!r} is not valid; use 1-128 letters, digits, '.', '_', ':' or '-', "
                "starting with a letter or digit"
            )
        if not isinstance(self.region, str) or not self.region.strip() or len(self.region) > 128:
            raise InvalidInputError(f"camera {self.camera_id!r}: region {self.region!r} must be 1-128 characters (the district/area it belongs to)")
        if not isinstance(self.hints, dict):
            raise InvalidInputError(f"camera {self.camera_id!r}: hints must be an object, got {type(self.hints).__name__}")
        if isinstance(self.zones, list):
            object.__setattr__(self, "zones", tuple(self.zones))
        if not all(isinstance(z, Zone) for z in self.zones):
            object.__setattr__(self, "zones", zones_from_json([z if isinstance(z, dict) else z.to_dict() for z in self.zones]))

    def public(self, *, reveal: str | None = None) -> dict[str, Any]:
        """JSON-able view; ``reveal`` is the full URL (admins only), else credentials are masked."""
        return {
            "camera_id": self.camera_id, "region": self.region,
            "stream_url": reveal if reveal is not None else redact(self.stream_url, "x" if self.has_credentials else None),
            "has_credentials": self.has_credentials, "hints": self.hints, "zones": zones_to_json(self.zones),
            "created_ms": self.created_ms, "updated_ms": self.updated_ms,
        }


def _row_to_record(r) -> CameraRecord:
    return CameraRecord(r.camera_id, r.region, r.stream_url, json.loads(r.hints), zones_from_json(json.loads(r.zones or "[]")),
                        bool(r.stream_credentials), int(r.created_ms or 0), int(r.updated_ms or 0))


class CameraStoreMixin:
    engine: sa.Engine
    stream_policy: StreamPolicy

    # -- reads ---------------------------------------------------------------------------
    def get_camera(self, camera_id: str) -> CameraRecord:
        with self.engine.connect() as c:
            r = c.execute(sa.select(t.cameras).where(t.cameras.c.camera_id == camera_id)).first()
            if r is None:
                known = [x[0] for x in c.execute(sa.select(t.cameras.c.camera_id).limit(50))]
                raise UnknownCameraError(camera_id, known)
        return _row_to_record(r)

    def list_cameras(self, *, region: str | None = None) -> list[CameraRecord]:
        q = sa.select(t.cameras).order_by(t.cameras.c.camera_id)
        if region:
            q = q.where(t.cameras.c.region == region)
        with self.engine.connect() as c:
            return [_row_to_record(r) for r in c.execute(q)]

    def cameras_version(self) -> int:
        """Changes whenever any camera is added, changed or removed (one indexed read)."""
        with self.engine.connect() as c:
            v = c.execute(sa.select(t.counters.c.value).where(t.counters.c.name == _VERSION)).scalar()
        return int(v or 0)

    def stream_url_with_credentials(self, camera_id: str) -> str:
        """The full stream URL, credentials included (for the control plane and admins only)."""
        with self.engine.connect() as c:
            r = c.execute(sa.select(t.cameras.c.stream_url, t.cameras.c.stream_credentials).where(t.cameras.c.camera_id == camera_id)).first()
        if r is None:
            self.get_camera(camera_id)  # raises with the known ids
        return join_credentials(r.stream_url, r.stream_credentials)

    # -- writes --------------------------------------------------------------------------
    def _bump(self, c: sa.Connection) -> None:
        n = c.execute(t.counters.update().where(t.counters.c.name == _VERSION).values(value=t.counters.c.value + 1)).rowcount
        if not n:
            c.execute(t.counters.insert().values(name=_VERSION, value=1))

    def _row(self, cam: CameraRecord) -> dict[str, Any]:
        self.stream_policy.check(cam.stream_url)
        url, creds = split_credentials(cam.stream_url)
        return dict(camera_id=cam.camera_id, region=cam.region, stream_url=url, stream_credentials=creds,
                    hints=json.dumps(cam.hints, sort_keys=True), zones=json.dumps(zones_to_json(cam.zones), sort_keys=True))

    def add_camera(self, cam: CameraRecord, *, actor: str = "system", strict: bool = False) -> bool:
        """Register ``cam``; True if created. Adding the identical record again changes
        nothing (False); a different record under an existing id raises
        :class:`ConflictError` (update it with :meth:`update_camera`). ``strict`` refuses any
        existing id (the API's POST)."""
        row = self._row(cam)
        with self.engine.begin() as c:
            existing = c.execute(sa.select(t.cameras).where(t.cameras.c.camera_id == cam.camera_id)).first()
            if existing is not None:
                same = all(getattr(existing, k) == v for k, v in row.items())
                if same and not strict:
                    return False
                raise ConflictError(
                    f"camera {cam.camera_id!r} exists already; change it with PUT/PATCH /cameras/{cam.camera_id} "
                    "(or `warehouse camera update`), or delete it first"
                )
            ts = now_ms()
            c.execute(t.cameras.insert().values(**row, created_ms=ts, updated_ms=ts))
            self._bump(c)
            self._audit_in(c, actor, "camera.create", cam.camera_id, {"region": cam.region, "stream_url": redact(row["stream_url"], row["stream_credentials"])})
        return True

    def update_camera(self, camera_id: str, *, actor: str = "system", region: str | None = None, stream_url: str | None = None,
                      hints: dict | None = None, zones: list | tuple | None = None) -> CameraRecord:
        """Change the given fields of a camera (``None`` keeps a field); returns the new record.
        A new ``stream_url`` without credentials keeps none (credentials travel with the URL)."""
        current = self.get_camera(camera_id)
        with self.engine.begin() as c:
            r = c.execute(sa.select(t.cameras).where(t.cameras.c.camera_id == camera_id)).first()
            if r is None:
                raise UnknownCameraError(camera_id)
            full_url = join_credentials(r.stream_url, r.stream_credentials) if stream_url is None else stream_url
            new = replace(current, stream_url=full_url,
                          region=current.region if region is None else region,
                          hints=current.hints if hints is None else hints,
                          zones=current.zones if zones is None else zones_from_json([z if isinstance(z, dict) else z.to_dict() for z in zones]))
            row = self._row(new)
            changed = sorted(k for k, v in row.items() if getattr(r, k) != v)
            if changed:
                c.execute(t.cameras.update().where(t.cameras.c.camera_id == camera_id).values(**row, updated_ms=now_ms()))
                self._bump(c)
                self._audit_in(c, actor, "camera.update", camera_id, {"fields": [k.replace("stream_credentials", "stream_url") for k in changed]})
        return self.get_camera(camera_id)

    def set_zones(self, camera_id: str, zones: list | tuple, *, actor: str = "system") -> CameraRecord:
        """Replace a camera's zones and lines (the ``warehouse camera zones`` CLI calls this)."""
        return self.update_camera(camera_id, zones=list(zones), actor=actor)

    def remove_camera(self, camera_id: str, *, actor: str = "system") -> None:
        with self.engine.begin() as c:
            n = c.execute(t.cameras.delete().where(t.cameras.c.camera_id == camera_id)).rowcount
            if not n:
                known = [x[0] for x in c.execute(sa.select(t.cameras.c.camera_id).limit(50))]
                raise UnknownCameraError(camera_id, known)
            self._bump(c)
            self._audit_in(c, actor, "camera.delete", camera_id, {})
