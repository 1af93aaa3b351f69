"""Typed events: one versioned pydantic model per topic, shared by producers and consumers.

Producers build a model and publish :func:`to_wire` of it; consumers call
:func:`parse_event` on a record's value and get the model back, or an
:class:`EventSchemaError` (a :class:`~warehouse.bus.MalformedEvent`, so the idempotent
consumer dead-letters it) whose message names the field, the value and what was expected.

Every event carries ``schema_version``, a stable ``event_id`` (consumers deduplicate on it),
its ``type`` and ``time_utc``: the producer's wall clock in UTC, ISO 8601 with ``Z`` on the
wire, so any client (``kcat`` included) reads a real time. An alert also carries the
stream's own clock (``stream_ts_ms``, e.g. the offset in a video file) beside ``ts_ms``,
the frame's wall-clock time in epoch milliseconds.

>>> ev = AlertEvent.build(camera_id="cam-7", algorithm_id="scene.road.smoke", model_version="3", score=0.9,
...                       xyxy=(0, 0, 64, 48), frame_index=12, stream_ts_ms=2400, ts_ms=1_780_000_000_000,
...                       alert_id="al-1")
>>> wire = to_wire(ev)
>>> wire["type"], wire["frame_ref"], wire["time_utc"].endswith("Z")
('alert', 'cam-7:12', True)
>>> parse_event("alerts", wire).alert_id
'al-1'
>>> parse_event("alerts", {**wire, "ts_ms": None})
Traceback (most recent call last):
...
warehouse.bus.events.EventSchemaError: alerts event 'al-1': field 'ts_ms' = None: Input should be a valid integer
"""
from __future__ import annotations

import math
from datetime import datetime, timezone
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_serializer, field_validator

from warehouse.bus.api import (
    TOPIC_ALERTS,
    TOPIC_CONTROL,
    TOPIC_DEAD_LETTER,
    TOPIC_FEEDBACK,
    TOPIC_MISS_EVENTS,
    TOPIC_MODEL_UPDATES,
)
from warehouse.bus.errors import MalformedEvent

SCHEMA_VERSION = 1

# ids: printable, no path separators; 1..200 chars
_ID = r"^[A-Za-z0-9][A-Za-z0-9._:@-]{0,199}$"
_ALG = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,199}$"
# wall-clock epoch ms between 2000-01-01 and 2100-01-01
_MIN_WALL_MS, _MAX_WALL_MS = 946_684_800_000, 4_102_444_800_000
_MAX_STREAM_MS = 10 * 365 * 86_400_000  # ten years of video


class EventSchemaError(MalformedEvent):
    """A record that does not match its topic's schema; ``field`` and ``value`` name what failed."""

    def __init__(self, message: str, *, topic: str, field: str | None = None, value: Any = None) -> None:
        super().__init__(message)
        self.topic, self.field, self.value = topic, field, value


def now_utc() -> datetime:
    return datetime.now(timezone.utc)


def wall_ms(t: datetime | None = None) -> int:
    """Epoch milliseconds of ``t`` (default: now)."""
    return int((t or now_utc()).timestamp() * 1000)


class BusEvent(BaseModel):
    """Fields every event has. Strict: unknown fields are refused, ints are not bools."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=False)

    schema_version: Literal[1] = SCHEMA_VERSION
    event_id: str = Field(pattern=_ID)
    type: str
    time_utc: datetime = Field(default_factory=now_utc)

    @field_validator("time_utc")
    @classmethod
    def _utc(cls, v: datetime) -> datetime:
        if v.tzinfo is None:
            raise ValueError("time_utc must carry a time zone (UTC, e.g. '2026-12-01T10:00:00Z')")
        return v.astimezone(timezone.utc)

    @field_serializer("time_utc")
    def _iso(self, v: datetime) -> str:
        return v.astimezone(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")

    @field_validator("*", mode="before")
    @classmethod
    def _no_bool_numbers(cls, v: Any, info) -> Any:
        # JSON true/false must never pass as 1/0 for a number field
        if isinstance(v, bool) and info.field_name not in _BOOL_FIELDS:
            raise ValueError(f"expected a number or string, got the boolean {v!r}")
        return v


_BOOL_FIELDS: frozenset[str] = frozenset()


def _finite(v: float | None, name: str) -> float | None:
    if v is not None and not math.isfinite(v):
        raise ValueError(f"{name} must be a finite number, got {v!r}")
    return v


class AlertEvent(BusEvent):
    type: Literal["alert"] = "alert"
    alert_id: str = Field(pattern=_ID)
    camera_id: str = Field(pattern=_ID)
    algorithm_id: str = Field(pattern=_ALG)
    model_version: str = Field(default="", max_length=64)
    score: float
    threshold: float | None = None
    xyxy: tuple[float, float, float, float]
    frame_index: int = Field(ge=0, le=2**53)
    stream_ts_ms: int = Field(ge=0, le=_MAX_STREAM_MS)
    ts_ms: int = Field(ge=_MIN_WALL_MS, le=_MAX_WALL_MS)
    frame_ref: str = Field(pattern=_ID)
    evidence_sha256: str | None = Field(default=None, pattern=r"^[0-9a-f]{64}$")
    region_cell: tuple[int, int] = (0, 0)
    worker_id: str | None = Field(default=None, pattern=_ID)
    label: str | None = Field(default=None, max_length=200)

    @field_validator("score", "threshold")
    @classmethod
    def _finite_scores(cls, v, info):
        return _finite(v, info.field_name)

    @field_validator("xyxy")
    @classmethod
    def _box(cls, v):
        if not all(math.isfinite(x) for x in v) or v[2] < v[0] or v[3] < v[1]:
            raise ValueError(f"xyxy {list(v)} must be 4 finite numbers with x1 >= x0 and y1 >= y0")
        return v

    @classmethod
    def build(cls, *, alert_id: str, camera_id: str, frame_index: int, **kw: Any) -> "AlertEvent":
        return cls(event_id=alert_id, alert_id=alert_id, camera_id=camera_id, frame_index=frame_index,
                   frame_ref=frame_ref(camera_id, frame_index), **kw)


class FeedbackEvent(BusEvent):
    type: Literal["alert_feedback"] = "alert_feedback"
    feedback_id: str = Field(pattern=_ID)
    alert_id: str = Field(pattern=_ID)
    camera_id: str = Field(pattern=_ID)
    algorithm_id: str = Field(pattern=_ALG)
    verdict: Literal["confirm", "reject"]
    operator: str = Field(min_length=1, max_length=128)
    note: str = Field(default="", max_length=2000)
    model_version: str | None = Field(default=None, max_length=64)
    score: float | None = None
    frame_ref: str | None = Field(default=None, pattern=_ID)
    evidence_sha256: str | None = Field(default=None, pattern=r"^[0-9a-f]{64}$")
    alert_ts_ms: int | None = Field(default=None, ge=0, le=_MAX_WALL_MS)

    @field_validator("score")
    @classmethod
    def _finite_score(cls, v):
        return _finite(v, "score")


class MissEvent(BusEvent):
    type: Literal["miss"] = "miss"
    kind: Literal["false_alarm", "missed_event"]
    camera_id: str = Field(pattern=_ID)
    algorithm_id: str | None = Field(default=None, pattern=_ALG)
    event_type: str | None = Field(default=None, pattern=r"^[a-z0-9][a-z0-9_]{0,63}$")
    model_version: str | None = Field(default=None, max_length=64)
    frame_ref: str | None = Field(default=None, pattern=_ID)
    ts_ms: int = Field(ge=0, le=_MAX_WALL_MS)
    source_event_id: str | None = Field(default=None, pattern=_ID)
    alert_id: str | None = Field(default=None, pattern=_ID)
    reporter: str | None = Field(default=None, max_length=128)
    note: str = Field(default="", max_length=2000)


ModelAction = Literal["registered", "canary_started", "canary_stopped", "promoted", "rolled_back", "retired"]


class ModelUpdateEvent(BusEvent):
    type: Literal["model_update"] = "model_update"
    algorithm_id: str = Field(pattern=_ALG)
    version: int = Field(ge=1, le=2**31)
    action: ModelAction
    stage: str = Field(min_length=1, max_length=32)
    previous_version: int | None = Field(default=None, ge=1, le=2**31)
    artifact_sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    canary_cameras: tuple[str, ...] = ()
    reason: str = Field(default="", max_length=2000)


class DeadLetterEvent(BusEvent):
    type: Literal["dead_letter"] = "dead_letter"
    source_topic: str = Field(min_length=1, max_length=200)
    source_partition: int = Field(ge=0)
    source_offset: int = Field(ge=0)
    source_key: str | None = None
    consumer_group: str = Field(min_length=1, max_length=200)
    reason: str = Field(max_length=10_000)
    error_type: str = Field(default="", max_length=200)
    original_b64: str = ""


ControlAction = Literal["camera_placed", "camera_stopped", "camera_moved", "camera_failed", "model_swapped",
                        "worker_started", "worker_lost", "plan_applied"]


class ControlEvent(BusEvent):
    type: Literal["control"] = "control"
    action: ControlAction
    camera_id: str | None = Field(default=None, pattern=_ID)
    worker_id: str | None = Field(default=None, pattern=_ID)
    node_id: str | None = Field(default=None, max_length=200)
    algorithm_id: str | None = Field(default=None, pattern=_ALG)
    version: str | None = Field(default=None, max_length=64)
    detail: dict[str, Any] = Field(default_factory=dict)


SCHEMAS: dict[str, type[BusEvent]] = {
    TOPIC_ALERTS: AlertEvent,
    TOPIC_FEEDBACK: FeedbackEvent,
    TOPIC_MISS_EVENTS: MissEvent,
    TOPIC_MODEL_UPDATES: ModelUpdateEvent,
    TOPIC_DEAD_LETTER: DeadLetterEvent,
    TOPIC_CONTROL: ControlEvent,
}


def frame_ref(camera_id: str, frame_index: int) -> str:
    """The frame pool's key of one frame: ``{camera_id}:{frame_index}``."""
    return f"{camera_id}:{int(frame_index)}"


def schema_for(topic: str) -> type[BusEvent]:
    try:
        return SCHEMAS[topic]
    except KeyError:
        raise EventSchemaError(f"topic {topic!r} has no event schema; known topics: {sorted(SCHEMAS)}", topic=topic,
                               value=topic) from None


def parse_event(topic: str, value: Any) -> BusEvent:
    """Validate one record's value against ``topic``'s schema; :class:`EventSchemaError` names what failed."""
    cls = schema_for(topic)
    if not isinstance(value, dict):
        raise EventSchemaError(f"{topic} record is a {type(value).__name__}, not a JSON object", topic=topic, value=value)
    try:
        return cls.model_validate(value)
    except ValidationError as exc:
        err = exc.errors()[0]
        field = ".".join(str(p) for p in err.get("loc", ())) or None
        got = err.get("input")
        shown = repr(got) if len(repr(got)) <= 120 else repr(got)[:117] + "..."
        msg = err.get("msg", "invalid").removeprefix("Value error, ")
        ident = value.get("event_id")
        raise EventSchemaError(f"{topic} event {ident!r}: field {field!r} = {shown}: {msg}", topic=topic, field=field,
                               value=got) from None


def to_wire(event: BusEvent) -> dict[str, Any]:
    """The JSON object published on the bus (``time_utc`` as ISO 8601 ``Z``, tuples as lists)."""
    return event.model_dump(mode="json")


__all__ = [
    "SCHEMA_VERSION", "SCHEMAS", "TOPIC_CONTROL", "AlertEvent", "BusEvent", "ControlEvent", "DeadLetterEvent",
    "EventSchemaError", "FeedbackEvent", "MissEvent", "ModelUpdateEvent", "frame_ref", "now_utc", "parse_event",
    "schema_for", "to_wire", "wall_ms",
]
