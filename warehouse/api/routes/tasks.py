"""Flywheel tasks (H10): mining, labeling, training, evaluation and retraining jobs, with state and progress."""
from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from warehouse.api.deps import ServicesDep, Viewer
from warehouse.api.routes.labeling import flywheel_of

router = APIRouter(prefix="/tasks", tags=["tasks"])


@router.get("")
def list_tasks(services: ServicesDep, key: Viewer, kind: str | None = None, state: str | None = None,
               algorithm_id: str | None = None, limit: Annotated[int, Query(ge=1, le=1000)] = 200) -> dict:
    fw = flywheel_of(services)
    return {"tasks": [t.to_dict() for t in fw.store.list_tasks(kind=kind, state=state, algorithm_id=algorithm_id, limit=limit)]}


@router.get("/{task_id}")
def get_task(task_id: str, services: ServicesDep, key: Viewer) -> dict:
    fw = flywheel_of(services)
    t = fw.store.get_task(task_id)
    return {**t.to_dict(), "children": [c.to_dict() for c in fw.store.list_tasks(parent_id=task_id)]}
