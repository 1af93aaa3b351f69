from __future__ import annotations

from fastapi import APIRouter

from warehouse.api.deps import Operator, ServicesDep
from warehouse.api.schemas import MissCreate, MissPublic
from warehouse.feedback import miss_event_from_report

router = APIRouter(prefix="/misses", tags=["feedback"])


@router.post("", response_model=MissPublic, status_code=201)
def report_miss(body: MissCreate, services: ServicesDep, key: Operator) -> MissPublic:
    """An inspector reports an event the system missed; it goes on ``miss-events``."""
    services.ops.get_camera(body.camera_id)  # unknown camera -> 404 with the fix
    services.taxonomy.require_event(body.event_type)  # unknown event type -> 422 naming it
    event = miss_event_from_report(camera_id=body.camera_id, event_type=body.event_type, ts_ms=body.ts_ms,
                                   reporter=key.name, algorithm_id=body.algorithm_id, frame_ref=body.frame_ref, note=body.note)
    services.bus.publish(services.topics.miss_events, event, key=body.algorithm_id or f"event:{body.event_type}")
    services.bus.flush()
    return MissPublic(event_id=event["event_id"], algorithm_id=body.algorithm_id)
