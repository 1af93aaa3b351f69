"""Pydantic schemas at the API edge (Base / Create / Update / Public) and the error body."""
from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:@-]{0,199}$"
CAMERA_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$"
ALGORITHM_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,199}$"
EVENT_TYPE_PATTERN = r"^[a-z0-9][a-z0-9_]{0,63}$"
MIN_TS_MS, MAX_TS_MS = 946_684_800_000, 4_102_444_800_000  # 2000-01-01 .. 2100-01-01 UTC
def _no_bool(v):
    # JSON true/false must never pass as 1/0 for a number (pydantic's lax mode would take them)
    if isinstance(v, bool):
        raise ValueError(f"expected an integer, got the boolean {str(v).lower()}")
    return v


EpochMs = Annotated[int, BeforeValidator(_no_bool), Field(ge=MIN_TS_MS, le=MAX_TS_MS, description="Wall-clock UTC epoch milliseconds (2000..2100).")]
VersionNumber = Annotated[int, Field(ge=1, le=2**31 - 1)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class FieldError(BaseModel):
    field: str = Field(description="Where: 'body.ts_ms', 'query.limit', 'path.camera_id'.")
    message: str
    type: str


class ErrorBody(BaseModel):
    """Every refusal (4xx/5xx) has this body."""

    detail: str = Field(description="What was wrong, with the value and the fix.")
    error: str = Field(description="Error class, e.g. 'ConflictError', 'ValidationError', 'Unauthorized'.")
    field: str | None = Field(default=None, description="The offending field, when one is to blame.")
    errors: list[FieldError] = Field(default_factory=list, description="Every field error (validation failures).")


# -- cameras ------------------------------------------------------------------------------
ZoneKind = Literal["crowd", "intrusion", "no_parking", "lane", "no_pedestrian", "tripwire", "lane_line"]


class TimeWindow(_Strict):
    start: str = Field(pattern=r"^([01]\d|2[0-3]):[0-5]\d$", examples=["22:00"])
    end: str = Field(pattern=r"^([01]\d|2[0-3]):[0-5]\d$", examples=["06:00"])


class ZoneSchema(_Strict):
    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9 ._-]{0,63}$", examples=["pier-east"])
    kind: ZoneKind
    points_xy: list[Annotated[list[Annotated[float, Field(ge=0, le=16384, allow_inf_nan=False)]], Field(min_length=2, max_length=2)]] = Field(
        min_length=2, max_length=64, description="Corners (zones) or vertices (lines) in the camera's pixels.",
        examples=[[[0, 0], [640, 0], [640, 360]]])
    window: TimeWindow | None = Field(default=None, description="Intrusion zones: local time window, may wrap midnight.")
    direction_deg: float | None = Field(default=None, ge=0, lt=360, allow_inf_nan=False, description="Lanes: allowed direction.")
    max_people: Annotated[int, BeforeValidator(_no_bool)] | None = Field(default=None, ge=1, le=100_000, description="Crowd zones: alert above this count.")


StreamUrl = Annotated[str, Field(min_length=1, max_length=2048, examples=["rtsp://10.0.0.5/stream1", "synthetic://seafront?seed=3"])]
Hints = Annotated[dict[str, Any], Field(description="Optional hints, e.g. {'scenes': ['seafront']}.", max_length=32)]


class CameraBase(_Strict):
    region: str = Field(min_length=1, max_length=128, pattern=r"^\S(.*\S)?$", examples=["harbour"])
    stream_url: StreamUrl
    hints: Hints = Field(default_factory=dict)
    zones: list[ZoneSchema] = Field(default_factory=list, max_length=64)


class CameraCreate(CameraBase):
    camera_id: str = Field(pattern=CAMERA_ID_PATTERN, examples=["harbour-cam-07"])


class CameraUpdate(_Strict):
    """PATCH: only the fields given change."""

    region: str | None = Field(default=None, min_length=1, max_length=128, pattern=r"^\S(.*\S)?$")
    stream_url: StreamUrl | None = None
    hints: Hints | None = None
    zones: list[ZoneSchema] | None = Field(default=None, max_length=64)


class CameraPublic(BaseModel):
    camera_id: str
    region: str
    stream_url: str = Field(description="Credentials are masked as *** below admin.")
    has_credentials: bool = False
    hints: dict[str, Any] = Field(default_factory=dict)
    zones: list[dict[str, Any]] = Field(default_factory=list)
    created_ms: int = 0
    updated_ms: int = 0


class ZonesPut(_Strict):
    zones: list[ZoneSchema] = Field(max_length=64)


class CameraHealthPublic(BaseModel):
    camera_id: str
    source: Literal["control", "graph", "none"] = Field(description="Who reported it: the control plane, or the graph only.")
    state: str = Field(description="e.g. running, backoff, stopped, unknown.")
    fps: float | None = None
    detail: dict[str, Any] = Field(default_factory=dict)


class SceneLink(BaseModel):
    scene: str
    confidence: float


class CameraScenesPublic(BaseModel):
    camera_id: str
    scenes: list[SceneLink]
    primary_scene: str | None = None


# -- alerts, feedback, misses ---------------------------------------------------------------
class FeedbackCreate(_Strict):
    verdict: Literal["confirm", "reject"]
    note: str = Field(default="", max_length=2000)


class FeedbackPublic(BaseModel):
    feedback_id: str
    alert_id: str
    verdict: str
    event_id: str
    created: bool = Field(description="False when this operator had given this verdict already (nothing new published).")


class MissCreate(_Strict):
    camera_id: str = Field(pattern=CAMERA_ID_PATTERN)
    event_type: str = Field(pattern=EVENT_TYPE_PATTERN, examples=["illegal_parking"])
    ts_ms: EpochMs
    algorithm_id: str | None = Field(default=None, pattern=ALGORITHM_ID_PATTERN, description="The algorithm that should have caught it (must be in the catalog).")
    frame_ref: str | None = Field(default=None, pattern=ID_PATTERN, description="Id of a retained frame showing the event, if known.")
    note: str = Field(default="", max_length=2000)


class MissPublic(BaseModel):
    event_id: str
    algorithm_id: str | None
    created: bool = True


class AlertSummaryPublic(BaseModel):
    regions: dict[str, dict[str, int]]
    cameras: dict[str, dict[str, Any]]


# -- keys, audit ---------------------------------------------------------------------------
class ApiKeyCreate(_Strict):
    role: Literal["viewer", "operator", "admin"]
    name: str = Field(min_length=1, max_length=128, pattern=r"^\S(.*\S)?$")


class ApiKeyPublic(BaseModel):
    key_id: str
    role: str
    name: str
    api_key: str | None = Field(default=None, description="Shown once at creation; only its hash is stored.")
    created_ms: int | None = None
    revoked: bool = False


class AuditPublic(BaseModel):
    id: int
    ts_ms: int
    actor: str
    action: str
    target: str
    detail: dict[str, Any]


# -- algorithms ----------------------------------------------------------------------------
class StageChange(_Strict):
    reason: str = Field(default="", max_length=2000)


class CanaryStart(_Strict):
    cameras: list[Annotated[str, Field(pattern=CAMERA_ID_PATTERN)]] = Field(min_length=1, max_length=1000)
    reason: str = Field(default="", max_length=2000)


class AlgorithmImport(_Strict):
    """A model with its manifest (the YAML of ``warehouse catalog import``), the ONNX file
    base64-encoded under the name the manifest's ``version.artifact`` gives."""

    manifest_yaml: str = Field(min_length=1, max_length=65_536)
    artifact_b64: str = Field(min_length=4, max_length=128 * 1_048_576)
