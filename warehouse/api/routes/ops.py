"""Health (``/healthz``: database and bus), Prometheus metrics (``/metrics``), the whole
system's status and the current plan (from the control plane)."""
from __future__ import annotations

import logging
import time
from typing import Any

from fastapi import APIRouter, HTTPException, Response
from fastapi.responses import JSONResponse

from warehouse.api.deps import ServicesDep, Viewer
from warehouse.api.metrics import render_metrics

router = APIRouter(tags=["ops"])
log = logging.getLogger(__name__)


def _health(services: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"status": "ok"}
    t0 = time.perf_counter()
    try:
        services.ops.ping()
        out["database"] = {"ok": True, "latency_ms": round((time.perf_counter() - t0) * 1000, 2)}
    except Exception as exc:
        out["database"] = {"ok": False, "error": f"{type(exc).__name__}: {str(exc)[:200]}"}
    relay = services.outbox
    bus: dict[str, Any] = {"ok": None if services.bus is None else True, "backend": type(services.bus).__name__}
    if relay is not None:
        bus.update(ok=relay.bus_ok if relay.bus_ok is not None else True, last_error=relay.last_error, published=relay.published_total)
    if out["database"]["ok"]:
        try:
            out["outbox"] = services.ops.outbox_stats()
        except Exception as exc:  # a store without an outbox table: older file, still serving
            out["outbox"] = {"error": str(exc)[:200]}
    out["bus"] = bus
    if not out["database"]["ok"]:
        out["status"] = "down"
    elif bus["ok"] is False:
        out["status"] = "degraded"  # writes are accepted; events wait in the outbox
    return out


@router.get("/healthz", responses={200: {"description": "Up (status ok or degraded)."}, 503: {"description": "The database is down."}})
def healthz(services: ServicesDep) -> JSONResponse:
    """Database and bus health (no key needed). ``degraded``: the bus is down, writes still
    accepted and queued in the outbox; ``down`` (503): the database cannot be reached."""
    body = _health(services)
    return JSONResponse(body, status_code=503 if body["status"] == "down" else 200)


@router.get("/metrics", response_class=Response, responses={200: {"content": {"text/plain": {}}}})
def metrics(services: ServicesDep, key: Viewer) -> Response:
    """Prometheus text format: alerts per second, stream health, frames scored and gated,
    plan age, consumer lag, outbox backlog."""
    body, content_type = render_metrics(services)
    return Response(body, media_type=content_type)


def _control(services: Any):
    control = getattr(services, "control", None)
    if control is None:
        raise HTTPException(503, "no control plane runs in this server (start it with `warehouse serve`)")
    return control


@router.get("/status", response_model=dict)
def system_status(services: ServicesDep, key: Viewer) -> dict:
    """The whole system as the control plane sees it."""
    return dict(_control(services).status())


@router.get("/plan", response_model=dict)
def current_plan(services: ServicesDep, key: Viewer) -> dict:
    """The current placement plan (warehouse.plan/1) and its age."""
    st = dict(_control(services).status())
    plan = st.get("plan")
    if plan is None:
        raise HTTPException(503, "the control plane has not made a plan yet")
    return plan if isinstance(plan, dict) else {"plan": plan}
