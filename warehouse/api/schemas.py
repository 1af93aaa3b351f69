"""Pydantic schemas at the API edge (Base / Create / Public)."""
from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field


class CameraBase(BaseModel):
    region: str = Field(min_length=1, max_length=128, examples=["harbour"])
    stream_url: str = Field(min_length=1, examples=["rtsp://10.0.0.5/stream1", "synthetic://seafront?seed=3"])
    hints: dict = Field(default_factory=dict, description="Optional hints, e.g. {'scenes': ['seafront']}.")


class CameraCreate(CameraBase):
    camera_id: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$", examples=["harbour-cam-07"])


class CameraPublic(CameraCreate):
    pass


class FeedbackCreate(BaseModel):
    verdict: Literal["confirm", "reject"]
    note: str = Field(default="", max_length=2000)


class FeedbackPublic(BaseModel):
    feedback_id: str
    alert_id: str
    verdict: str
    event_id: str


class MissCreate(BaseModel):
    camera_id: str
    event_type: str = Field(examples=["illegal_parking"])
    ts_ms: int = Field(ge=0, description="When the missed event happened (epoch ms).")
    algorithm_id: str | None = Field(default=None, description="The algorithm that should have caught it, if known.")
    frame_ref: str | None = Field(default=None, description="Id of a retained frame showing the event, if known.")
    note: str = Field(default="", max_length=2000)


class MissPublic(BaseModel):
    event_id: str
    algorithm_id: str | None


class ApiKeyCreate(BaseModel):
    role: Literal["viewer", "operator", "admin"]
    name: str = Field(min_length=1, max_length=128)


class ApiKeyPublic(BaseModel):
    key_id: str
    role: str
    name: str
    api_key: str | None = Field(default=None, description="Shown once at creation; only its hash is stored.")
