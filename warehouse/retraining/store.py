"""The flywheel's durable state (SQLAlchemy; SQLite by default, PostgreSQL in production).

- **miss ledger**: every miss event the retraining worker accepted, keyed by its event id
  (the primary key *is* the processed-id store: a redelivered event is an insert that finds
  its row and counts nothing); each row is later claimed by one retraining job.
- **tasks**: mining, labeling, training and evaluation records with a state and progress.
- **labeling queue** tables (used by :class:`warehouse.retraining.queue.LabelingQueue`).

>>> s = FlywheelStore("sqlite://")
>>> s.record_miss({"event_id": "m1", "algorithm_id": "a", "kind": "false_alarm", "frame_ref": "cam:1"})
True
>>> s.record_miss({"event_id": "m1", "algorithm_id": "a", "kind": "false_alarm", "frame_ref": "cam:1"})
False
>>> [m["event_id"] for m in s.pending_misses("a")]
['m1']
"""
from __future__ import annotations

import logging
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from warehouse._db import make_engine
from warehouse.errors import InvalidInputError, WarehouseError

log = logging.getLogger(__name__)

TASK_KINDS = ("mining", "labeling", "training", "evaluation", "retraining", "new_algorithm")
TASK_STATES = ("pending", "running", "done", "failed")

meta = sa.MetaData()
misses = sa.Table(
    "fw_misses", meta,
    sa.Column("event_id", sa.String(200), primary_key=True),
    sa.Column("algorithm_id", sa.String(200), nullable=False, index=True),
    sa.Column("kind", sa.String(32), nullable=False),
    sa.Column("frame_ref", sa.String(200), nullable=True),
    sa.Column("payload", sa.JSON, nullable=False),
    sa.Column("received_ms", sa.BigInteger, nullable=False),
    sa.Column("claimed_by", sa.String(64), nullable=True, index=True),
)
feedback = sa.Table(  # operators' verdicts, once per event id: live precision per algorithm version
    "fw_feedback", meta,
    sa.Column("event_id", sa.String(200), primary_key=True),
    sa.Column("algorithm_id", sa.String(200), nullable=False, index=True),
    sa.Column("model_version", sa.String(64), nullable=True),
    sa.Column("verdict", sa.String(16), nullable=False),
    sa.Column("received_ms", sa.BigInteger, nullable=False),
)
tasks = sa.Table(
    "fw_tasks", meta,
    sa.Column("task_id", sa.String(64), primary_key=True),
    sa.Column("kind", sa.String(16), nullable=False, index=True),
    sa.Column("algorithm_id", sa.String(200), nullable=False, index=True),
    sa.Column("state", sa.String(16), nullable=False, index=True),
    sa.Column("done", sa.Integer, nullable=False),
    sa.Column("total", sa.Integer, nullable=False),
    sa.Column("parent_id", sa.String(64), nullable=True, index=True),
    sa.Column("detail", sa.JSON, nullable=False),
    sa.Column("created_ms", sa.BigInteger, nullable=False),
    sa.Column("updated_ms", sa.BigInteger, nullable=False),
)
label_tasks = sa.Table(
    "fw_label_tasks", meta,
    sa.Column("task_id", sa.String(64), primary_key=True),
    sa.Column("job_id", sa.String(64), nullable=False, index=True),
    sa.Column("algorithm_id", sa.String(200), nullable=False, index=True),
    sa.Column("event_type", sa.String(64), nullable=False),
    sa.Column("frame_ref", sa.String(200), nullable=False),
    sa.Column("question", sa.Text, nullable=False),
    sa.Column("labels_needed", sa.Integer, nullable=False),
    sa.Column("state", sa.String(16), nullable=False, index=True),  # open | done
    sa.Column("label", sa.Integer, nullable=True),
    sa.Column("created_ms", sa.BigInteger, nullable=False),
    sa.Column("position", sa.Integer, nullable=False),  # order within its job (mining's order)
)
label_answers = sa.Table(
    "fw_label_answers", meta,
    sa.Column("task_id", sa.String(64), sa.ForeignKey("fw_label_tasks.task_id"), primary_key=True),
    sa.Column("labeler", sa.String(128), primary_key=True),
    sa.Column("label", sa.Integer, nullable=True),  # None: skipped by this labeler
    sa.Column("ts_ms", sa.BigInteger, nullable=False),
)


class UnknownTaskError(WarehouseError, KeyError):
    def __str__(self) -> str:
        return self.args[0]


def now_ms() -> int:
    return int(time.time() * 1000)


@dataclass(frozen=True, slots=True)
class TaskRecord:
    task_id: str
    kind: str
    algorithm_id: str
    state: str
    done: int
    total: int
    parent_id: str | None
    detail: dict = field(default_factory=dict)
    created_ms: int = 0
    updated_ms: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {"task_id": self.task_id, "kind": self.kind, "algorithm_id": self.algorithm_id, "state": self.state,
                "progress": {"done": self.done, "total": self.total}, "parent_id": self.parent_id, "detail": self.detail,
                "created_ms": self.created_ms, "updated_ms": self.updated_ms}


class FlywheelStore:
    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = make_engine(url)
        meta.create_all(self.engine)

    # -- miss ledger ---------------------------------------------------------------------
    def record_miss(self, event: dict[str, Any]) -> bool:
        """Keep a miss event once (by ``event_id``); True if it was new."""
        eid, alg = event.get("event_id"), event.get("algorithm_id")
        if not isinstance(eid, str) or not eid or not isinstance(alg, str) or not alg:
            raise InvalidInputError(f"miss event {eid!r} needs a string event_id and algorithm_id (got {alg!r})")
        try:
            with self.engine.begin() as c:
                c.execute(misses.insert().values(event_id=eid, algorithm_id=alg, kind=str(event.get("kind", "")),
                                                 frame_ref=event.get("frame_ref"), payload=event, received_ms=now_ms()))
            return True
        except sa.exc.IntegrityError:
            return False

    def has_miss(self, event_id: str) -> bool:
        with self.engine.connect() as c:
            return c.execute(sa.select(misses.c.event_id).where(misses.c.event_id == event_id)).first() is not None

    def pending_misses(self, algorithm_id: str | None = None) -> list[dict[str, Any]]:
        q = sa.select(misses.c.payload).where(misses.c.claimed_by.is_(None)).order_by(misses.c.received_ms, misses.c.event_id)
        if algorithm_id is not None:
            q = q.where(misses.c.algorithm_id == algorithm_id)
        with self.engine.connect() as c:
            return [dict(r[0]) for r in c.execute(q)]

    def miss_counts(self) -> dict[str, dict[str, int]]:
        """``{algorithm_id: {"total", "pending"}}``."""
        q = sa.select(misses.c.algorithm_id, sa.func.count(), sa.func.count(misses.c.claimed_by)).group_by(misses.c.algorithm_id)
        with self.engine.connect() as c:
            return {a: {"total": n, "pending": n - claimed} for a, n, claimed in c.execute(q)}

    def all_miss_ids(self) -> list[str]:
        with self.engine.connect() as c:
            return list(c.execute(sa.select(misses.c.event_id).order_by(misses.c.event_id)).scalars())

    def claim_misses(self, event_ids: list[str], job_id: str) -> int:
        with self.engine.begin() as c:
            r = c.execute(misses.update().where(misses.c.event_id.in_(event_ids), misses.c.claimed_by.is_(None))
                          .values(claimed_by=job_id))
            return r.rowcount

    def release_misses(self, job_id: str) -> None:
        """A failed job gives its misses back to the next one."""
        with self.engine.begin() as c:
            c.execute(misses.update().where(misses.c.claimed_by == job_id).values(claimed_by=None))

    # -- operators' feedback (live precision) ------------------------------------------------
    def record_feedback(self, event: dict[str, Any]) -> bool:
        """Keep one verdict (by ``event_id``); True if new."""
        eid, alg, verdict = event.get("event_id"), event.get("algorithm_id"), event.get("verdict")
        if not isinstance(eid, str) or not isinstance(alg, str) or verdict not in ("confirm", "reject"):
            raise InvalidInputError(f"feedback {eid!r} needs event_id, algorithm_id and verdict confirm|reject (got {verdict!r})")
        mv = event.get("model_version")
        try:
            with self.engine.begin() as c:
                c.execute(feedback.insert().values(event_id=eid, algorithm_id=alg, model_version=None if mv is None else str(mv),
                                                   verdict=verdict, received_ms=now_ms()))
            return True
        except sa.exc.IntegrityError:
            return False

    def verdicts(self, algorithm_id: str, *, model_version: str | None = None, since_ms: int | None = None) -> dict[str, int]:
        """``{"confirm": n, "reject": m}`` for an algorithm (one version, and/or since a time)."""
        q = sa.select(feedback.c.verdict, sa.func.count()).where(feedback.c.algorithm_id == algorithm_id).group_by(feedback.c.verdict)
        if model_version is not None:
            q = q.where(feedback.c.model_version == str(model_version))
        if since_ms is not None:
            q = q.where(feedback.c.received_ms >= since_ms)
        with self.engine.connect() as c:
            got = dict(c.execute(q).all())
        return {"confirm": int(got.get("confirm", 0)), "reject": int(got.get("reject", 0))}

    # -- tasks ---------------------------------------------------------------------------
    def start_task(self, kind: str, algorithm_id: str, *, total: int = 0, parent_id: str | None = None,
                   detail: dict | None = None, state: str = "running") -> str:
        if kind not in TASK_KINDS:
            raise InvalidInputError(f"task kind {kind!r} is not one of {list(TASK_KINDS)}")
        tid = f"{kind[:4]}-{uuid.uuid4().hex[:12]}"
        t = now_ms()
        with self.engine.begin() as c:
            c.execute(tasks.insert().values(task_id=tid, kind=kind, algorithm_id=algorithm_id, state=state, done=0, total=int(total),
                                            parent_id=parent_id, detail=detail or {}, created_ms=t, updated_ms=t))
        return tid

    def update_task(self, task_id: str, *, done: int | None = None, total: int | None = None, state: str | None = None,
                    detail: dict | None = None) -> TaskRecord:
        cur = self.get_task(task_id)
        if state is not None and state not in TASK_STATES:
            raise InvalidInputError(f"task state {state!r} is not one of {list(TASK_STATES)}")
        vals: dict[str, Any] = {"updated_ms": now_ms()}
        if done is not None:
            vals["done"] = int(done)
        if total is not None:
            vals["total"] = int(total)
        if state is not None:
            vals["state"] = state
        if detail is not None:
            vals["detail"] = {**cur.detail, **detail}
        with self.engine.begin() as c:
            c.execute(tasks.update().where(tasks.c.task_id == task_id).values(**vals))
        return self.get_task(task_id)

    def get_task(self, task_id: str) -> TaskRecord:
        with self.engine.connect() as c:
            r = c.execute(sa.select(tasks).where(tasks.c.task_id == task_id)).first()
        if r is None:
            raise UnknownTaskError(f"unknown task {task_id!r}; list tasks with `warehouse task list` or GET /tasks")
        return _task(r)

    def list_tasks(self, *, kind: str | None = None, state: str | None = None, algorithm_id: str | None = None,
                   parent_id: str | None = None, limit: int = 200) -> list[TaskRecord]:
        if kind is not None and kind not in TASK_KINDS:
            raise InvalidInputError(f"task kind {kind!r} is not one of {list(TASK_KINDS)}")
        if state is not None and state not in TASK_STATES:
            raise InvalidInputError(f"task state {state!r} is not one of {list(TASK_STATES)}")
        q = sa.select(tasks).order_by(tasks.c.created_ms.desc(), tasks.c.task_id).limit(limit)
        for col, v in ((tasks.c.kind, kind), (tasks.c.state, state), (tasks.c.algorithm_id, algorithm_id), (tasks.c.parent_id, parent_id)):
            if v is not None:
                q = q.where(col == v)
        with self.engine.connect() as c:
            return [_task(r) for r in c.execute(q)]

    def close(self) -> None:
        self.engine.dispose()


def _task(r) -> TaskRecord:
    return TaskRecord(r.task_id, r.kind, r.algorithm_id, r.state, r.done, r.total, r.parent_id, dict(r.detail), r.created_ms, r.updated_ms)
