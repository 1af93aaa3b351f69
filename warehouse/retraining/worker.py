"""The retraining worker: ``miss-events`` -> durable miss ledger -> each algorithm's loop.

Delivery is at least once; effects are idempotent by event id and the processed ids are
durable: a miss event is *counted* by one insert into the ledger
(:class:`~warehouse.retraining.store.FlywheelStore`, primary key = event id) before its
offset is committed, so a crash anywhere means redelivery, and a redelivered event finds its
row and counts nothing. Retraining then claims the pending misses of an algorithm under a
retraining task; a worker that dies mid-job leaves that task ``running``, and the next
worker's :meth:`RetrainingWorker.recover` marks it failed and gives its misses back.

Run one per consumer group::

    python -m warehouse.retraining.worker --bus kafka://127.0.0.1:9092 --store sqlite:///var/flywheel.db

(``tests/warehouse/retraining/test_delivery.py`` SIGKILLs this process at random points.)
"""
from __future__ import annotations

import argparse
import logging
import signal
from typing import Any, Callable

import sqlalchemy as sa

from warehouse.retraining.loop import should_retrain
from warehouse.retraining.store import FlywheelStore, meta, now_ms

log = logging.getLogger(__name__)

processed = sa.Table(
    "fw_processed", meta,
    sa.Column("scope", sa.String(200), primary_key=True),
    sa.Column("event_id", sa.String(200), primary_key=True),
    sa.Column("ts_ms", sa.BigInteger, nullable=False),
)
tally = sa.Table(  # what --tally's stand-in loop handled (the delivery test reads it)
    "fw_tally", meta,
    sa.Column("n", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("event_id", sa.String(200), nullable=False, index=True),
    sa.Column("job_id", sa.String(64), nullable=False),
)


class ProcessedIds:
    """A durable :class:`~warehouse.bus.SeenStore` in the flywheel database (one scope per group)."""

    def __init__(self, store: FlywheelStore, scope: str) -> None:
        self.engine, self.scope = store.engine, scope
        meta.create_all(self.engine)

    def seen(self, event_id: str) -> bool:
        with self.engine.connect() as c:
            q = sa.select(processed.c.event_id).where(processed.c.scope == self.scope, processed.c.event_id == event_id)
            return c.execute(q).first() is not None

    def add(self, event_id: str) -> None:
        try:
            with self.engine.begin() as c:
                c.execute(processed.insert().values(scope=self.scope, event_id=event_id, ts_ms=now_ms()))
        except sa.exc.IntegrityError:
            pass


class RetrainingWorker:
    """Consumes ``miss-events`` into the ledger and runs the loops whose trigger fires."""

    def __init__(self, bus, flywheel: FlywheelStore, *, loop_for: Callable[[str], Any], topic: str = "miss-events",
                 group: str = "retraining", min_misses: int = 1, precision_floor: float | None = None, min_feedback: int = 20,
                 feedback_topic: str | None = "feedback", catalog: Any = None, auto_rollback: bool = True) -> None:
        from warehouse.bus import IdempotentConsumer

        self.flywheel, self.loop_for, self.min_misses = flywheel, loop_for, min_misses
        self.precision_floor, self.min_feedback = precision_floor, min_feedback
        self.bus, self.catalog, self.auto_rollback = bus, catalog, auto_rollback
        self.results: list = []
        self.rollbacks: list = []
        self._topic, self._feedback_topic = topic, feedback_topic
        topics = [topic] + ([feedback_topic] if feedback_topic else [])
        self._c = IdempotentConsumer(bus, topics, group=group, handler=self._on_record, seen=ProcessedIds(flywheel, group))

    def _on_record(self, record) -> None:
        from warehouse.bus import MalformedEvent

        m = record.value
        if self._feedback_topic and record.topic == self._feedback_topic:
            try:
                self.flywheel.record_feedback(m)
            except ValueError as exc:
                raise MalformedEvent(str(exc)) from exc
            return
        if m.get("type") != "miss":
            raise MalformedEvent(f"miss-events record {m.get('event_id')!r} has type {m.get('type')!r}, expected 'miss'")
        alg = m.get("algorithm_id") or (f"event:{m['event_type']}" if m.get("event_type") else None)
        if not alg:
            raise MalformedEvent(f"miss event {m.get('event_id')!r} names neither algorithm_id nor event_type")
        self.flywheel.record_miss({**m, "algorithm_id": alg})

    def recover(self) -> int:
        """Fail the retraining tasks a dead worker left running and release their misses."""
        n = 0
        for t in self.flywheel.list_tasks(kind="retraining", state="running", limit=10_000):
            self.flywheel.release_misses(t.task_id)
            self.flywheel.update_task(t.task_id, state="failed", detail={"error": "worker died during the job; misses released"})
            n += 1
        if n:
            log.warning("recovered %d interrupted retraining job(s)", n)
        return n

    def run_once(self, timeout_s: float = 1.0) -> list:
        stats = self._c.run_once(timeout_s=timeout_s)
        out = self.retrain_due()
        if stats.polled:
            log.debug("consumed %s", stats)
        return out

    def retrain_due(self) -> list:
        out = []
        for alg, counts in sorted(self.flywheel.miss_counts().items()):
            if counts["pending"] == 0:
                continue  # nothing to learn from yet (a low precision alone has no frames to mine near)
            v = self.flywheel.verdicts(alg, model_version=self._production_number(alg))
            fire, why = should_retrain(pending_misses=counts["pending"], confirmed=v["confirm"], rejected=v["reject"],
                                       min_misses=self.min_misses, precision_floor=self.precision_floor,
                                       min_feedback=self.min_feedback)
            loop = self.loop_for(alg) if fire else None
            if loop is None:
                continue
            task = self.flywheel.start_task("retraining", alg, total=4, detail={"trigger": why})
            misses = self.flywheel.pending_misses(alg)
            self.flywheel.claim_misses([m["event_id"] for m in misses], task)
            try:
                out.append(loop.handle(misses, task_id=task))
            except Exception:  # one algorithm's failure must not stop the others
                log.exception("retraining failed algorithm=%s task=%s misses=%d", alg, task, len(misses))
                self.flywheel.release_misses(task)
                self.flywheel.update_task(task, state="failed")
        self.results.extend(out)
        if self.auto_rollback and self.catalog is not None:
            self.watch_promoted()
        return out

    def _production_number(self, alg: str) -> str | None:
        """The version whose precision counts (production's, when a catalog is at hand)."""
        if self.catalog is None:
            return None
        try:
            prod = self.catalog.production_version(alg)
        except KeyError:
            return None
        return str(prod.number) if prod is not None else None

    def watch_promoted(self) -> list:
        """Roll back every production version whose live precision fell below its predecessor's."""
        from warehouse.retraining.canary import should_roll_back
        from warehouse.retraining.promotion import PromotionError, predecessor, rollback

        out = []
        for alg in sorted({a for a in self.flywheel.miss_counts()} | set(self._feedback_algorithms())):
            try:
                current, before = predecessor(self.catalog, alg)
            except (PromotionError, KeyError):
                continue
            if before is None:
                continue
            now, prev = self.flywheel.verdicts(alg, model_version=str(current)), self.flywheel.verdicts(alg, model_version=str(before))
            n_prev = prev["confirm"] + prev["reject"]
            prev_p = prev["confirm"] / n_prev if n_prev >= self.min_feedback else None
            if should_roll_back(promoted_confirmed=now["confirm"], promoted_rejected=now["reject"], predecessor_precision=prev_p,
                                min_feedback=self.min_feedback):
                reason = (f"live precision of v{current} {now['confirm']}/{now['confirm'] + now['reject']} fell below "
                          f"v{before}'s {prev_p:.3f}")
                out.append(rollback(self.catalog, self.bus, alg, actor="flywheel-policy", reason=reason))
        self.rollbacks.extend(out)
        return out

    def _feedback_algorithms(self) -> list[str]:
        from warehouse.retraining.store import feedback

        with self.flywheel.engine.connect() as c:
            return list(c.execute(sa.select(feedback.c.algorithm_id).distinct()).scalars())

    def close(self) -> None:
        self._c.close()


class TallyLoop:
    """A stand-in loop for delivery tests and dry runs: records which misses each job handled."""

    def __init__(self, flywheel: FlywheelStore) -> None:
        self.flywheel = flywheel

    def handle(self, misses: list[dict], *, task_id: str) -> str:
        with self.flywheel.engine.begin() as c:
            c.execute(tally.insert(), [{"event_id": m["event_id"], "job_id": task_id} for m in misses])
        self.flywheel.update_task(task_id, done=4, state="done", detail={"handled": len(misses)})
        return task_id


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description="The retraining worker (miss-events -> ledger -> loops).")
    ap.add_argument("--bus", required=True, help="sqlite:///path or kafka://host:port")
    ap.add_argument("--topic-prefix", default="")
    ap.add_argument("--store", required=True, help="the flywheel database URL (sqlite:///var/flywheel.db)")
    ap.add_argument("--group", default="retraining")
    ap.add_argument("--instance-id", default="retraining-worker-0", help="static group membership id (Kafka)")
    ap.add_argument("--tally", action="store_true", help="count-only stand-in loop for every algorithm")
    a = ap.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    if a.bus.startswith("kafka://"):
        from warehouse.bus import KafkaBus

        bus = KafkaBus(a.bus.split("://", 1)[1], topic_prefix=a.topic_prefix, group_instance_id=a.instance_id)
    else:
        from warehouse.bus import open_bus

        bus = open_bus(a.bus, topic_prefix=a.topic_prefix)
    fw = FlywheelStore(a.store)
    stand_in = TallyLoop(fw) if a.tally else None
    worker = RetrainingWorker(bus, fw, loop_for=lambda alg: stand_in, group=a.group)
    worker.recover()
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    while not stop:
        worker.run_once(timeout_s=0.5)
    worker.close()
    bus.close()


if __name__ == "__main__":
    main()
