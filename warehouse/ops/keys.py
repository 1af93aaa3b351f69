"""API keys (roles, unique names, the last admin kept) and the audit log (who, what, when)."""
from __future__ import annotations

import hashlib
import json
import logging
import secrets
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from warehouse.errors import InvalidInputError
from warehouse.ops import tables as t
from warehouse.ops.cameras import now_ms
from warehouse.ops.errors import ConflictError, LastAdminError, UnknownKeyError

__all__ = ["ROLES", "ApiKey", "AuditEntry", "KeyStoreMixin", "hash_key", "role_allows"]

log = logging.getLogger(__name__)
ROLES = ("viewer", "operator", "admin")
_ROLE_RANK = {r: i for i, r in enumerate(ROLES)}
BOOTSTRAP_NAME = "bootstrap-admin"


@dataclass(frozen=True, slots=True)
class ApiKey:
    key_id: str
    role: str
    name: str

    def __str__(self) -> str:
        return f"{self.name} ({self.key_id}, {self.role})"


@dataclass(frozen=True, slots=True)
class AuditEntry:
    id: int
    ts_ms: int
    actor: str
    action: str
    target: str
    detail: dict

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "ts_ms": self.ts_ms, "actor": self.actor, "action": self.action, "target": self.target, "detail": self.detail}


def hash_key(raw_key: str) -> str:
    # API keys are 256-bit random tokens, so a fast hash is enough (no dictionary to attack);
    # only the hash is stored.
    return hashlib.sha256(raw_key.encode("utf-8")).hexdigest()


def role_allows(have: str, need: str) -> bool:
    return _ROLE_RANK.get(have, -1) >= _ROLE_RANK[need]


class KeyStoreMixin:
    engine: sa.Engine

    # -- keys ----------------------------------------------------------------------------
    def create_api_key(self, *, role: str, name: str, raw_key: str | None = None, actor: str = "system") -> tuple[ApiKey, str]:
        """Create a key; returns the record and the raw key (shown once, stored hashed).
        Names are unique among keys, revoked ones included (the audit log names them)."""
        if role not in ROLES:
            raise InvalidInputError(f"role {role!r} is not valid; use one of {ROLES}")
        if not isinstance(name, str) or not name.strip() or len(name) > 128:
            raise InvalidInputError(f"key name {name!r} must be 1-128 characters")
        raw = raw_key or secrets.token_urlsafe(32)
        if len(raw) < 16:
            raise InvalidInputError("an API key must be at least 16 characters; leave it out to get a random one")
        key = ApiKey("key-" + secrets.token_hex(6), role, name)
        with self.engine.begin() as c:
            if c.execute(sa.select(t.api_keys.c.key_id).where(t.api_keys.c.name == name)).first():
                raise ConflictError(f"an API key named {name!r} exists already; pick another name (`warehouse keys list`)")
            if c.execute(sa.select(t.api_keys.c.key_id).where(t.api_keys.c.key_sha256 == hash_key(raw))).first():
                raise ConflictError("that API key value is in use already (or was revoked); generate a new one")
            c.execute(t.api_keys.insert().values(key_id=key.key_id, key_sha256=hash_key(raw), role=role, name=name,
                                                 created_ms=now_ms(), revoked=False))
            self._audit_in(c, actor, "key.create", key.key_id, {"name": name, "role": role})
        return key, raw

    def ensure_api_key(self, *, role: str, name: str, raw_key: str) -> ApiKey | None:
        """The active key with this value, else create it; a revoked value stays revoked (None)."""
        found = self.authenticate(raw_key)
        if found is not None:
            return found
        with self.engine.connect() as c:
            if c.execute(sa.select(t.api_keys.c.key_id).where(t.api_keys.c.key_sha256 == hash_key(raw_key))).first():
                log.warning("configured key %r was revoked; not recreating it", name)
                return None
            taken = {r[0] for r in c.execute(sa.select(t.api_keys.c.name).where(t.api_keys.c.name.like(f"{name}%")))}
        unique = name if name not in taken else next(f"{name}-{i}" for i in range(2, 10_000) if f"{name}-{i}" not in taken)
        return self.create_api_key(role=role, name=unique, raw_key=raw_key)[0]

    def ensure_bootstrap_admin(self, raw_key: str) -> ApiKey | None:
        """At start (``WAREHOUSE_BOOTSTRAP_ADMIN_KEY``): create that admin key only when no
        active admin exists and the value was never revoked; otherwise change nothing. So a
        restart after revoking the bootstrap key starts normally, and an edited env var can
        not mint a second admin behind the others' backs."""
        found = self.authenticate(raw_key)
        if found is not None:
            return found
        if self._active_admins():
            log.info("bootstrap admin key ignored: active admin keys exist")
            return None
        return self.ensure_api_key(role="admin", name=BOOTSTRAP_NAME, raw_key=raw_key)

    def _active_admins(self, c: sa.Connection | None = None) -> int:
        q = sa.select(sa.func.count()).where(t.api_keys.c.role == "admin", t.api_keys.c.revoked.is_(False))
        if c is not None:
            return int(c.execute(q).scalar())
        with self.engine.connect() as conn:
            return int(conn.execute(q).scalar())

    def authenticate(self, raw_key: str) -> ApiKey | None:
        if not isinstance(raw_key, str) or not raw_key or len(raw_key) > 512:
            return None
        with self.engine.connect() as c:
            r = c.execute(sa.select(t.api_keys).where(t.api_keys.c.key_sha256 == hash_key(raw_key), t.api_keys.c.revoked.is_(False))).first()
        return None if r is None else ApiKey(r.key_id, r.role, r.name)

    def list_api_keys(self, *, include_revoked: bool = True) -> list[dict[str, Any]]:
        q = sa.select(t.api_keys).order_by(t.api_keys.c.created_ms, t.api_keys.c.key_id)
        if not include_revoked:
            q = q.where(t.api_keys.c.revoked.is_(False))
        with self.engine.connect() as c:
            return [{"key_id": r.key_id, "name": r.name, "role": r.role, "created_ms": int(r.created_ms),
                     "revoked": bool(r.revoked), "revoked_ms": r.revoked_ms} for r in c.execute(q)]

    def revoke_api_key(self, key_id: str, *, actor: str = "system") -> None:
        """Revoke a key; refuses the last active admin key (create another admin first)."""
        with self.engine.begin() as c:
            r = c.execute(sa.select(t.api_keys).where(t.api_keys.c.key_id == key_id)).first()
            if r is None:
                raise UnknownKeyError(key_id)
            if r.revoked:
                return
            if r.role == "admin" and self._active_admins(c) <= 1:
                raise LastAdminError(f"key {key_id} ({r.name}) is the last active admin key; create another admin key "
                                     "(`warehouse keys create --role admin`) before revoking it")
            c.execute(t.api_keys.update().where(t.api_keys.c.key_id == key_id).values(revoked=True, revoked_ms=now_ms()))
            self._audit_in(c, actor, "key.revoke", key_id, {"name": r.name, "role": r.role})

    # -- audit -----------------------------------------------------------------------------
    def _audit_in(self, c: sa.Connection, actor: str, action: str, target: str, detail: dict) -> None:
        c.execute(t.audit.insert().values(ts_ms=now_ms(), actor=str(actor)[:200], action=action, target=str(target)[:300],
                                          detail=json.dumps(detail, sort_keys=True, default=str)))

    def audit(self, *, actor: str, action: str, target: str, detail: dict | None = None) -> None:
        """Record an action done elsewhere (a promotion, rollback, retirement...)."""
        with self.engine.begin() as c:
            self._audit_in(c, actor, action, target, detail or {})

    def list_audit(self, *, action: str | None = None, actor: str | None = None, target: str | None = None,
                   since_ms: int | None = None, before_id: int | None = None, limit: int = 100) -> list[AuditEntry]:
        a = t.audit.c
        q = sa.select(t.audit).order_by(a.id.desc()).limit(limit)
        if action:
            q = q.where(a.action.like(action.replace("*", "%")) if "*" in action else a.action == action)
        if actor:
            q = q.where(a.actor == actor)
        if target:
            q = q.where(a.target == target)
        if since_ms is not None:
            q = q.where(a.ts_ms >= since_ms)
        if before_id is not None:
            q = q.where(a.id < before_id)
        with self.engine.connect() as c:
            return [AuditEntry(int(r.id), int(r.ts_ms), r.actor, r.action, r.target, json.loads(r.detail)) for r in c.execute(q)]
