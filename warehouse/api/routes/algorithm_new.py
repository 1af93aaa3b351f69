"""``POST /algorithms/new`` (H10): a new algorithm from 10-20 labeled seed frames; runs in the background.

Answers 202 with the ``new_algorithm`` task id; follow it at ``GET /tasks/{task_id}`` (its
children: mining, labeling, training, evaluation). Labeling goes to the queue
(``/labeling/tasks``) unless the server's flywheel names a labeler (``labeler_for``).
"""
from __future__ import annotations

import logging
import threading
from typing import Annotated

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from warehouse.api.deps import Admin, ServicesDep
from warehouse.api.routes.labeling import flywheel_of

log = logging.getLogger(__name__)
router = APIRouter(prefix="/algorithms", tags=["algorithms"])


class SeedIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    frame_ref: str = Field(min_length=1, max_length=200)
    label: Annotated[int, Field(ge=0, le=1)]


class NewAlgorithmIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=200)
    event_type: str = Field(min_length=1, max_length=64)
    scenes: list[str] = Field(min_length=1, max_length=16)
    description: str = Field(default="", max_length=2000)
    seed_frames: list[SeedIn] = Field(min_length=10, max_length=20)
    algorithm_id: str | None = None
    event_name: str | None = None
    rounds: int = Field(default=3, ge=1, le=10)
    budget: int = Field(default=40, ge=4, le=500)


@router.post("/new", status_code=202)
def new_algorithm(body: NewAlgorithmIn, services: ServicesDep, key: Admin) -> dict:
    from warehouse.errors import InvalidInputError
    from warehouse.retraining.new_algorithm import NewAlgorithm, SeedFrame, create_algorithm
    from warehouse.retraining.queue import QueueLabeler

    fw = flywheel_of(services)
    if fw.pool is None or services.catalog is None:
        raise InvalidInputError("this server has no frame pool or catalog to build an algorithm from")
    req = NewAlgorithm(name=body.name, event_type=body.event_type, scenes=tuple(body.scenes), description=body.description,
                       seeds=tuple(SeedFrame(s.frame_ref, s.label) for s in body.seed_frames), algorithm_id=body.algorithm_id,
                       event_name=body.event_name)
    ix = fw.pool.index()
    missing = [s.frame_ref for s in req.seeds if s.frame_ref not in ix]
    if missing:
        raise InvalidInputError(f"seed frames {missing[:5]} are not in the frame pool; pick frames the cameras retained")
    A = req.resolved_id
    task = fw.store.start_task("new_algorithm", A, total=body.rounds, state="pending", detail={"requested_by": key.name})
    factory = getattr(fw, "labeler_for", None)
    labeler = factory(A) if factory else QueueLabeler(fw.queue, algorithm_id=A, timeout_s=24 * 3600)

    def work() -> None:
        try:
            create_algorithm(req, catalog=services.catalog, store=services.catalog.store, pool=fw.pool, labeler=labeler,
                             flywheel=fw.store, bus=services.bus, graph=services.graph, rounds=body.rounds, budget=body.budget,
                             task_id=task)
            if getattr(services, "control", None) is not None:
                services.control.wake()
        except Exception as exc:  # recorded on the task; the API already answered
            log.exception("new algorithm %s (task %s) failed", A, task)
            fw.store.update_task(task, state="failed", detail={"error": f"{type(exc).__name__}: {exc}"})

    threading.Thread(target=work, name=f"new-algorithm-{A}", daemon=True).start()
    return {"task_id": task, "algorithm_id": A, "status_url": f"/tasks/{task}", "labeling_url": f"/labeling/tasks?algorithm_id={A}"}
