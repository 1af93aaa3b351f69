"""The flywheel on a real camera: rejected alerts become hard negatives, cycle by cycle.

The camera streams its training frames (vtest 0-397), one consecutive segment per cycle (new
footage every cycle), through the runtime's head bank and event logic
(:func:`.false_alarms.measure_false_alarms`). A simulated operator rejects every alert
(nothing happens in that footage): the frames of the alert's event (its clip) are rejected.
For each head, the rejected frames and the frames most like them -- mined from the frames the
camera has retained so far by the retraining loop's SEALS mining
(:mod:`warehouse.retraining.mining`) and labelled "no event" by the simulated labeler --
join that head's training set as negatives; the head is retrained with the trainer of the
catalog build (:func:`warehouse.training.heads.train_heads`, threshold at max validation
F1) and replaces the old one if its held-out synthetic F1 stays >= ``min_f1``. After every
cycle the held-out frames (vtest 398-794, never mined or trained on) are measured again.

The retraining loop's own ``RetrainingLoop.handle`` is not used: it retrains from a labeled
dataset artifact in the version's lineage, which scene heads built from synthetic pools do
not have; mining, labeling and the trainer are the loop's parts, called directly.

>>> c = CycleReport(1, {"a": 2}, {"a": 26}, 0.0, 0.0, 0, {"a": 0.9})
>>> c.as_dict()["rejected_alerts"]
2
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Callable, Mapping, Sequence

import numpy as np

from catalog import read_linear_head
from warehouse.training.false_alarms import FalseAlarmReport, HeadUnderTest, measure_false_alarms
from warehouse.training.heads import evaluate_head, train_heads
from warehouse.training.synthetic_pool import ScenePool

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CycleReport:
    cycle: int
    rejected: dict[str, int]  # head -> alerts rejected on the training frames this cycle
    hard_negatives: dict[str, int]  # head -> hard negatives in its training set after this cycle
    false_alarms_per_hour_selected: float  # on the held-out frames, after this cycle's retraining
    false_alarms_per_hour_all: float
    heads_over_threshold_any_frame: int
    test_f1: dict[str, float] = field(default_factory=dict)  # held-out synthetic F1 of each head in use
    retrained: int = 0
    kept_old: int = 0  # retrained heads whose F1 fell under min_f1: the old version stays

    def as_dict(self) -> dict:
        f1 = np.array(list(self.test_f1.values())) if self.test_f1 else np.zeros(0)
        return {"cycle": self.cycle, "rejected_alerts": sum(self.rejected.values()), "heads_with_rejections": sum(1 for v in self.rejected.values() if v),
                "hard_negatives": sum(self.hard_negatives.values()), "retrained": self.retrained, "kept_old": self.kept_old,
                "false_alarms_per_hour_selected": round(self.false_alarms_per_hour_selected, 2),
                "false_alarms_per_hour_all": round(self.false_alarms_per_hour_all, 2),
                "heads_over_threshold_any_frame": self.heads_over_threshold_any_frame,
                "heldout_f1_share_ge_0_8": round(float((f1 >= 0.8).mean()), 4) if len(f1) else None}  # fmt: skip


def retrain_with_negatives(pool: ScenePool, event: str, negatives: np.ndarray, *, seed: int = 0) -> tuple[bytes, float, float]:
    """Retrain the head (pool.scene, event) on its synthetic train split plus ``negatives``
    (label 0); returns (ONNX bytes, threshold, held-out synthetic F1)."""
    j = pool.events.index(event)
    tr, va, te = (pool.splits == s for s in ("train", "val", "test"))
    x = np.concatenate([pool.embeddings[tr], np.asarray(negatives, np.float32).reshape(-1, pool.embeddings.shape[1])])
    y = np.concatenate([pool.labels[tr][:, j], np.zeros(len(negatives), np.uint8)])[:, None]
    head = train_heads(x, y, labels=[event], validation=(pool.embeddings[va], pool.labels[va][:, j : j + 1]), seed=seed)[0]
    f1 = evaluate_head(head.onnx_bytes, pool.embeddings[te], pool.labels[te][:, j], head.threshold)["f1"]
    return head.onnx_bytes, head.threshold, float(f1)


def _mine_similar(frame_ids: list[str], embeddings: np.ndarray, queries: list[str], labeled: set[str], head: HeadUnderTest,
                  budget: int, seed: int) -> list[str]:  # fmt: skip
    from warehouse.retraining.mining import ArrayPool, MiningRegistry, MiningRequest

    lin = read_linear_head(head.onnx_bytes)
    req = MiningRequest(queries=tuple(queries), labeled=frozenset(labeled), score=lambda x: lin.scores(x)[:, 0], threshold=head.threshold,
                        budget=budget, seed=seed)  # fmt: skip
    return list(MiningRegistry().get("seals").mine(ArrayPool(frame_ids, embeddings), req).selected)


def run_camera_flywheel(
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
    mine_budget: int = 24,
    min_f1: float = 0.8,
    seed: int = 0,
    camera_id: str = "vtest",
    initial_f1: Mapping[str, float] | None = None,
    measure: Callable[..., FalseAlarmReport] = measure_false_alarms,
) -> list[CycleReport]:
    """Cycle 0 measures ``heads`` as they are; cycles 1..``cycles`` each stream the next segment
    of the training frames, reject its alerts, mine, retrain, and measure the held-out frames.

    ``pools``: scene -> its synthetic pool (the head ``scene.{s}.{e}`` retrains on ``pools[s]``).
    """
    from catalog import parse_algorithm_id

    current = dict(heads)
    ids = [f"{camera_id}:{int(i)}" for i in train_frame_indices]
    row_of = {f: k for k, f in enumerate(ids)}
    train_emb = np.asarray(train_embeddings, np.float32)
    if cycles < 0 or (cycles and len(ids) < cycles * 10):
        raise ValueError(f"{cycles} cycles over {len(ids)} training frames; give cycles >= 0 and >= 10 frames per cycle")
    segments = np.array_split(np.arange(len(ids)), max(1, cycles))
    negatives: dict[str, list[str]] = {a: [] for a in current}
    f1 = {a: float((initial_f1 or {}).get(a, float("nan"))) for a in current}
    held = measure(current, heldout_embeddings, fps=fps, frame_indices=heldout_frame_indices, camera_id=camera_id)
    reports = [CycleReport(0, {a: 0 for a in current}, {a: 0 for a in current}, held.per_hour(selected), held.per_hour(),
                           held.heads_over_threshold_any_frame, {a: v for a, v in f1.items() if v == v})]  # fmt: skip
    for cycle in range(1, cycles + 1):
        seg = segments[cycle - 1]
        played = measure(current, train_emb[seg], fps=fps, frame_indices=[train_frame_indices[i] for i in seg], camera_id=camera_id)
        rejected = {a: len(v) for a, v in played.alert_frames.items()}
        seen = int(seg[-1]) + 1  # the camera has retained every frame it streamed so far
        retrained = kept = 0
        for a, episodes in played.alert_episodes.items():
            if not episodes:
                continue
            # the operator rejected these alerts' clips: nothing happens there
            queries = list(dict.fromkeys(f"{camera_id}:{i}" for ep in episodes for i in ep))
            mined = _mine_similar(ids[:seen], train_emb[:seen], queries, set(negatives[a]) | set(queries), current[a], mine_budget, seed + cycle)
            # the simulated labeler knows the truth of this footage: no city event on any frame
            negatives[a] = list(dict.fromkeys(negatives[a] + queries + mined))
            aid = parse_algorithm_id(a)
            onnx, thr, new_f1 = retrain_with_negatives(pools[aid.scene], aid.event, train_emb[[row_of[f] for f in negatives[a]]], seed=seed)
            retrained += 1
            if new_f1 >= min_f1 or new_f1 >= f1.get(a, 0.0):
                old = current[a]
                current[a] = HeadUnderTest(onnx, thr, old.k, old.n, old.cooldown_s, f"{old.version}+c{cycle}", old.window_s,
                                           old.window_share)
                f1[a] = new_f1
            else:
                kept += 1
            log.info("flywheel cycle=%d head=%s rejected_frames=%d mined=%d negatives=%d f1=%.3f", cycle, a, len(queries), len(mined),
                     len(negatives[a]), new_f1)  # fmt: skip
        held = measure(current, heldout_embeddings, fps=fps, frame_indices=heldout_frame_indices, camera_id=camera_id)
        reports.append(CycleReport(cycle, rejected, {a: len(v) for a, v in negatives.items()}, held.per_hour(selected), held.per_hour(),
                                   held.heads_over_threshold_any_frame, {a: v for a, v in f1.items() if v == v}, retrained, kept))  # fmt: skip
    return reports
