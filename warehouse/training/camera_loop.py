"""The flywheel on a real camera, through the retraining loop: rejected alerts -> ``RetrainingLoop.handle``.

Like :func:`.camera_flywheel.run_camera_flywheel` (the camera streams vtest 0-397 one segment
per cycle; a simulated operator rejects every alert's clip; the held-out frames 398-794 are
measured after every cycle), but each head that alerted is retrained by the project's own
:class:`warehouse.retraining.RetrainingLoop` -- mining (SEALS) near the rejected frames in the
frames the camera retained so far, the simulated labeler ("no event": nothing happens in this
footage), a new dataset version with lineage, PyTorch training warm-started from production,
the promotion gate (no held-out F1 regression, gain on mistake-like held-out frames), and
promotion when the gate passes.

The loop retrains from the labeled-dataset artifact in the production version's lineage.
Scene heads built from synthetic pools have none, so a head is **enrolled** on its first
rejection (:func:`enroll_head`): its synthetic pool becomes a dataset artifact (train and
validation rows ``TRAIN``, test rows ``HELDOUT``, the gate's fixed held-out set) and the head
is registered on it as the production version (same weights, threshold and event policy).

>>> ids = camera_frame_ids("vtest", [3, 4])
>>> ids, rejected_misses("scene.road.smoke", [[3, 4]], "vtest", cycle=1)[0]["frame_ref"]
(['vtest:3', 'vtest:4'], 'vtest:3')
"""
from __future__ import annotations

import logging
import uuid
from typing import Callable, Mapping, Sequence

import numpy as np

from warehouse.training.camera_flywheel import CycleReport
from warehouse.training.false_alarms import FalseAlarmReport, HeadUnderTest, measure_false_alarms
from warehouse.training.synthetic_pool import ScenePool

log = logging.getLogger(__name__)


def camera_frame_ids(camera_id: str, frame_indices: Sequence[int]) -> list[str]:
    """Frame pool ids ``camera:index`` (the loop's ``frame_ref`` form)."""
    return [f"{camera_id}:{int(i)}" for i in frame_indices]


def rejected_misses(algorithm_id: str, episodes: Sequence[Sequence[int]], camera_id: str, *, cycle: int) -> list[dict]:
    """The operator's rejections of one head's alerts as the loop's misses: every frame of each
    alert's clip is a reported false alarm (pure)."""
    frames = dict.fromkeys(int(i) for ep in episodes for i in ep)
    return [{"event_id": f"{algorithm_id}|c{cycle}|{camera_id}:{i}", "frame_ref": f"{camera_id}:{i}", "kind": "false_alarm"} for i in frames]


def enroll_head(cat, store, algorithm_id: str, pool: ScenePool, head: HeadUnderTest) -> int:
    """Register ``head`` as the production version of ``algorithm_id`` on a dataset artifact made
    from its synthetic pool (train + val rows ``TRAIN``, test rows ``HELDOUT``); returns the version."""
    from catalog import Stage, parse_algorithm_id
    from warehouse.retraining import HELDOUT, TRAIN, LabeledDataset
    from warehouse.training.scene_heads import head_spec

    aid = parse_algorithm_id(algorithm_id)
    j = pool.events.index(aid.event)
    ids = tuple(f"synthetic:{pool.scene}:{k}" for k in range(len(pool.embeddings)))
    split = np.where(pool.splits == "test", HELDOUT, TRAIN).astype(np.int8)
    ds = LabeledDataset(np.asarray(pool.embeddings, np.float32), pool.labels[:, j].astype(np.int8), ids, split)
    cat.register_algorithm(head_spec(aid.scene, aid.event, embedding_dim=int(pool.embeddings.shape[1])))
    ds_id = cat.record_dataset_version(algorithm_id, sample_ids=list(ids), artifact_sha256=store.put_bytes(ds.to_bytes(), suffix=".npz"),
                                       stats={**ds.stats(), "source": f"synthetic pool of scene {pool.scene}", "enrolled_for": "camera flywheel"})
    run = cat.record_training_run(algorithm_id, dataset_version_id=ds_id, params={"trainer": "warehouse.training.heads.train_heads",
                                                                                   "enrolled": head.version}, metrics={})
    metrics = {"threshold": float(head.threshold), "calibration_k": float(head.k), "calibration_n": float(head.n),
               "calibration_cooldown_s": float(head.cooldown_s), "calibration_window_s": float(head.window_s or 0.0),
               "calibration_window_share": float(head.window_share)}
    v = cat.add_version(algorithm_id, artifact_sha256=store.put_bytes(head.onnx_bytes, suffix=".onnx"), metrics=metrics,
                        training_run_id=run, stage=Stage.CANDIDATE, notes=f"enrolled for the camera flywheel from {head.version}")
    cat.promote(algorithm_id, v.number, to=Stage.PRODUCTION)
    return v.number


def run_camera_flywheel_loop(
    heads: Mapping[str, HeadUnderTest],
    pools: Mapping[str, ScenePool],
    *,
    train_embeddings: np.ndarray,
    train_frame_indices: Sequence[int],
    heldout_embeddings: np.ndarray,
    heldout_frame_indices: Sequence[int],
    selected: Sequence[str],
    fps: float,
    cycles: int = 4,
    budget: int = 24,
    seed: int = 0,
    camera_id: str = "vtest",
    initial_f1: Mapping[str, float] | None = None,
    measure: Callable[..., FalseAlarmReport] = measure_false_alarms,
) -> list[CycleReport]:
    """Cycle 0 measures ``heads``; cycles 1..``cycles`` each play the next segment of the training
    frames, hand every alerting head's rejections to ``RetrainingLoop.handle`` (``on_pass="promote"``)
    and measure the held-out frames. ``CycleReport.kept_old`` counts heads whose new version the
    gate refused (production stays); ``hard_negatives`` the camera frames labelled into each head's
    dataset so far. A fresh in-memory catalog holds the enrolled heads and their lineage."""
    from catalog import ArtifactStore, Catalog, parse_algorithm_id
    from warehouse.retraining import ArrayPool, RetrainingLoop, SimulatedLabeler

    ids = camera_frame_ids(camera_id, train_frame_indices)
    train_emb = np.asarray(train_embeddings, np.float32)
    if cycles < 0 or (cycles and len(ids) < cycles * 10):
        raise ValueError(f"{cycles} cycles over {len(ids)} training frames; give cycles >= 0 and >= 10 frames per cycle")
    store = ArtifactStore(f"memory://camera-loop-{uuid.uuid4().hex[:8]}")
    cat = Catalog.open("sqlite://", store=store)
    labeler = SimulatedLabeler({f: False for f in ids}, name="simulated-operator-vtest")  # no city event in this footage
    current = dict(heads)
    f1 = {a: float((initial_f1 or {}).get(a, float("nan"))) for a in current}
    negatives = {a: 0 for a in current}
    segments = np.array_split(np.arange(len(ids)), max(1, cycles))
    held = measure(current, heldout_embeddings, fps=fps, frame_indices=heldout_frame_indices, camera_id=camera_id)
    reports = [CycleReport(0, {a: 0 for a in current}, dict(negatives), held.per_hour(selected), held.per_hour(),
                           held.heads_over_threshold_any_frame, {a: v for a, v in f1.items() if v == v})]  # fmt: skip
    try:
        for cycle in range(1, cycles + 1):
            seg = segments[cycle - 1]
            played = measure(current, train_emb[seg], fps=fps, frame_indices=[train_frame_indices[i] for i in seg], camera_id=camera_id)
            rejected = {a: len(v) for a, v in played.alert_frames.items()}
            seen = int(seg[-1]) + 1  # the camera has retained every frame it streamed so far
            frame_pool = ArrayPool(ids[:seen], train_emb[:seen])
            retrained = kept = 0
            for a, episodes in played.alert_episodes.items():
                if not episodes:
                    continue
                aid = parse_algorithm_id(a)
                if not _enrolled(cat, a):
                    enroll_head(cat, store, a, pools[aid.scene], current[a])
                loop = RetrainingLoop(algorithm_id=a, event_type=aid.event, catalog=cat, store=store, pool=frame_pool, labeler=labeler,
                                      seed=seed + cycle, budget=budget, on_pass="promote", use_ray=False)
                res = loop.handle(rejected_misses(a, episodes, camera_id, cycle=cycle))
                retrained += 1
                negatives[a] += res.labeled_negative
                if res.new_version is not None:
                    v = cat.get_version(a, res.new_version)
                    current[a] = HeadUnderTest.from_version(cat.load_artifact(a, v.number), v.metrics, version=f"{a}@{v.number}",
                                                            window=(current[a].window_s, current[a].window_share))  # the rule it runs with
                    f1[a] = float(res.metrics.get("f1", float("nan")))
                else:
                    kept += 1
                log.info("camera loop cycle=%d head=%s misses=%d mined=%s gate=%s version=%s", cycle, a, len(res.miss_event_ids),
                         res.mined, res.decision, res.new_version)  # fmt: skip
            held = measure(current, heldout_embeddings, fps=fps, frame_indices=heldout_frame_indices, camera_id=camera_id)
            reports.append(CycleReport(cycle, rejected, dict(negatives), held.per_hour(selected), held.per_hour(),
                                       held.heads_over_threshold_any_frame, {a: v for a, v in f1.items() if v == v}, retrained, kept))  # fmt: skip
    finally:
        cat.close()
    return reports


def _enrolled(cat, algorithm_id: str) -> bool:
    from catalog import UnknownAlgorithmError

    try:
        cat.get_algorithm(algorithm_id)
    except UnknownAlgorithmError:
        return False
    return cat.production_version(algorithm_id) is not None
