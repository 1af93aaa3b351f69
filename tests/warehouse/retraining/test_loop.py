from __future__ import annotations

import numpy as np
import pytest

from warehouse.bus import SqliteBus
from warehouse.bus.events import parse_event
from warehouse.errors import InvalidInputError
from warehouse.retraining.dataset import HELDOUT, MISTAKE_HELDOUT, TRAIN, LabeledDataset
from warehouse.retraining.labeling import SimulatedLabeler
from warehouse.retraining.loop import RetrainingLoop, split_mined, retraining_jobs, should_retrain
from warehouse.retraining.store import FlywheelStore

from .conftest import ALG, EVENT


def _loop(world, tmp_path, **kw):
    bus = SqliteBus(str(tmp_path / "bus.db"))
    lab = SimulatedLabeler(world.truth)
    fw = FlywheelStore(f"sqlite:///{tmp_path}/fw.db")
    return RetrainingLoop(algorithm_id=ALG, event_type=EVENT, catalog=world.catalog, store=world.store, pool=world.pool,
                          labeler=lab, bus=bus, seed=1, flywheel=fw, budget=40, epochs=150, **kw), bus, lab, fw


def test_retrain_fixes_an_unseen_appearance_and_the_gate_is_honest(world, tmp_path):
    world.register_v1()
    loop, bus, lab, fw = _loop(world, tmp_path, on_pass="promote")
    r = loop.handle(world.misses())
    assert r.decision.passed, str(r.decision)
    assert r.new_version == 2 and r.action == "promoted" and world.catalog.production_version(ALG).number == 2
    # honest: mistake-like held-out frames were labeled but never trained on, held-out is the v1 set
    lin = world.catalog.lineage(ALG, 2)
    ds_node = lin["training_run"]["dataset_version"]
    ds = LabeledDataset.from_bytes(world.store.get_bytes(ds_node["artifact_sha256"]))
    split = dict(zip(ds.sample_ids, ds.split))
    assert all(split[m["frame_ref"]] == TRAIN for m in world.misses())
    assert (ds.split == MISTAKE_HELDOUT).sum() > 0 and (ds.split == HELDOUT).sum() == 200
    assert ds_node["mining_job"]["miss_event_ids"] == [m["event_id"] for m in world.misses()]
    # the gate's numbers are stored with the version
    v2 = world.catalog.get_version(ALG, 2)
    assert v2.metrics["gate_passed"] == 1.0 and v2.metrics["gate_gain"] > 0
    assert world.catalog.version_metadata(ALG, 2)["gate"]["passed"] is True
    assert r.labels_used == lab.labels_given > 0 and 0 < r.scanned_fraction < 0.5
    ups = [parse_event("model-updates", x.value) for x in bus.consumer("model-updates", group="t").poll(timeout_s=0.5)]
    assert [u.action for u in ups] == ["registered", "promoted"]
    kinds = {t.kind: t.state for t in fw.list_tasks(parent_id=r.task_id)}
    assert kinds == {"mining": "done", "labeling": "done", "training": "done", "evaluation": "done"}
    assert fw.get_task(r.task_id).state == "done" and retraining_jobs(fw) == []


def test_same_dataset_and_seed_give_the_same_version(world, tmp_path):
    world.register_v1()
    from warehouse.retraining.loop import TrainingInput, run_training

    ds = LabeledDataset.from_bytes(world.store.get_bytes(
        world.catalog.lineage(ALG, 1)["training_run"]["dataset_version"]["artifact_sha256"]))
    x, y = ds.part(TRAIN)
    init = world.catalog.load_artifact(ALG, 1)
    a = run_training(TrainingInput(x, y, init, 5, EVENT, 100))
    b = run_training(TrainingInput(x, y, init, 5, EVENT, 100))
    assert a[0] == b[0] and a[1] == b[1]
    assert run_training(TrainingInput(x, y, init, 6, EVENT, 100))[0] != a[0]


def test_gate_failure_registers_nothing(world, tmp_path):
    world.register_v1()
    loop, bus, lab, fw = _loop(world, tmp_path)
    loop.labeler = SimulatedLabeler({f: False for f in world.truth})  # labels teach nothing new: no gain
    r = loop.handle(world.misses())
    assert not r.decision.passed and "gain" in str(r.decision)
    assert r.new_version is None and [v.number for v in world.catalog.versions(ALG)] == [1]
    assert world.catalog.production_version(ALG).number == 1
    assert bus.consumer("model-updates", group="t").poll(timeout_s=0.3) == []


def test_misses_without_pool_frames_are_refused(world, tmp_path):
    world.register_v1()
    loop, *_ = _loop(world, tmp_path)
    with pytest.raises(InvalidInputError, match="frame_ref"):
        loop.handle([{"event_id": "m", "algorithm_id": ALG, "frame_ref": "nowhere:1"}])
    assert loop.flywheel.list_tasks(kind="retraining")[0].state == "failed"


def test_split_mined_is_stable_grouped_and_never_all_or_nothing():
    ids = [f"cam:{i}" for i in range(200)]
    a = split_mined(ids, seed=3, holdout_share=0.3)
    assert a == split_mined(list(reversed(ids)), seed=3, holdout_share=0.3)
    assert all(len({a[f"cam:{j}"] for j in range(i, i + 10)}) == 1 for i in range(0, 200, 10))  # one split per window
    assert 0.25 <= np.mean([v == MISTAKE_HELDOUT for v in a.values()]) < 0.45
    two = split_mined(["cam:1", "cam:25"], seed=0, holdout_share=0.3)
    assert sorted(two.values()) == [TRAIN, MISTAKE_HELDOUT]  # some held out, some trained
    assert split_mined(["cam:1", "cam:2"], seed=0, holdout_share=0.9) == {"cam:1": TRAIN, "cam:2": TRAIN}  # one window: train


@pytest.mark.parametrize(
    "kw, fire",
    [
        (dict(pending_misses=3, min_misses=3), True),  # enough mistakes
        (dict(pending_misses=1, min_misses=3), False),  # not yet
        (dict(pending_misses=0, confirmed=10, rejected=15, precision_floor=0.6), True),  # precision 0.4 < 0.6
        (dict(pending_misses=0, confirmed=5, rejected=5, precision_floor=0.6), False),  # too few verdicts
    ],
)
def test_should_retrain(kw, fire):
    assert should_retrain(**kw)[0] is fire


def test_full_lineage_from_version_back_to_alerts_through_the_worker(world, tmp_path):
    from warehouse.retraining.datasets import Flywheel, version_lineage
    from warehouse.retraining.worker import RetrainingWorker

    world.register_v1()
    loop, bus, lab, fw = _loop(world, tmp_path, on_pass="promote")
    for m in world.misses():
        bus.publish("miss-events", {**m, "camera_id": "cam1", "ts_ms": 1_780_000_000_000, "alert_id": f"al-{m['frame_ref']}",
                                    "source_event_id": f"fb-{m['frame_ref']}", "reporter": "inspector-7"}, key=ALG)
    bus.flush()
    w = RetrainingWorker(bus, fw, loop_for=lambda a: loop if a == ALG else None, feedback_topic=None)
    [r] = w.run_once(timeout_s=0.5)
    assert r.new_version == 2 and fw.pending_misses() == []
    lin = version_lineage(world.catalog, ALG, 2, flywheel=Flywheel(fw, world.catalog))
    ds = lin["training_run"]["dataset_version"]
    misses = ds["mining_job"]["miss_events"]
    assert [m["alert_id"] for m in misses] == [f"al-{m['frame_ref']}" for m in world.misses()]
    assert all(m["in_ledger"] and m["source_event_id"].startswith("fb-") for m in misses)
    assert ds["labels"]["labeler"] == lab.name and ds["labels"]["labeling_task"]["state"] == "done"
    assert ds["parent"]["sample_count"] == 500 and lin["gate"]["passed"] is True


def test_running_training_tasks_are_scheduler_jobs(tmp_path):
    from dataclasses import asdict

    from warehouse.retraining.loop import RetrainingJob

    fw = FlywheelStore("sqlite://")
    job = RetrainingJob.estimate("retr-1", n_samples=10_000, dim=1280)
    t = fw.start_task("training", ALG, detail={"job": asdict(job)})
    assert retraining_jobs(fw) == [job] and job.compute_ms_per_s == 1000.0 and job.memory_mib > 350
    fw.update_task(t, state="done")
    assert retraining_jobs(fw) == []
