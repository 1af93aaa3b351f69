"""Operator feedback and reported misses as bus events (pure payload builders).

Payload conventions on every topic: ``event_id`` (stable, so consumers can deduplicate),
``type``, ``ts_ms``. Feedback and miss events are keyed by algorithm id, so one
algorithm's events stay in order and its retraining loop reads them in order.

A rejection is a *false alarm* mistake and a reported miss is a *missed event* mistake:
both land on ``miss-events`` and drive the retraining loop; ``feedback`` also carries
confirmations, which the knowledge graph learns from.
"""
from __future__ import annotations

import hashlib
import time

from warehouse.errors import InvalidInputError

MISS_FALSE_ALARM = "false_alarm"
MISS_MISSED_EVENT = "missed_event"


def _stable_id(prefix: str, *parts: str) -> str:
    return prefix + hashlib.sha256("|".join(parts).encode()).hexdigest()[:20]


def feedback_event(*, feedback_id: str, alert: dict, verdict: str, operator: str, note: str = "") -> dict:
    return {
        "event_id": _stable_id("fbk-", feedback_id),
        "type": "alert_feedback",
        "ts_ms": int(time.time() * 1000),
        "feedback_id": feedback_id,
        "verdict": verdict,
        "operator": operator,
        "note": note,
        "alert_id": alert["alert_id"],
        "camera_id": alert["camera_id"],
        "algorithm_id": alert["algorithm_id"],
        "model_version": alert.get("model_version"),
        "score": alert.get("score"),
        "frame_ref": alert.get("frame_ref"),
        "evidence_sha256": alert.get("evidence_sha256"),
        "alert_ts_ms": alert.get("ts_ms"),
    }


def miss_event_from_rejection(fb: dict) -> dict:
    """The miss event a rejection becomes (same input -> same event_id)."""
    if fb.get("type") != "alert_feedback" or fb.get("verdict") != "reject":
        raise InvalidInputError(f"only a rejection becomes a miss event; got type={fb.get('type')!r} verdict={fb.get('verdict')!r}")
    return {
        "event_id": _stable_id("miss-", fb["event_id"]),
        "type": "miss",
        "kind": MISS_FALSE_ALARM,
        # the contract's FeedbackEvent has no ts_ms: the false alarm happened at the alert's time
        "ts_ms": fb.get("alert_ts_ms") or fb.get("ts_ms") or int(time.time() * 1000),
        "camera_id": fb["camera_id"],
        "algorithm_id": fb["algorithm_id"],
        "model_version": fb.get("model_version"),
        "frame_ref": fb.get("frame_ref"),
        "source_event_id": fb["event_id"],
        "alert_id": fb["alert_id"],
        "note": fb.get("note", ""),
    }


def miss_event_from_report(*, camera_id: str, event_type: str, ts_ms: int, reporter: str,
                           algorithm_id: str | None = None, frame_ref: str | None = None, note: str = "") -> dict:
    return {
        "event_id": _stable_id("miss-", camera_id, event_type, str(ts_ms), reporter, frame_ref or ""),
        "type": "miss",
        "kind": MISS_MISSED_EVENT,
        "ts_ms": int(ts_ms),
        "camera_id": camera_id,
        "event_type": event_type,
        "algorithm_id": algorithm_id,
        "frame_ref": frame_ref,
        "reporter": reporter,
        "note": note,
    }
