"""Knowledge-graph routes: why a camera runs what it runs.

``GET /graph/cameras/{camera_id}/explain?at=2024-05-01T23:00`` returns the camera's scene
links, the algorithms it should run (priority, fps, score) each with its explanation paths,
what negative knowledge or feedback excluded, and the camera's recorded changes.

The :class:`knowledge_graph.CityGraph` comes from :func:`get_city_graph`, which the app
overrides with its own instance (``app.dependency_overrides``).
"""
from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request, status
from pydantic import BaseModel

from knowledge_graph import CityGraph
from warehouse.api.deps import Viewer

router = APIRouter(prefix="/graph", tags=["graph"])


def get_city_graph(request: Request) -> CityGraph:
    """Default: the graph on ``app.state.services.graph``; the app overrides this dependency."""
    services = getattr(request.app.state, "services", None)
    graph = getattr(services, "graph", None)
    if graph is None:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE,
                            "the knowledge graph is not loaded in this server; start it with a CityGraph (Services(graph=...))")
    return graph


CityGraphDep = Annotated[CityGraph, Depends(get_city_graph)]


class ExplanationPublic(BaseModel):
    algorithm_id: str
    paths: list[list[str]]
    reasons: list[str]
    text: str
    governance_task_ids: list[str]
    event_types: list[str]
    dependencies: list[str]
    required_by: list[str]
    feedback: list[str]
    scene_confidence: float
    triggered_by: list[str] = []  # a cascade: runs only while these fire


class AlgorithmChoicePublic(BaseModel):
    algorithm_id: str
    priority: int
    fps: float
    score: float
    cascaded: bool = False
    explanation: ExplanationPublic


class ExclusionPublic(BaseModel):
    subject: str
    reason: str
    rule_id: str | None = None


class CameraGraphPublic(BaseModel):
    camera_id: str
    region: str
    scenes: dict[str, float]
    primary_scene: str | None
    hints: dict[str, list[str]]


class CameraExplainPublic(BaseModel):
    camera: CameraGraphPublic
    camera_id: str
    at: datetime
    ontology_version: int
    choices: list[AlgorithmChoicePublic]
    excluded: list[ExclusionPublic]
    changes: list[dict[str, Any]]


@router.get("/cameras/{camera_id}/explain", response_model=CameraExplainPublic)
def explain_camera(
    camera_id: str,
    graph: CityGraphDep,
    key: Viewer,
    at: Annotated[datetime | None, Query(description="Local time to evaluate governance windows at (default: now).")] = None,
) -> CameraExplainPublic:
    """The algorithms this camera should run now (or at ``at``), and why."""
    report = graph.explain(camera_id, at)
    return CameraExplainPublic.model_validate(report.to_dict())
