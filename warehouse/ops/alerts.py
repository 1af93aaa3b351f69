"""Alerts, operator feedback and reported misses; every event for the bus goes through the
outbox in the same transaction as the write it announces."""
from __future__ import annotations

import base64
import binascii
import hashlib
import json
import secrets
import time
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from warehouse.errors import InvalidInputError, UnknownAlertError
from warehouse.ops import tables as t
from warehouse.ops.cameras import now_ms
from warehouse.ops.errors import ConflictError

__all__ = ["ALERT_STATES", "AlertStoreMixin", "decode_cursor", "encode_cursor"]

ALERT_STATES = ("open", "confirmed", "rejected")
_TOPIC_FEEDBACK, _TOPIC_MISSES = "feedback", "miss-events"
_UPSERT = {name: ins(t.alerts).on_conflict_do_nothing(index_elements=["alert_id"]).returning(t.alerts.c.seq)
           for name, ins in (("sqlite", sqlite_insert), ("postgresql", pg_insert))}  # a row back = newly stored


def _wire(event: Any) -> dict[str, Any]:
    """Builders return a dict today; a versioned bus model is turned into its wire form."""
    if isinstance(event, dict):
        return event
    try:
        from warehouse.bus.events import to_wire  # the lead's versioned models, when present
    except ImportError:  # pragma: no cover
        return event.model_dump(mode="json")
    wire = to_wire(event)
    return json.loads(wire) if isinstance(wire, (str, bytes)) else wire


def _stable_id(prefix: str, *parts: str) -> str:
    return prefix + hashlib.sha256("|".join(parts).encode()).hexdigest()[:20]


def _feedback_event(feedback_id: str, alert: dict, verdict: str, operator: str, note: str) -> dict:
    """The ``feedback`` topic's event (warehouse.bus.events.FeedbackEvent) for one verdict."""
    from warehouse.bus.events import FeedbackEvent, to_wire

    mv = alert.get("model_version")
    ts = alert.get("ts_ms")
    return to_wire(FeedbackEvent(
        event_id=_stable_id("fbk-", feedback_id), feedback_id=feedback_id, alert_id=alert["alert_id"], camera_id=alert["camera_id"],
        algorithm_id=alert["algorithm_id"], verdict=verdict, operator=operator, note=note,
        model_version=None if mv is None else str(mv), score=alert.get("score"), frame_ref=alert.get("frame_ref"),
        evidence_sha256=alert.get("evidence_sha256"), alert_ts_ms=int(ts) if isinstance(ts, (int, float)) and not isinstance(ts, bool) else None))


def encode_cursor(ts_ms: int, seq: int) -> str:
    return base64.urlsafe_b64encode(f"{ts_ms}:{seq}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[int, int]:
    try:
        ts, seq = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode().split(":")
        return int(ts), int(seq)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise InvalidInputError(f"cursor {cursor[:40]!r} is not one this API handed out; pass the X-Next-Cursor of a previous page") from None


class AlertStoreMixin:
    engine: sa.Engine

    # -- alerts ------------------------------------------------------------------------
    def ingest_alert(self, alert: dict) -> bool:
        """Store an alert payload (from the ``alerts`` topic); False if already stored."""
        for k in ("alert_id", "camera_id", "algorithm_id", "ts_ms"):
            if k not in alert:
                raise InvalidInputError(f"alert payload lacks {k!r}: {sorted(alert)}; runtime alerts always carry it")
        ts = alert["ts_ms"]
        if isinstance(ts, bool) or not isinstance(ts, (int, float)):
            raise InvalidInputError(f"alert {alert['alert_id']!r}: ts_ms {ts!r} is not epoch milliseconds")
        region = alert.get("region") or self._region_of(alert["camera_id"])
        row = dict(alert_id=alert["alert_id"], camera_id=alert["camera_id"], region=region, algorithm_id=alert["algorithm_id"],
                   payload=json.dumps(alert, sort_keys=True), ts_ms=int(ts), status="open")
        with self.engine.begin() as c:
            if self.engine.dialect.name in _UPSERT:
                # one constant statement with bound parameters: compiled once, cached by SQLAlchemy
                return c.execute(_UPSERT[self.engine.dialect.name], row).first() is not None
            if c.execute(sa.select(t.alerts.c.seq).where(t.alerts.c.alert_id == alert["alert_id"])).first():
                return False
            c.execute(t.alerts.insert().values(**row))
        return True

    def _region_of(self, camera_id: str) -> str:
        """The camera's region for an incoming alert (cached; refreshed when cameras change)."""
        cache = getattr(self, "_regions", None)  # (cameras_version, checked at, {camera: region})
        now = time.monotonic()
        if cache is None or (now - cache[1] > 1.0 and (camera_id not in cache[2] or cache[0] != self.cameras_version())):
            with self.engine.connect() as c:
                cache = (self.cameras_version(), now, dict(c.execute(sa.select(t.cameras.c.camera_id, t.cameras.c.region)).all()))
            self._regions = cache
        elif now - cache[1] > 1.0:
            self._regions = (cache[0], now, cache[2])
        return cache[2].get(camera_id, "")

    @staticmethod
    def _public(r) -> dict:
        return {**json.loads(r.payload), "status": r.status, "region": r.region, "seq": int(r.seq)}

    def get_alert(self, alert_id: str) -> dict:
        with self.engine.connect() as c:
            r = c.execute(sa.select(t.alerts).where(t.alerts.c.alert_id == alert_id)).first()
        if r is None:
            raise UnknownAlertError(alert_id)
        return self._public(r)

    def page_alerts(self, *, camera_id: str | None = None, region: str | None = None, algorithm_id: str | None = None,
                    status: str | None = None, since_ms: int | None = None, until_ms: int | None = None,
                    limit: int = 100, cursor: str | None = None) -> tuple[list[dict], str | None]:
        """Newest first; returns the page and the cursor of the next one (None at the end)."""
        if status is not None and status not in ALERT_STATES:
            raise InvalidInputError(f"state {status!r} is not an alert state; use one of {ALERT_STATES}")
        a = t.alerts.c
        q = sa.select(t.alerts).order_by(a.ts_ms.desc(), a.seq.desc()).limit(limit + 1)
        for col, value in ((a.camera_id, camera_id), (a.region, region), (a.algorithm_id, algorithm_id), (a.status, status)):
            if value is not None:
                q = q.where(col == value)
        if since_ms is not None:
            q = q.where(a.ts_ms >= since_ms)
        if until_ms is not None:
            q = q.where(a.ts_ms < until_ms)
        if cursor:
            ts, seq = decode_cursor(cursor)
            q = q.where(sa.or_(a.ts_ms < ts, sa.and_(a.ts_ms == ts, a.seq < seq)))
        with self.engine.connect() as c:
            rows = c.execute(q).all()
        more = len(rows) > limit
        rows = rows[:limit]
        nxt = encode_cursor(int(rows[-1].ts_ms), int(rows[-1].seq)) if more and rows else None
        return [self._public(r) for r in rows], nxt

    def list_alerts(self, *, camera_id: str | None = None, status: str | None = None, limit: int = 100, **filters: Any) -> list[dict]:
        return self.page_alerts(camera_id=camera_id, status=status, limit=limit, **filters)[0]

    def alert_seq(self, alert_id: str) -> int | None:
        with self.engine.connect() as c:
            v = c.execute(sa.select(t.alerts.c.seq).where(t.alerts.c.alert_id == alert_id)).scalar()
        return None if v is None else int(v)

    def alerts_after(self, seq: int, *, limit: int = 1000) -> list[dict]:
        """Alerts stored after arrival number ``seq``, oldest first (the live stream's replay)."""
        q = sa.select(t.alerts).where(t.alerts.c.seq > seq).order_by(t.alerts.c.seq).limit(limit)
        with self.engine.connect() as c:
            return [self._public(r) for r in c.execute(q)]

    def alert_summary(self, *, since_ms: int | None = None) -> dict[str, Any]:
        """Counts per region and per camera, by state (the alert wall's side panel)."""
        a = t.alerts.c
        q = sa.select(a.region, a.camera_id, a.status, sa.func.count()).group_by(a.region, a.camera_id, a.status)
        if since_ms is not None:
            q = q.where(a.ts_ms >= since_ms)
        regions: dict[str, dict[str, int]] = {}
        cameras: dict[str, dict[str, Any]] = {}
        with self.engine.connect() as c:
            for region, cam, status, n in c.execute(q):
                regions.setdefault(region, dict.fromkeys(ALERT_STATES, 0))[status] += n
                cameras.setdefault(cam, {"region": region, **dict.fromkeys(ALERT_STATES, 0)})[status] += n
        return {"regions": regions, "cameras": cameras}

    # -- feedback ------------------------------------------------------------------------
    def record_feedback(self, alert_id: str, *, verdict: str, operator: str, note: str = "") -> dict:
        """One verdict per (alert, operator): the same verdict again returns the first one
        (``created`` False, no second event); the opposite verdict raises ConflictError.
        The ``feedback`` event is written to the outbox in the same transaction. Two requests
        racing for the same (alert, operator) -- a double click, a retried request -- end the
        same way: the loser's insert meets the unique key and it answers as a repeat."""
        if verdict not in ("confirm", "reject"):
            raise InvalidInputError(f"verdict {verdict!r} is not valid; use 'confirm' or 'reject'")
        try:
            return self._record_feedback(alert_id, verdict, operator, note)
        except sa.exc.IntegrityError:  # the other request wrote it first: read it back (same verdict, or a conflict)
            return self._record_feedback(alert_id, verdict, operator, note)

    def _record_feedback(self, alert_id: str, verdict: str, operator: str, note: str) -> dict:
        with self.engine.begin() as c:
            r = c.execute(sa.select(t.alerts).where(t.alerts.c.alert_id == alert_id)).first()
            if r is None:
                raise UnknownAlertError(alert_id)
            alert = json.loads(r.payload)
            old = c.execute(sa.select(t.feedback).where(t.feedback.c.alert_id == alert_id, t.feedback.c.operator == operator)).first()
            if old is not None:
                if old.verdict != verdict:
                    raise ConflictError(f"{operator!r} already gave alert {alert_id!r} the verdict {old.verdict!r}; "
                                        "a verdict is final per operator (ask another operator to review it)")
                return {"feedback_id": old.feedback_id, "alert": alert, "verdict": verdict, "operator": operator,
                        "note": old.note, "event_id": old.event_id, "created": False}
            fb_id = "fb-" + secrets.token_hex(8)
            event = _feedback_event(fb_id, alert, verdict, operator, note)
            c.execute(t.feedback.insert().values(feedback_id=fb_id, alert_id=alert_id, verdict=verdict, operator=operator,
                                                 note=note, ts_ms=now_ms(), event_id=event["event_id"]))
            c.execute(t.alerts.update().where(t.alerts.c.alert_id == alert_id)
                      .values(status="confirmed" if verdict == "confirm" else "rejected"))
            self._outbox_in(c, _TOPIC_FEEDBACK, event.get("algorithm_id") or alert["algorithm_id"], event)
        return {"feedback_id": fb_id, "alert": alert, "verdict": verdict, "operator": operator, "note": note,
                "event_id": event["event_id"], "created": True}

    def record_miss(self, *, camera_id: str, event_type: str, ts_ms: int, reporter: str, algorithm_id: str | None = None,
                    frame_ref: str | None = None, note: str = "") -> dict:
        """A reported miss, stored and put in the outbox for ``miss-events`` in one transaction;
        the same report again (same camera, event, time, reporter, frame) is one event."""
        from warehouse.bus.events import MissEvent, to_wire

        event_id = _stable_id("miss-", camera_id, event_type, str(ts_ms), reporter, frame_ref or "")
        event = to_wire(MissEvent(event_id=event_id, kind="missed_event", camera_id=camera_id, algorithm_id=algorithm_id,
                                  event_type=event_type, frame_ref=frame_ref, ts_ms=ts_ms, reporter=reporter, note=note))
        try:
            with self.engine.begin() as c:
                if c.execute(sa.select(t.misses.c.event_id).where(t.misses.c.event_id == event["event_id"])).first():
                    return {"event_id": event["event_id"], "algorithm_id": algorithm_id, "created": False}
                c.execute(t.misses.insert().values(event_id=event["event_id"], camera_id=camera_id, event_type=event_type,
                                                   algorithm_id=algorithm_id, reporter=reporter, ts_ms=ts_ms, created_ms=now_ms()))
                self._outbox_in(c, _TOPIC_MISSES, algorithm_id or f"event:{event_type}", event)
        except sa.exc.IntegrityError:  # the same report raced in first: one event
            return {"event_id": event["event_id"], "algorithm_id": algorithm_id, "created": False}
        return {"event_id": event["event_id"], "algorithm_id": algorithm_id, "created": True}

    # -- outbox ----------------------------------------------------------------------------
    def _outbox_in(self, c: sa.Connection, topic: str, key: str | None, event: dict) -> None:
        c.execute(t.outbox.insert().values(topic=topic, key=key, event_id=event["event_id"], payload=json.dumps(event, sort_keys=True),
                                           created_ms=now_ms(), attempts=0))

    def enqueue_event(self, topic: str, value: dict, *, key: str | None = None) -> bool:
        """Put one event in the outbox on its own (for writes made in another database, e.g. a
        catalog stage change); False if that event id is queued already."""
        event = _wire(value)
        with self.engine.begin() as c:
            if c.execute(sa.select(t.outbox.c.id).where(t.outbox.c.event_id == event["event_id"])).first():
                return False
            self._outbox_in(c, topic, key, event)
        return True

    def feedback_by_version(self, algorithm_id: str, *, limit: int = 100_000) -> dict[str, dict[str, int]]:
        """``{model_version: {confirm, reject}}`` of operators' verdicts on this algorithm's alerts."""
        q = (sa.select(t.alerts.c.payload, t.feedback.c.verdict)
             .join(t.feedback, t.feedback.c.alert_id == t.alerts.c.alert_id)
             .where(t.alerts.c.algorithm_id == algorithm_id).order_by(t.alerts.c.seq.desc()).limit(limit))
        out: dict[str, dict[str, int]] = {}
        with self.engine.connect() as c:
            for payload, verdict in c.execute(q):
                v = str(json.loads(payload).get("model_version"))
                out.setdefault(v, {"confirm": 0, "reject": 0})[verdict] += 1
        return out

    def pending_outbox(self, *, limit: int = 200) -> list[dict]:
        o = t.outbox.c
        q = sa.select(o.id, o.topic, o.key, o.payload, o.attempts).where(o.published_ms.is_(None)).order_by(o.id).limit(limit)
        with self.engine.connect() as c:
            return [{"id": int(r.id), "topic": r.topic, "key": r.key, "value": json.loads(r.payload), "attempts": r.attempts} for r in c.execute(q)]

    def mark_published(self, ids: list[int]) -> None:
        if ids:
            with self.engine.begin() as c:
                c.execute(t.outbox.update().where(t.outbox.c.id.in_(ids)).values(published_ms=now_ms(), last_error=None))

    def mark_failed(self, ids: list[int], error: str) -> None:
        if ids:
            with self.engine.begin() as c:
                c.execute(t.outbox.update().where(t.outbox.c.id.in_(ids))
                          .values(attempts=t.outbox.c.attempts + 1, last_error=error[:2000]))

    def outbox_stats(self) -> dict[str, Any]:
        o = t.outbox.c
        with self.engine.connect() as c:
            pending, oldest = c.execute(sa.select(sa.func.count(), sa.func.min(o.created_ms)).where(o.published_ms.is_(None))).one()
            published = c.execute(sa.select(sa.func.count()).where(o.published_ms.is_not(None))).scalar()
        return {"pending": int(pending), "published": int(published or 0),
                "oldest_pending_age_s": None if oldest is None else round((now_ms() - int(oldest)) / 1000, 3)}
