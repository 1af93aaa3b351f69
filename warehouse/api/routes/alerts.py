from __future__ import annotations

import asyncio
import json

from fastapi import APIRouter, Query, Request
from fastapi.responses import StreamingResponse

from warehouse.api.deps import Operator, ServicesDep, Viewer
from warehouse.api.schemas import FeedbackCreate, FeedbackPublic
from warehouse.feedback import feedback_event

router = APIRouter(prefix="/alerts", tags=["alerts"])


@router.get("")
def list_alerts(services: ServicesDep, key: Viewer, camera_id: str | None = None,
                status: str | None = Query(default=None, pattern="^(open|confirmed|rejected)$"),
                limit: int = Query(default=100, ge=1, le=1000)) -> list[dict]:
    return services.ops.list_alerts(camera_id=camera_id, status=status, limit=limit)


@router.get("/stream")
async def stream_alerts(request: Request, services: ServicesDep, key: Viewer,
                        max_events: int | None = Query(default=None, ge=1, description="Close after this many (for scripts).")):
    """Live alerts as Server-Sent Events (``text/event-stream``)."""
    queue = services.alert_hub.subscribe()

    async def gen():
        sent = 0
        try:
            while max_events is None or sent < max_events:
                if await request.is_disconnected():
                    break
                try:
                    alert = await asyncio.wait_for(queue.get(), timeout=15.0)
                except asyncio.TimeoutError:
                    yield ": keep-alive\n\n"
                    continue
                yield f"id: {alert['alert_id']}\nevent: alert\ndata: {json.dumps(alert, sort_keys=True)}\n\n"
                sent += 1
        finally:
            services.alert_hub.unsubscribe(queue)

    return StreamingResponse(gen(), media_type="text/event-stream")


@router.get("/{alert_id}")
def get_alert(alert_id: str, services: ServicesDep, key: Viewer) -> dict:
    return services.ops.get_alert(alert_id)


@router.post("/{alert_id}/feedback", response_model=FeedbackPublic, status_code=201)
def post_feedback(alert_id: str, body: FeedbackCreate, services: ServicesDep, key: Operator) -> FeedbackPublic:
    """Confirm or reject an alert. The verdict goes on the ``feedback`` topic (keyed by algorithm)."""
    rec = services.ops.record_feedback(alert_id, verdict=body.verdict, operator=key.name, note=body.note)
    event = feedback_event(feedback_id=rec["feedback_id"], alert=rec["alert"], verdict=body.verdict, operator=key.name, note=body.note)
    services.bus.publish(services.topics.feedback, event, key=event["algorithm_id"])
    services.bus.flush()
    return FeedbackPublic(feedback_id=rec["feedback_id"], alert_id=alert_id, verdict=body.verdict, event_id=event["event_id"])
