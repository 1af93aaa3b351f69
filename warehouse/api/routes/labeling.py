"""Labeling queue routes (H10): fetch a batch, label 0/1, skip; the console's labeling page uses them.

Roles: viewer reads, operator labels. The labeler is the API key's name; two labelers on one
task keep both answers (agreement in ``GET /labeling/agreement``).
"""
from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, HTTPException, Query, Response
from pydantic import BaseModel, ConfigDict

from warehouse.api.deps import Operator, ServicesDep, Viewer

router = APIRouter(prefix="/labeling", tags=["labeling"])


def flywheel_of(services):
    fw = getattr(services, "flywheel", None)
    if fw is None:
        raise HTTPException(503, "the flywheel (labeling queue, tasks) is not configured on this server; start it with "
                                 "`warehouse serve` (which opens the flywheel store) or pass Services(flywheel=...)")
    return fw


class LabelBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    label: Literal[0, 1]


@router.get("/tasks")
def list_tasks(services: ServicesDep, key: Viewer, algorithm_id: str | None = None,
               limit: Annotated[int, Query(ge=1, le=500)] = 20) -> dict:
    """Open tasks this key's labeler has not answered yet, oldest first, and the queue's progress."""
    fw = flywheel_of(services)
    tasks = fw.queue.fetch(algorithm_id=algorithm_id, labeler=key.name, limit=limit)
    return {"tasks": [t.to_public() for t in tasks], "progress": fw.queue.progress(algorithm_id=algorithm_id)}


@router.get("/tasks/{task_id}/image", response_class=Response, responses={200: {"content": {"image/jpeg": {}}}})
def task_image(task_id: str, services: ServicesDep, key: Viewer) -> Response:
    fw = flywheel_of(services)
    t = fw.queue.get(task_id)
    if fw.pool is None or services.catalog is None:
        raise HTTPException(503, "no frame pool / artifact store on this server to read frames from")
    frame = fw.pool.get(t.frame_ref)
    if not frame.image_sha256:
        raise HTTPException(404, f"frame {t.frame_ref!r} was retained without its JPEG (embedding only); label it from "
                                 "the camera's recording or skip it")
    return Response(services.catalog.store.get_bytes(frame.image_sha256), media_type="image/jpeg")


@router.post("/tasks/{task_id}")
def submit_label(task_id: str, body: LabelBody, services: ServicesDep, key: Operator) -> dict:
    fw = flywheel_of(services)
    t = fw.queue.submit(task_id, body.label, labeler=key.name)
    return {"task": t.to_public(), "progress": fw.queue.progress(algorithm_id=t.algorithm_id)}


@router.post("/tasks/{task_id}/skip")
def skip_task(task_id: str, services: ServicesDep, key: Operator) -> dict:
    fw = flywheel_of(services)
    t = fw.queue.skip(task_id, labeler=key.name)
    return {"task": t.to_public(), "progress": fw.queue.progress(algorithm_id=t.algorithm_id)}


@router.get("/agreement")
def agreement(services: ServicesDep, key: Viewer, algorithm_id: str | None = None) -> dict:
    """How often two labelers of the same frame agree."""
    return flywheel_of(services).queue.agreement(algorithm_id=algorithm_id)
