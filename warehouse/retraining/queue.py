"""The labeling queue people work through (``/labeling`` routes; the console's labeling page).

Mining opens one task per frame ("is <event> in this frame?"); labelers fetch a batch,
answer 0/1 or skip. A task needs ``labels_needed`` answers (1 by default); when two labelers
answer the same task, both answers are kept and :meth:`LabelingQueue.agreement` reports how
often they agree; a tie stays open for one more answer. :class:`QueueLabeler` makes the
queue a :class:`~warehouse.retraining.labeling.Labeler`: it opens tasks and waits for people.

>>> from warehouse.retraining.store import FlywheelStore
>>> q = LabelingQueue(FlywheelStore("sqlite://"))
>>> ids = q.open_tasks("scene.road.smoke", "smoke", ["cam:1", "cam:2"], job_id="job-1", labels_needed=2)
>>> [t.frame_ref for t in q.fetch(algorithm_id="scene.road.smoke", labeler="ann")]
['cam:1', 'cam:2']
>>> _ = q.submit(ids[0], 1, labeler="ann"); q.submit(ids[0], 1, labeler="bob").state
'done'
>>> q.agreement()["rate"], q.progress(job_id="job-1")
(1.0, {'done': 1, 'total': 2})
"""
from __future__ import annotations

import hashlib
import logging
import time
from dataclasses import dataclass

import sqlalchemy as sa

from warehouse.errors import InvalidInputError
from warehouse.retraining.store import FlywheelStore, UnknownTaskError, label_answers, label_tasks, now_ms

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class LabelTask:
    task_id: str
    job_id: str
    algorithm_id: str
    event_type: str
    frame_ref: str
    question: str
    state: str
    label: int | None
    labels_needed: int

    def to_public(self) -> dict:
        return {"task_id": self.task_id, "algorithm_id": self.algorithm_id, "event_type": self.event_type,
                "frame_ref": self.frame_ref, "image_url": f"/labeling/tasks/{self.task_id}/image", "question": self.question,
                "state": self.state}


def _task(r) -> LabelTask:
    return LabelTask(r.task_id, r.job_id, r.algorithm_id, r.event_type, r.frame_ref, r.question, r.state, r.label, r.labels_needed)


class LabelingQueue:
    def __init__(self, store: FlywheelStore) -> None:
        self.store = store
        self.engine = store.engine

    def open_tasks(self, algorithm_id: str, event_type: str, frame_refs: list[str], *, job_id: str,
                   labels_needed: int = 1, question: str | None = None) -> list[str]:
        """One task per frame (same job + frame -> the same task id, opened once)."""
        if labels_needed < 1:
            raise InvalidInputError(f"labels_needed {labels_needed} must be >= 1")
        q = question or f"Is there {event_type.replace('_', ' ')} in this frame?"
        ids, rows = [], []
        with self.engine.begin() as c:
            t = now_ms()
            for pos, f in enumerate(dict.fromkeys(frame_refs)):
                tid = "lt-" + hashlib.sha256(f"{job_id}|{f}".encode()).hexdigest()[:20]
                ids.append(tid)
                rows.append(dict(task_id=tid, job_id=job_id, algorithm_id=algorithm_id, event_type=event_type, frame_ref=f,
                                 question=q, labels_needed=labels_needed, state="open", label=None, created_ms=t, position=pos))
            have = set(c.execute(sa.select(label_tasks.c.task_id).where(label_tasks.c.task_id.in_(ids))).scalars())
            new = [r for r in rows if r["task_id"] not in have]
            if new:
                c.execute(label_tasks.insert(), new)
        log.info("labeling job %s: %d tasks for %s (%d new)", job_id, len(ids), algorithm_id, len(new))
        return ids

    def get(self, task_id: str) -> LabelTask:
        with self.engine.connect() as c:
            r = c.execute(sa.select(label_tasks).where(label_tasks.c.task_id == task_id)).first()
        if r is None:
            raise UnknownTaskError(f"unknown labeling task {task_id!r}; fetch open tasks with GET /labeling/tasks")
        return _task(r)

    def fetch(self, *, algorithm_id: str | None = None, labeler: str | None = None, limit: int = 20) -> list[LabelTask]:
        """Open tasks, oldest first, that ``labeler`` has not answered or skipped yet."""
        if not 1 <= limit <= 500:
            raise InvalidInputError(f"limit {limit} must be between 1 and 500")
        q = sa.select(label_tasks).where(label_tasks.c.state == "open").order_by(label_tasks.c.created_ms, label_tasks.c.job_id,
                                                                                  label_tasks.c.position)
        if algorithm_id is not None:
            q = q.where(label_tasks.c.algorithm_id == algorithm_id)
        if labeler is not None:
            mine = sa.select(label_answers.c.task_id).where(label_answers.c.labeler == labeler)
            q = q.where(label_tasks.c.task_id.not_in(mine))
        with self.engine.connect() as c:
            return [_task(r) for r in c.execute(q.limit(limit))]

    def submit(self, task_id: str, label: int, *, labeler: str) -> LabelTask:
        """Record ``labeler``'s 0/1 answer; the task is done when enough answers agree by majority."""
        if isinstance(label, bool) or label not in (0, 1):
            raise InvalidInputError(f"label {label!r} must be 0 (event absent) or 1 (event present)")
        return self._answer(task_id, label, labeler)

    def skip(self, task_id: str, *, labeler: str) -> LabelTask:
        """``labeler`` passes on this task (it stays open for others)."""
        return self._answer(task_id, None, labeler)

    def _answer(self, task_id: str, label: int | None, labeler: str) -> LabelTask:
        if not isinstance(labeler, str) or not labeler:
            raise InvalidInputError(f"labeler {labeler!r} must name who answered")
        t = self.get(task_id)
        with self.engine.begin() as c:
            where = (label_answers.c.task_id == task_id, label_answers.c.labeler == labeler)
            if c.execute(sa.select(label_answers.c.labeler).where(*where)).first() is None:
                c.execute(label_answers.insert().values(task_id=task_id, labeler=labeler, label=label, ts_ms=now_ms()))
            else:
                c.execute(label_answers.update().where(*where).values(label=label, ts_ms=now_ms()))
            got = [r[0] for r in c.execute(sa.select(label_answers.c.label).where(label_answers.c.task_id == task_id,
                                                                                   label_answers.c.label.is_not(None)))]
            ones, zeros = sum(got), len(got) - sum(got)
            if len(got) >= t.labels_needed and ones != zeros:
                c.execute(label_tasks.update().where(label_tasks.c.task_id == task_id)
                          .values(state="done", label=int(ones > zeros)))
        return self.get(task_id)

    def progress(self, *, algorithm_id: str | None = None, job_id: str | None = None) -> dict[str, int]:
        q = sa.select(sa.func.count(), sa.func.count(label_tasks.c.label))
        if algorithm_id is not None:
            q = q.where(label_tasks.c.algorithm_id == algorithm_id)
        if job_id is not None:
            q = q.where(label_tasks.c.job_id == job_id)
        with self.engine.connect() as c:
            total, done = c.execute(q).one()
        return {"done": int(done), "total": int(total)}

    def results(self, job_id: str) -> dict[str, bool]:
        """``{frame_ref: label}`` of the job's finished tasks."""
        q = sa.select(label_tasks.c.frame_ref, label_tasks.c.label).where(label_tasks.c.job_id == job_id, label_tasks.c.state == "done")
        with self.engine.connect() as c:
            return {f: bool(v) for f, v in c.execute(q)}

    def labelers(self, job_id: str) -> list[str]:
        q = (sa.select(label_answers.c.labeler).distinct().join(label_tasks, label_tasks.c.task_id == label_answers.c.task_id)
             .where(label_tasks.c.job_id == job_id, label_answers.c.label.is_not(None)))
        with self.engine.connect() as c:
            return sorted(c.execute(q).scalars())

    def agreement(self, *, algorithm_id: str | None = None) -> dict[str, float]:
        """Over tasks answered by two or more labelers: how many pairs of answers agree."""
        q = sa.select(label_answers.c.task_id, label_answers.c.label).where(label_answers.c.label.is_not(None))
        if algorithm_id is not None:
            q = q.join(label_tasks, label_tasks.c.task_id == label_answers.c.task_id).where(label_tasks.c.algorithm_id == algorithm_id)
        by: dict[str, list[int]] = {}
        with self.engine.connect() as c:
            for tid, lab in c.execute(q):
                by.setdefault(tid, []).append(lab)
        pairs = agree = 0
        for labs in by.values():
            for i in range(len(labs)):
                for j in range(i + 1, len(labs)):
                    pairs += 1
                    agree += labs[i] == labs[j]
        return {"tasks": sum(len(v) > 1 for v in by.values()), "pairs": pairs, "agree": agree,
                "rate": agree / pairs if pairs else 1.0}


class QueueLabeler:
    """A :class:`Labeler` backed by people: opens tasks, waits up to ``timeout_s`` for answers."""

    def __init__(self, queue: LabelingQueue, *, algorithm_id: str, job_prefix: str = "labeling", timeout_s: float = 3600.0,
                 poll_s: float = 1.0, labels_needed: int = 1) -> None:
        self.queue, self.algorithm_id, self.timeout_s, self.poll_s = queue, algorithm_id, timeout_s, poll_s
        self.job_prefix, self.labels_needed = job_prefix, labels_needed
        self.name = "labeling-queue"
        self.labels_given = 0

    def label(self, frame_ids: list[str], *, event_type: str) -> dict[str, bool]:
        job = f"{self.job_prefix}-{hashlib.sha256('|'.join(frame_ids).encode()).hexdigest()[:12]}"
        self.queue.open_tasks(self.algorithm_id, event_type, frame_ids, job_id=job, labels_needed=self.labels_needed)
        deadline = time.monotonic() + self.timeout_s
        while True:
            got = self.queue.results(job)
            if len(got) >= len(set(frame_ids)):
                self.labels_given += len(got)
                return {f: got[f] for f in frame_ids}
            if time.monotonic() > deadline:
                raise InvalidInputError(f"labeling job {job}: {len(got)} of {len(set(frame_ids))} frames labeled after "
                                        f"{self.timeout_s:.0f} s; label them at GET /labeling/tasks and retry")
            time.sleep(self.poll_s)
