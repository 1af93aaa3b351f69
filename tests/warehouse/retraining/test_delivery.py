"""At least once, counted once: SIGKILL the retraining worker at random points (real Kafka)."""
from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time

import pytest
import sqlalchemy as sa

from warehouse.bus import SqliteBus
from warehouse.retraining.store import FlywheelStore
from warehouse.retraining.worker import RetrainingWorker, TallyLoop, tally


def _miss(i: int, alg: str = "scene.road.smoke") -> dict:
    return {"event_id": f"miss-{i:04d}", "type": "miss", "kind": "false_alarm", "camera_id": "cam-1", "algorithm_id": alg,
            "frame_ref": f"cam-1:{i}", "ts_ms": 1_780_000_000_000 + i}


def _tallied(fw: FlywheelStore) -> list[str]:
    with fw.engine.connect() as c:
        return list(c.execute(sa.select(tally.c.event_id)).scalars())


def test_worker_counts_each_miss_once_and_recovers_an_interrupted_job(tmp_path):
    bus = SqliteBus(str(tmp_path / "bus.db"))
    fw = FlywheelStore(f"sqlite:///{tmp_path}/fw.db")
    for i in list(range(5)) + [1, 3]:  # two redeliveries
        bus.publish("miss-events", _miss(i), key="scene.road.smoke")
    bus.publish("miss-events", {"event_id": "bad", "type": "alert"}, key="x")  # not a miss: dead-lettered, not counted
    bus.flush()
    # a worker that died mid-job left a task running with claimed misses
    fw.record_miss(_miss(99))
    dead = fw.start_task("retraining", "scene.road.smoke")
    fw.claim_misses(["miss-0099"], dead)
    w = RetrainingWorker(bus, fw, loop_for=lambda a: TallyLoop(fw))
    assert w.recover() == 1 and fw.get_task(dead).state == "failed"
    w.run_once(timeout_s=0.5)
    assert sorted(fw.all_miss_ids()) == [f"miss-{i:04d}" for i in (0, 1, 2, 3, 4, 99)]
    assert sorted(_tallied(fw)) == sorted(fw.all_miss_ids()) and fw.pending_misses() == []
    [dl] = bus.consumer("dead-letter", group="t").poll(timeout_s=0.3)
    assert "bad" in dl.value["reason"]


@pytest.mark.kafka
@pytest.mark.slow
def test_sigkill_at_random_points_loses_nothing_and_counts_nothing_twice(tmp_path, kafka_bootstrap, kafka_topic_prefix):
    from warehouse.bus import KafkaBus

    rng = random.Random(int(os.environ.get("WAREHOUSE_TEST_SEED", "10")))
    store_url = f"sqlite:///{tmp_path}/fw.db"
    fw = FlywheelStore(store_url)
    bus = KafkaBus(kafka_bootstrap, topic_prefix=kafka_topic_prefix)
    bus.ensure_topics(["miss-events"])
    cmd = [sys.executable, "-m", "warehouse.retraining.worker", "--bus", f"kafka://{kafka_bootstrap}", "--topic-prefix",
           kafka_topic_prefix, "--store", store_url, "--tally", "--instance-id", f"{kafka_topic_prefix}w0"]
    published: list[str] = []
    kills, t0, n = 0, time.monotonic(), 0
    counts_at_kill = []
    for round_ in range(20):
        batch = [_miss(n + i, alg=f"scene.road.a{(n + i) % 3}") for i in range(rng.randint(5, 25))]
        n += len(batch)
        batch += rng.sample(batch, k=min(3, len(batch)))  # re-published: the same event ids again
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        for m in batch:
            bus.publish("miss-events", m, key=m["algorithm_id"])
            published.append(m["event_id"])
        bus.flush()
        if round_ % 2 == 0:  # kill while it consumes: once the ledger grows, a random moment later
            before, until = len(fw.all_miss_ids()), time.monotonic() + 8
            while len(fw.all_miss_ids()) == before and time.monotonic() < until:
                time.sleep(0.05)
            time.sleep(rng.uniform(0.0, 0.3))
        else:  # anywhere: importing, joining the group, consuming, retraining or idle
            time.sleep(rng.uniform(0.3, 3.0))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        kills += 1
        counts_at_kill.append(len(fw.all_miss_ids()))
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    want = sorted(set(published))
    try:
        deadline = time.monotonic() + 40
        while time.monotonic() < deadline and (fw.all_miss_ids() != want or fw.pending_misses()):
            time.sleep(0.3)
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        bus.close()
    ids = fw.all_miss_ids()
    assert kills >= 20
    assert ids == want, f"lost: {sorted(set(want) - set(ids))[:5]}"  # nothing lost ...
    assert len(ids) == len(set(ids)) == n  # ... nothing counted twice (the duplicates too)
    assert sum(c["total"] for c in fw.miss_counts().values()) == n
    assert fw.pending_misses() == [] and set(_tallied(fw)) == set(want)  # every miss reached its loop
    assert len(set(counts_at_kill)) > 5, counts_at_kill  # kills landed while the ledger was growing
    assert time.monotonic() - t0 < 120


def test_precision_trigger_and_automatic_rollback(tmp_path):
    import numpy as np

    from catalog import AlgorithmSpec, ArtifactStore, Catalog, linear_head_onnx
    from warehouse.retraining.promotion import promote

    A = "scene.road.smoke"
    cat = Catalog.open(f"sqlite:///{tmp_path}/cat.db", store=ArtifactStore(str(tmp_path / "art")))
    cat.register_algorithm(AlgorithmSpec(id=A, name="Smoke", event_types=("smoke",), scene_tags=("road",)))
    sha = cat.store.put_bytes(linear_head_onnx(np.zeros((4, 1), np.float32), np.zeros(1, np.float32), labels=["smoke"]))
    for _ in range(2):
        cat.add_version(A, artifact_sha256=sha)
    bus = SqliteBus(str(tmp_path / "bus.db"))
    fw = FlywheelStore(f"sqlite:///{tmp_path}/fw.db")
    promote(cat, bus, A, 1, actor="t", reason="v1")
    promote(cat, bus, A, 2, actor="t", reason="v2")
    def fb(i, v, verdict):
        return {"event_id": f"fb-{v}-{i}", "type": "alert_feedback", "algorithm_id": A, "model_version": str(v), "verdict": verdict,
                "alert_id": f"al-{i}", "camera_id": "cam-1", "feedback_id": f"fb-{v}-{i}", "operator": "op"}
    for i in range(20):  # v1 was precise (19/20), v2 is not (10/20)
        bus.publish("feedback", fb(i, 1, "confirm" if i else "reject"), key=A)
        bus.publish("feedback", fb(i, 2, "confirm" if i % 2 else "reject"), key=A)
    bus.publish("miss-events", _miss(1, alg=A), key=A)
    bus.flush()
    handled = []

    class Loop:
        def handle(self, misses, *, task_id):
            handled.append(len(misses))
            fw.update_task(task_id, state="done")
            return task_id

    w = RetrainingWorker(bus, fw, loop_for=lambda a: Loop(), min_misses=3, precision_floor=0.6, min_feedback=20, catalog=cat)
    w.run_once(timeout_s=0.5)
    assert handled == [1]  # one miss is under min_misses=3, but precision 0.5 < 0.6 triggered retraining
    assert [e.action for e in w.rollbacks] == ["rolled_back"] and cat.production_version(A).number == 1
    assert fw.verdicts(A, model_version="2") == {"confirm": 10, "reject": 10}
    cat.close()
