"""The operations API (FastAPI): cameras, alerts (list + live stream), feedback, misses,
algorithms (promote, retire, roll back), keys, audit, health, metrics, and the console.

>>> from warehouse.api import create_app, Services          # doctest: +SKIP
>>> app = create_app(Services(ops=..., bus=..., catalog=...))  # doctest: +SKIP

Every refusal has the :class:`~warehouse.api.schemas.ErrorBody` shape; every route
documents its 401/403/404/409/413/422/429/503 answers; bodies over ``max_body_bytes`` are
refused with 413 before they are read into memory.
"""
from __future__ import annotations

import importlib
import logging
import pkgutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlalchemy.exc as sa_exc
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from warehouse.api.deps import ERROR_RESPONSES
from warehouse.api.hub import AlertHub
from warehouse.errors import AuthError, InvalidInputError, WarehouseError
from warehouse.ops import FailureLimiter, OutboxRelay

log = logging.getLogger(__name__)
CONSOLE_DIR = Path(__file__).resolve().parent.parent / "console"


@dataclass(frozen=True, slots=True)
class TopicNames:
    alerts: str = "alerts"
    feedback: str = "feedback"
    miss_events: str = "miss-events"
    model_updates: str = "model-updates"
    dead_letter: str = "dead-letter"


@dataclass(slots=True)
class Services:
    """What the routes need, injected (tests and the demo build it; `warehouse serve` too).

    ``outbox`` defaults to a relay over ``ops`` and ``bus``; routes publish through it right
    after a write (best effort), and ``warehouse serve`` runs it in the background too.
    ``control`` is the control plane (``wake()``, ``status()``, ``camera_status(id)``).
    """

    ops: Any
    bus: Any
    catalog: Any = None
    graph: Any = None
    taxonomy: Any = None
    topics: TopicNames = field(default_factory=TopicNames)
    alert_hub: AlertHub = field(default_factory=AlertHub)
    control: Any = None
    flywheel: Any = None  # warehouse.retraining.Flywheel: labeling queue, tasks, frame pool (H10's routes)
    outbox: Any = None
    auth_limiter: FailureLimiter = field(default_factory=FailureLimiter)
    max_body_bytes: int = 1_048_576
    max_upload_bytes: int = 96 * 1_048_576  # model imports (POST /algorithms/import)
    stream_relay: Any = None  # StreamRelay: alerts -> hub without waiting for the store (started on first use)

    def __post_init__(self) -> None:
        if self.taxonomy is None:
            from catalog import load_taxonomy

            self.taxonomy = load_taxonomy()
        if self.outbox is None and self.bus is not None and self.ops is not None:
            self.outbox = OutboxRelay(self.ops, self.bus)

    def ensure_stream_relay(self) -> None:
        """Start the live stream's bus reader once (first subscriber), when there is a bus."""
        if self.bus is None:
            return
        if self.stream_relay is None:
            from warehouse.api.stream_relay import StreamRelay

            self.stream_relay = StreamRelay(self.bus, self.alert_hub)
        self.stream_relay.start()

    def publish_outbox(self) -> None:
        """Publish pending outbox events now if the bus is reachable; never fails the request."""
        if self.outbox is None:
            return
        try:
            if self.outbox.bus_ok is False:  # known outage: leave it to the relay's backoff
                self.outbox.kick()
                return
            self.outbox.run_once(blocking=False)
        except Exception:  # the event is safe in the outbox; the relay retries
            log.warning("outbox publish after write failed; the relay will retry", exc_info=True)


class BodyLimit:
    """ASGI middleware: refuse request bodies over ``max_bytes`` (413), declared or streamed."""

    def __init__(self, app, max_bytes: int, upload_bytes: int | None = None, upload_paths: tuple[str, ...] = ()) -> None:
        self.app, self.max_bytes = app, max_bytes
        self.upload_bytes, self.upload_paths = upload_bytes or max_bytes, upload_paths

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        limit = self.upload_bytes if scope.get("path") in self.upload_paths else self.max_bytes
        declared = dict(scope.get("headers") or []).get(b"content-length")
        too_big = JSONResponse(status_code=413, content={
            "detail": f"request body is larger than {limit} bytes; send less (large models go through `warehouse catalog import`)",
            "error": "PayloadTooLarge", "field": "body", "errors": []})
        try:
            if declared is not None and int(declared) > limit:
                return await too_big(scope, receive, send)
        except ValueError:
            pass
        seen = 0

        async def limited():
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise _TooLarge()
            return message

        try:
            await self.app(scope, limited, send)
        except _TooLarge:
            await too_big(scope, receive, send)


class _TooLarge(Exception):
    pass


def _status_for(exc: Exception) -> int:
    code = getattr(exc, "http_status", None)
    if isinstance(code, int):
        return code
    from catalog import DuplicateError, StageTransitionError

    if isinstance(exc, AuthError):
        return 403
    if isinstance(exc, (DuplicateError, StageTransitionError)):
        return 409
    if isinstance(exc, KeyError):
        return 404
    if isinstance(exc, (InvalidInputError, ValueError)):
        return 422
    if isinstance(exc, (ConnectionError, TimeoutError)):
        return 503
    return 400


def _body(detail: str, error: str, *, field: str | None = None, errors: list | None = None) -> dict:
    return {"detail": detail, "error": error, "field": field, "errors": errors or []}


def _install_error_handlers(app: FastAPI) -> None:
    from catalog import CatalogError

    async def domain_error(request: Request, exc: Exception) -> JSONResponse:
        code = _status_for(exc)
        log.info("request %s %s refused (%d): %s", request.method, request.url.path, code, exc)
        headers = {"Retry-After": str(max(1, int(getattr(exc, "retry_after_s", 5) + 0.5)))} if code in (429, 503) else None
        return JSONResponse(status_code=code, content=_body(str(exc), type(exc).__name__, field=getattr(exc, "field", None)), headers=headers)

    async def validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = []
        for e in exc.errors():
            loc = [str(p) for p in e.get("loc", ())]
            errors.append({"field": ".".join(loc), "message": str(e.get("msg", "invalid")), "type": str(e.get("type", "value_error"))})
        first = errors[0] if errors else {"field": None, "message": "invalid request"}
        detail = "; ".join(f"{x['field']}: {x['message']}" for x in errors[:5])
        return JSONResponse(status_code=422, content=_body(detail, "ValidationError", field=first["field"], errors=errors))

    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        names = {401: "Unauthorized", 403: "Forbidden", 404: "NotFound", 405: "MethodNotAllowed", 503: "Unavailable"}
        return JSONResponse(status_code=exc.status_code, content=_body(str(exc.detail), names.get(exc.status_code, "HTTPError")),
                            headers=getattr(exc, "headers", None))

    async def database_down(request: Request, exc: Exception) -> JSONResponse:
        log.error("database unavailable on %s %s: %s", request.method, request.url.path, exc)
        return JSONResponse(status_code=503, headers={"Retry-After": "5"},
                            content=_body("the operations database is unavailable; nothing was written, retry shortly", "DatabaseUnavailable"))

    from knowledge_graph import KnowledgeGraphError

    handled: list[type[BaseException]] = [WarehouseError, CatalogError, KnowledgeGraphError]
    from warehouse.bus import BusError

    handled.append(BusError)
    for exc_type in handled:
        app.add_exception_handler(exc_type, domain_error)
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(StarletteHTTPException, http_error)
    for exc_type in (sa_exc.OperationalError, sa_exc.InterfaceError, sa_exc.TimeoutError):
        app.add_exception_handler(exc_type, database_down)


def create_app(services: Services) -> FastAPI:
    app = FastAPI(title="City Algorithm Warehouse — operations API", version="0.2.0",
                  description="Cameras, alerts, feedback, algorithms, keys and audit of a city's algorithm warehouse. "
                              "Authenticate with the X-API-Key header. Console at /console.")
    app.state.services = services
    _install_error_handlers(app)
    app.add_middleware(BodyLimit, max_bytes=services.max_body_bytes, upload_bytes=services.max_upload_bytes,
                       upload_paths=("/algorithms/import",))

    from warehouse.api import routes

    for mod in sorted(pkgutil.iter_modules(routes.__path__), key=lambda m: m.name):
        module = importlib.import_module(f"{routes.__name__}.{mod.name}")
        router = getattr(module, "router", None)
        if router is not None:
            app.include_router(router, responses=ERROR_RESPONSES)
    if services.graph is not None:
        try:
            from warehouse.api.routes import graph as graph_routes

            app.dependency_overrides[graph_routes.get_city_graph] = lambda: services.graph
        except (ImportError, AttributeError):
            pass

    if CONSOLE_DIR.is_dir():
        from fastapi.staticfiles import StaticFiles

        app.mount("/console", StaticFiles(directory=CONSOLE_DIR, html=True), name="console")

        @app.get("/", include_in_schema=False)
        def root() -> RedirectResponse:
            return RedirectResponse("/console/")

    return app
