from __future__ import annotations

from fastapi import APIRouter, Response

from warehouse.api.deps import Operator, ServicesDep
from warehouse.api.schemas import MissCreate, MissPublic

router = APIRouter(prefix="/misses", tags=["feedback"])


@router.post("", response_model=MissPublic, status_code=201,
             responses={200: {"model": MissPublic, "description": "The same report was made already; nothing new."}})
def report_miss(body: MissCreate, services: ServicesDep, key: Operator, response: Response) -> MissPublic:
    """An inspector reports an event the system missed; stored, and put on ``miss-events``
    through the outbox (the same report twice is one event)."""
    services.ops.get_camera(body.camera_id)  # unknown camera -> 404 with the fix
    services.taxonomy.require_event(body.event_type)  # unknown event type -> 422 naming it
    if body.algorithm_id is not None and services.catalog is not None:
        services.catalog.get_algorithm(body.algorithm_id)  # unknown algorithm -> 404 with close ids
    rec = services.ops.record_miss(camera_id=body.camera_id, event_type=body.event_type, ts_ms=body.ts_ms, reporter=key.name,
                                   algorithm_id=body.algorithm_id, frame_ref=body.frame_ref, note=body.note)
    if rec["created"]:
        services.publish_outbox()
    else:
        response.status_code = 200
    return MissPublic(**rec)
