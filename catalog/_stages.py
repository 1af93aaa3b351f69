"""The catalog's lifecycle rows: stage changes of versions and their audit trail, over an open
connection (the :class:`~catalog.catalog.Catalog` owns the transaction; the transition rules are
:func:`catalog.lifecycle.check_transition`), and the row -> :class:`ModelVersion` mapping."""
from __future__ import annotations

import logging
import re
from typing import Any

import sqlalchemy as sa

from catalog import _schema as t
from catalog._db import as_utc
from catalog.errors import InvalidSpecError
from catalog.records import CostProfile, ModelVersion, Stage

log = logging.getLogger("catalog.catalog")


def retire_production(conn: sa.Connection, algorithm_id: str, now: Any) -> None:
    """Retire the algorithm's production version(s). Must run before the new version's UPDATE/INSERT:
    the partial unique index is checked per statement."""
    for row in conn.execute(
        sa.select(t.model_versions).where(
            t.model_versions.c.algorithm_id == algorithm_id, t.model_versions.c.stage == Stage.PRODUCTION.value
        )
    ).all():
        set_stage(conn, row, Stage.RETIRED, now)
        log.info("retired %s@v%d (replaced in production)", algorithm_id, row.number)


def set_stage(conn: sa.Connection, row: sa.Row, to: Stage, now: Any) -> None:
    conn.execute(
        t.model_versions.update().where(t.model_versions.c.id == row.id).values(stage=to.value, stage_changed_at=now)
    )
    log_transition(conn, row.algorithm_id, row.number, Stage(row.stage), to, now)


def log_transition(conn: sa.Connection, algorithm_id: str, number: int, from_stage: Stage | None, to: Stage, now: Any) -> None:
    conn.execute(
        t.stage_transitions.insert().values(
            algorithm_id=algorithm_id, number=number, from_stage=from_stage.value if from_stage else None,
            to_stage=to.value, at=now,
        )
    )  # fmt: skip


def history(conn: sa.Connection, algorithm_id: str) -> list[dict[str, Any]]:
    """``[{number, from_stage, to_stage, at}]`` of the algorithm, oldest first."""
    rows = conn.execute(
        sa.select(t.stage_transitions).where(t.stage_transitions.c.algorithm_id == algorithm_id).order_by(t.stage_transitions.c.id)
    )
    return [{"number": r.number, "from_stage": r.from_stage, "to_stage": r.to_stage, "at": as_utc(r.at).isoformat()} for r in rows]


def validate_event_id(event_id: object) -> str:
    if not isinstance(event_id, str) or not re.fullmatch(r"[a-z0-9][a-z0-9_]{0,63}", event_id):
        raise InvalidSpecError(f"event type id {event_id!r} must be lowercase letters, digits and '_' (<= 64 chars), "
                               "e.g. 'fallen_tree'", value=event_id)  # fmt: skip
    return event_id


def version_of(row: sa.Row) -> ModelVersion:
    return ModelVersion(
        algorithm_id=row.algorithm_id,
        number=row.number,
        stage=Stage(row.stage),
        artifact_sha256=row.artifact_sha256,
        metrics=dict(row.metrics),
        cost_profile=CostProfile.from_dict(row.cost_profile) if row.cost_profile else None,
        parent_version=row.parent_version,
        training_run_id=row.training_run_id,
        dataset_version_id=row.dataset_version_id,
        created_at=as_utc(row.created_at),
        notes=row.notes,
    )
