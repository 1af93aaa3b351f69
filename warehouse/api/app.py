"""The operations API (FastAPI): cameras, alerts (list + live stream), feedback, misses,
algorithms, the knowledge graph's explanations, API keys with roles.

>>> from warehouse.api import create_app, Services          # doctest: +SKIP
>>> app = create_app(Services(ops=..., bus=..., catalog=...))  # doctest: +SKIP
"""
from __future__ import annotations

import importlib
import logging
import pkgutil
from dataclasses import dataclass, field
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from warehouse.api.hub import AlertHub
from warehouse.errors import AuthError, InvalidInputError, WarehouseError

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class TopicNames:
    alerts: str = "alerts"
    feedback: str = "feedback"
    miss_events: str = "miss-events"
    model_updates: str = "model-updates"
    dead_letter: str = "dead-letter"


@dataclass(slots=True)
class Services:
    """What the routes need, injected (tests and the demo build it; `warehouse serve` too)."""

    ops: Any
    bus: Any
    catalog: Any = None
    graph: Any = None
    taxonomy: Any = None
    topics: TopicNames = field(default_factory=TopicNames)
    alert_hub: AlertHub = field(default_factory=AlertHub)

    def __post_init__(self) -> None:
        if self.taxonomy is None:
            from catalog import load_taxonomy

            self.taxonomy = load_taxonomy()


def _status_for(exc: Exception) -> int:
    if isinstance(exc, AuthError):
        return 403
    if isinstance(exc, KeyError):
        return 404
    if isinstance(exc, (InvalidInputError, ValueError)):
        return 422
    return 400


def create_app(services: Services) -> FastAPI:
    from catalog import CatalogError

    app = FastAPI(title="City Algorithm Warehouse — operations API", version="0.1.0")
    app.state.services = services

    async def _domain_error(request: Request, exc: Exception) -> JSONResponse:
        log.info("request %s %s refused: %s", request.method, request.url.path, exc)
        return JSONResponse(status_code=_status_for(exc), content={"detail": str(exc), "error": type(exc).__name__})

    for exc_type in (WarehouseError, CatalogError):
        app.add_exception_handler(exc_type, _domain_error)
    try:
        from knowledge_graph import KnowledgeGraphError

        app.add_exception_handler(KnowledgeGraphError, _domain_error)
    except ImportError:  # graph package not built yet on this checkout
        pass

    from warehouse.api import routes

    for mod in sorted(pkgutil.iter_modules(routes.__path__), key=lambda m: m.name):
        module = importlib.import_module(f"{routes.__name__}.{mod.name}")
        router = getattr(module, "router", None)
        if router is not None:
            app.include_router(router)
    if services.graph is not None:
        try:
            from warehouse.api.routes import graph as graph_routes

            app.dependency_overrides[graph_routes.get_city_graph] = lambda: services.graph
        except (ImportError, AttributeError):
            pass

    @app.get("/healthz", tags=["ops"])
    def healthz() -> dict:
        return {"status": "ok"}

    return app
