"""Alerts: filtered listing with cursor pagination, a per-region/camera summary, the live
stream (Server-Sent Events, resumable with ``Last-Event-ID``), evidence, feedback."""
from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import APIRouter, Header, Path, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import StreamingResponse

from warehouse.api.deps import Operator, ServicesDep, Viewer
from warehouse.api.hub import sse_frame
from warehouse.api.schemas import (
    ALGORITHM_ID_PATTERN,
    CAMERA_ID_PATTERN,
    ID_PATTERN,
    MAX_TS_MS,
    AlertSummaryPublic,
    FeedbackCreate,
    FeedbackPublic,
)
from warehouse.ops.errors import MissingMediaError

router = APIRouter(prefix="/alerts", tags=["alerts"])

CameraQ = Annotated[str | None, Query(pattern=CAMERA_ID_PATTERN, description="Only this camera.")]
RegionQ = Annotated[str | None, Query(min_length=1, max_length=128, description="Only cameras of this region.")]
AlgorithmQ = Annotated[str | None, Query(pattern=ALGORITHM_ID_PATTERN, description="Only this algorithm.")]
StateQ = Annotated[str | None, Query(pattern="^(open|confirmed|rejected)$", description="Alert state.")]
TimeQ = Annotated[int | None, Query(ge=0, le=MAX_TS_MS, description="Epoch ms.")]
AlertIdP = Annotated[str, Path(pattern=ID_PATTERN, description="An alert id.")]
REPLAY_FROM_STORE = 5000


@router.get("", response_model=list[dict], responses={200: {"headers": {"X-Next-Cursor": {
    "description": "Pass as ?cursor= for the next (older) page; absent on the last page.", "schema": {"type": "string"}}}}})
def list_alerts(services: ServicesDep, key: Viewer, response: Response, camera_id: CameraQ = None, region: RegionQ = None,
                algorithm_id: AlgorithmQ = None, state: StateQ = None,
                status: Annotated[str | None, Query(pattern="^(open|confirmed|rejected)$", description="Alias of state.")] = None,
                since_ms: TimeQ = None, until_ms: TimeQ = None,
                cursor: Annotated[str | None, Query(max_length=64, pattern=r"^[A-Za-z0-9_-]+$")] = None,
                limit: Annotated[int, Query(ge=1, le=1000)] = 100) -> list[dict]:
    """Newest first. Filters combine (AND); the next page's cursor is in ``X-Next-Cursor``."""
    items, nxt = services.ops.page_alerts(camera_id=camera_id, region=region, algorithm_id=algorithm_id, status=state or status,
                                          since_ms=since_ms, until_ms=until_ms, limit=limit, cursor=cursor)
    if nxt:
        response.headers["X-Next-Cursor"] = nxt
    return items


@router.get("/summary", response_model=AlertSummaryPublic)
def summary(services: ServicesDep, key: Viewer, since_ms: TimeQ = None) -> AlertSummaryPublic:
    """Alert counts per region and per camera, by state."""
    return AlertSummaryPublic(**services.ops.alert_summary(since_ms=since_ms))


@router.get("/stream", response_class=StreamingResponse, responses={200: {"content": {"text/event-stream": {}},
            "description": "One `event: alert` per alert, `id:` = alert id."}})
async def stream_alerts(request: Request, services: ServicesDep, key: Viewer, camera_id: CameraQ = None, region: RegionQ = None,
                        algorithm_id: AlgorithmQ = None,
                        last_event_id: Annotated[str | None, Header(pattern=ID_PATTERN, description="Resume after this alert id.")] = None,
                        max_events: Annotated[int | None, Query(ge=1, le=1_000_000, description="Close after this many (scripts, tests).")] = None,
                        heartbeat_s: Annotated[float, Query(ge=0.05, le=60)] = 15.0):
    """Live alerts as Server-Sent Events. A client reconnecting with ``Last-Event-ID`` first
    gets what it missed (from the in-memory buffer, else from the store), then live ones."""
    cams = None
    if region is not None:
        cams = {c.camera_id for c in await run_in_threadpool(services.ops.list_cameras, region=region)}

    def accepts(a: dict) -> bool:
        return ((camera_id is None or a.get("camera_id") == camera_id)
                and (algorithm_id is None or a.get("algorithm_id") == algorithm_id)
                and (cams is None or a.get("camera_id") in cams or a.get("region") == region))

    services.ensure_stream_relay()
    hub = services.alert_hub
    unfiltered = camera_id is None and algorithm_id is None and cams is None
    note, replay = "", []
    if last_event_id and hub.has(last_event_id):
        sub = hub.subscribe(None if unfiltered else accepts, after=last_event_id)  # the log replays it, no gap
    else:
        sub = hub.subscribe(None if unfiltered else accepts)  # before the store replay: nothing falls between
        if last_event_id:
            seq = await run_in_threadpool(services.ops.alert_seq, last_event_id)
            if seq is None:
                note = f": Last-Event-ID {last_event_id} is not known; live alerts only\n\n"
            else:
                rows = await run_in_threadpool(services.ops.alerts_after, seq, limit=REPLAY_FROM_STORE)
                replay = [(a["alert_id"], a, sse_frame(a)) for a in rows if accepts(a)]

    async def gen():
        sent = {e[0] for e in replay}  # the store replay may overlap the first live alerts
        count = 0
        try:
            yield "retry: 2000\n\n" + note
            pending = replay
            while True:
                if pending:
                    if max_events is not None:
                        pending = pending[:max_events - count]
                    count += len(pending)
                    yield "".join(e[2] for e in pending)  # one write for the whole batch
                if max_events is not None and count >= max_events:
                    return
                batch = await hub.next_batch(sub, heartbeat_s)
                if batch is None:
                    if await request.is_disconnected():
                        return
                    yield ": keep-alive\n\n"
                    pending = []
                    continue
                pending = [e for e in batch if e[0] not in sent] if sent else batch
        finally:
            hub.unsubscribe(sub)

    return StreamingResponse(gen(), media_type="text/event-stream", headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})


@router.get("/{alert_id}")
def get_alert(alert_id: AlertIdP, services: ServicesDep, key: Viewer) -> dict:
    return services.ops.get_alert(alert_id)


@router.get("/{alert_id}/evidence", response_class=Response, responses={200: {"content": {"image/jpeg": {}}}})
def evidence(alert_id: AlertIdP, services: ServicesDep, key: Viewer) -> Response:
    """The alert's evidence snapshot (JPEG, box drawn)."""
    alert = services.ops.get_alert(alert_id)
    sha = alert.get("evidence_sha256")
    store = getattr(services.catalog, "store", None)
    if not sha or store is None or not store.exists(sha):
        raise MissingMediaError(f"alert {alert_id!r} has no stored evidence snapshot (the runtime keeps one per alert when it can)")
    return Response(store.get_bytes(sha), media_type="image/jpeg", headers={"Cache-Control": "private, max-age=86400"})


@router.post("/{alert_id}/feedback", response_model=FeedbackPublic, status_code=201,
             responses={200: {"model": FeedbackPublic, "description": "This operator gave this verdict already; nothing new."}})
def post_feedback(alert_id: AlertIdP, body: FeedbackCreate,
                  services: ServicesDep, key: Operator, response: Response) -> FeedbackPublic:
    """Confirm or reject an alert, once per operator. The verdict and its ``feedback`` event
    (keyed by algorithm) are written in one transaction; the outbox publishes it."""
    rec = services.ops.record_feedback(alert_id, verdict=body.verdict, operator=key.name, note=body.note)
    if rec["created"]:
        services.publish_outbox()
    else:
        response.status_code = 200
    return FeedbackPublic(feedback_id=rec["feedback_id"], alert_id=alert_id, verdict=body.verdict, event_id=rec["event_id"],
                          created=rec["created"])
