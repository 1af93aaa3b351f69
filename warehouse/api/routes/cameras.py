from __future__ import annotations

from fastapi import APIRouter

from warehouse.api.deps import Admin, ServicesDep, Viewer
from warehouse.api.schemas import CameraCreate, CameraPublic
from warehouse.ops_store import CameraRecord

router = APIRouter(prefix="/cameras", tags=["cameras"])


@router.post("", response_model=CameraPublic, status_code=201)
def register_camera(body: CameraCreate, services: ServicesDep, key: Admin) -> CameraPublic:
    services.ops.add_camera(CameraRecord(body.camera_id, body.region, body.stream_url, body.hints))
    return body


@router.get("", response_model=list[CameraPublic])
def list_cameras(services: ServicesDep, key: Viewer) -> list[CameraPublic]:
    return [CameraPublic(camera_id=c.camera_id, region=c.region, stream_url=c.stream_url, hints=c.hints) for c in services.ops.list_cameras()]


@router.get("/{camera_id}", response_model=CameraPublic)
def get_camera(camera_id: str, services: ServicesDep, key: Viewer) -> CameraPublic:
    c = services.ops.get_camera(camera_id)
    return CameraPublic(camera_id=c.camera_id, region=c.region, stream_url=c.stream_url, hints=c.hints)
