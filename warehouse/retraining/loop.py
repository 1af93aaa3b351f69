"""One algorithm's retraining loop: mistakes in, a gated (and, by policy, promoted) version out.

mine (ANN neighbours of the mistakes in the frame pool, scored by the production head) ->
label (every answer counted) -> new dataset version (the mistakes train; a fixed share of
the mined frames is kept apart as *mistake-like held-out*, never trained on) -> train
(PyTorch, warm-started from production; a Ray task when Ray runs) -> gate (the algorithm's
fixed held-out set: no regression > 1 F1 point; gain on mistake-like held-out frames) ->
register with the gate's numbers and full lineage -> ``model-updates`` -> by ``on_pass``:
keep as candidate, start a canary on the cameras the control plane names, or promote.

Each step is a task record (mining, labeling, training, evaluation) under one retraining
task, with state and progress, in the :class:`~warehouse.retraining.store.FlywheelStore`.
"""
from __future__ import annotations

import hashlib
import logging
import time
from dataclasses import asdict, dataclass, field
from typing import Any, Callable

import numpy as np

from catalog import Stage, read_linear_head
from warehouse.errors import InvalidInputError
from warehouse.framepool import FramePool
from warehouse.retraining.dataset import HELDOUT, MISTAKE_HELDOUT, TRAIN, LabeledDataset
from warehouse.retraining.gate import PromotionVerdict, mistake_like_score, promotion_verdict
from warehouse.retraining.labeling import Labeler
from warehouse.retraining.mining import MiningRegistry, MiningRequest
from warehouse.retraining.store import FlywheelStore

log = logging.getLogger(__name__)
ON_PASS = ("candidate", "canary", "promote")


def _group(sample_id: str) -> str:
    cam, _, idx = sample_id.rpartition(":")
    return f"{cam}:{int(idx) // 10}" if cam and idx.isdigit() else sample_id


def split_mined(sample_ids: list[str], *, seed: int, holdout_share: float) -> dict[str, int]:
    """Pure, stable: which mined samples become MISTAKE_HELDOUT (never trained on) and which TRAIN.

    Samples are grouped by camera and 10-frame window, so near-identical consecutive frames
    never straddle train and held-out; groups are taken in the order of a seeded hash until
    ``holdout_share`` of the samples is held out: at least one group, never all of them.
    """
    groups: dict[str, list[str]] = {}
    for s in dict.fromkeys(sample_ids):
        groups.setdefault(_group(s), []).append(s)
    order = sorted(groups, key=lambda g: hashlib.sha256(f"{seed}|{g}".encode()).hexdigest())
    out = {s: TRAIN for s in sample_ids}
    held, want = 0, holdout_share * len(out)
    for g in order[: max(0, len(order) - 1)]:
        if held >= want and held > 0:
            break
        for s in groups[g]:
            out[s] = MISTAKE_HELDOUT
        held += len(groups[g])
    return out


def _reported_labels(misses: list[dict], frames: list[str]) -> dict[str, int]:
    """What the reports say about the mistakes' frames (missed event -> 1, false alarm -> 0): mining's
    ranker learns from them, so a round also reaches frames like the mistakes that are near none of them."""
    return {m["frame_ref"]: int(m.get("kind") == "missed_event") for m in misses
            if m.get("kind") in ("missed_event", "false_alarm") and m.get("frame_ref") in frames}


def should_retrain(*, pending_misses: int, confirmed: int = 0, rejected: int = 0, min_misses: int = 1,
                   precision_floor: float | None = None, min_feedback: int = 20) -> tuple[bool, str]:
    """The trigger, pure: enough mistakes, or operators' precision below the floor."""
    if pending_misses >= min_misses:
        return True, f"{pending_misses} mistake(s) pending (trigger at {min_misses})"
    n = confirmed + rejected
    if precision_floor is not None and n >= min_feedback and confirmed / n < precision_floor:
        return True, f"precision {confirmed / n:.3f} over {n} verdicts is below {precision_floor}"
    return False, f"{pending_misses} mistake(s) pending, precision fine"


@dataclass(frozen=True, slots=True)
class RetrainingJob:
    """A retraining job's share of a worker; the control plane turns it into a scheduler ``JobSpec``."""

    job_id: str
    compute_ms_per_s: float
    memory_mib: float

    @classmethod
    def estimate(cls, job_id: str, *, n_samples: int, dim: int) -> "RetrainingJob":
        # one CPU core while it trains; torch + the dataset twice (arrays and tensors) + headroom
        return cls(job_id, 1000.0, round(350.0 + 3 * n_samples * dim * 4 / 2**20, 1))


@dataclass(frozen=True, slots=True)
class TrainingInput:
    x_train: np.ndarray
    y_train: np.ndarray
    init_onnx: bytes | None
    seed: int
    label: str
    epochs: int = 300


def run_training(job: TrainingInput) -> tuple[bytes, float, dict]:
    """The training step (pure over arrays): what runs as a Ray task."""
    from warehouse.retraining.trainer import train_head_torch

    init = read_linear_head(job.init_onnx) if job.init_onnx is not None else None
    t = train_head_torch(job.x_train, job.y_train, seed=job.seed, label=job.label, init=init, epochs=job.epochs)
    return t.onnx_bytes, t.threshold, t.metrics


_REMOTE: Any = None


def train(job: TrainingInput, *, use_ray: bool | None = None, node_id: str | None = None) -> tuple[bytes, float, dict]:
    """Run :func:`run_training` as a Ray task when Ray is initialised (or ``use_ray``), else inline.
    ``node_id``: the node the scheduler reserved the job's share on (the task prefers it)."""
    global _REMOTE
    import importlib.util

    if use_ray is None:
        use_ray = importlib.util.find_spec("ray") is not None and __import__("ray").is_initialized()
    if not use_ray:
        return run_training(job)
    import ray

    if _REMOTE is None:
        _REMOTE = ray.remote(num_cpus=1)(run_training)
    remote = _REMOTE
    if node_id is not None:
        from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

        remote = _REMOTE.options(scheduling_strategy=NodeAffinitySchedulingStrategy(node_id, soft=True))
    return ray.get(remote.remote(job))


@dataclass(frozen=True, slots=True)
class RetrainResult:
    algorithm_id: str
    miss_event_ids: tuple[str, ...]
    mining_job_id: str
    dataset_version_id: str
    training_run_id: str
    mined: dict
    labeled_positive: int
    labeled_negative: int
    metrics: dict
    decision: PromotionVerdict
    new_version: int | None
    seconds: float
    task_id: str = ""
    labels_used: int = 0
    scanned_fraction: float = 0.0
    action: str = "none"  # what happened after the gate: candidate | canary | promoted | none


def _f1(pred: np.ndarray, y: np.ndarray) -> float:
    tp = int((pred & (y == 1)).sum())
    return 2 * tp / (2 * tp + int((pred & (y == 0)).sum()) + int((~pred & (y == 1)).sum())) if y.sum() or pred.any() else 1.0


@dataclass
class RetrainingLoop:
    algorithm_id: str
    event_type: str
    catalog: Any
    store: Any
    pool: FramePool
    labeler: Labeler
    bus: Any = None
    model_updates_topic: str = "model-updates"
    registry: MiningRegistry = field(default_factory=MiningRegistry)
    seed: int = 0
    flywheel: FlywheelStore | None = None
    budget: int = 32
    k_per_query: int = 64
    holdout_share: float = 0.3
    epochs: int = 300
    on_pass: str = "candidate"
    canary_cameras_for: Callable[[str], list[str]] | None = None  # the control plane's choice
    use_ray: bool | None = None
    job_node: Callable[[str, float], str | None] | None = None  # the control plane's placement of a training job
    mining_plan: dict | None = None  # accepted for compatibility: its values' sum is the budget

    def __post_init__(self) -> None:
        if self.on_pass not in ON_PASS:
            raise InvalidInputError(f"on_pass {self.on_pass!r} must be one of {list(ON_PASS)}")
        if self.mining_plan:
            self.budget = int(sum(self.mining_plan.values()))
        if self.flywheel is None:
            self.flywheel = FlywheelStore("sqlite://")

    # -- the shell -----------------------------------------------------------------------
    def handle(self, misses: list[dict], *, task_id: str | None = None) -> RetrainResult:
        """Retrain on ``misses`` (dicts with ``event_id`` and ``frame_ref``); ``task_id``: an open
        retraining task to run under (the worker's claim), else a new one is recorded."""
        t0 = time.perf_counter()
        A, fw = self.algorithm_id, self.flywheel
        miss_ids = tuple(m["event_id"] for m in misses)
        parent = task_id or fw.start_task("retraining", A, total=4)
        fw.update_task(parent, detail={"miss_event_ids": list(miss_ids)})
        try:
            out = self._handle(misses, miss_ids, parent, t0)
        except Exception as exc:
            fw.update_task(parent, state="failed", detail={"error": f"{type(exc).__name__}: {exc}"})
            raise
        fw.update_task(parent, done=4, state="done", detail={"new_version": out.new_version, "gate": str(out.decision),
                                                             "action": out.action})
        return out

    def _handle(self, misses: list[dict], miss_ids: tuple[str, ...], parent: str, t0: float) -> RetrainResult:
        A, fw = self.algorithm_id, self.flywheel
        ix = self.pool.index()
        miss_frames = [m["frame_ref"] for m in misses if m.get("frame_ref") and m["frame_ref"] in ix]
        if not miss_frames:
            raise InvalidInputError(f"misses {list(miss_ids)} for {A!r} carry no frame_ref that is in the frame pool; a labeler "
                                    "needs the frame to learn from it (report misses with frame_ref='camera:frame_index')")
        prod = self.catalog.production_version(A)
        if prod is None:
            raise InvalidInputError(f"algorithm {A!r} has no production version to improve; promote one first")
        prod_onnx = self.catalog.load_artifact(A, prod.number)
        head = read_linear_head(prod_onnx)
        threshold = float((prod.metrics or {}).get("threshold", 0.5))
        ds_id, dataset = self._production_dataset(prod)

        # mining: candidates near the mistakes only, scored by an interim head that already knows
        # what the reports say about the mistakes (production is what got them wrong)
        t_mine = fw.start_task("mining", A, total=self.budget, parent_id=parent)
        scorer, score_thr = self._mining_scorer(dataset, misses, prod_onnx, head, threshold)
        req = MiningRequest(queries=tuple(miss_frames), labeled=frozenset(dataset.sample_ids) | frozenset(miss_frames),
                            score=scorer, threshold=score_thr, budget=self.budget, k_per_query=self.k_per_query, seed=self.seed,
                            labels=_reported_labels(misses, miss_frames))
        rnd = self.registry.get("seals").mine(self.pool, req)
        candidates = list(rnd.selected)
        job_id = self.catalog.record_mining_job(A, miss_event_ids=list(miss_ids), strategy="seals.ann", candidate_ids=candidates)
        fw.update_task(t_mine, done=len(candidates), state="done",
                       detail={"mining_job_id": job_id, "scanned": rnd.scanned, "pool_size": rnd.pool_size,
                               "scanned_fraction": rnd.scanned_fraction, "by_reason": rnd.by_reason()})

        # labeling: every answer counted
        to_label = list(dict.fromkeys(miss_frames + candidates))
        t_lab = fw.start_task("labeling", A, total=len(to_label), parent_id=parent, detail={"labeler": self.labeler.name})
        labels = self.labeler.label(to_label, event_type=self.event_type)
        fw.update_task(t_lab, done=len(labels), state="done", detail={"positives": int(sum(labels.values()))})
        ids = [i for i in to_label if i in labels]
        emb = self.pool.embeddings(ids)
        y = np.array([1 if labels[i] else 0 for i in ids], np.int8)
        mined_split = split_mined([i for i in ids if i not in miss_frames], seed=self.seed, holdout_share=self.holdout_share)
        split = np.array([mined_split.get(i, TRAIN) for i in ids], np.int8)
        new_ds = dataset.extended(emb, y, ids, split=split)
        new_ds_id = self.catalog.record_dataset_version(
            A, sample_ids=list(new_ds.sample_ids[len(dataset.sample_ids):]) or list(new_ds.sample_ids[-1:]), parent_id=ds_id,
            mining_job_id=job_id, artifact_sha256=self.store.put_bytes(new_ds.to_bytes(), suffix=".npz"),
            stats={**new_ds.stats(), "labeler": self.labeler.name, "labeling_task_id": t_lab, "mining_task_id": t_mine,
                   "miss_event_ids": list(miss_ids), "labels": len(labels)})

        # training (a Ray task when Ray runs), warm-started from production
        Xtr, ytr = new_ds.part(TRAIN)
        t_train = fw.start_task("training", A, total=1, parent_id=parent,
                                detail={"dataset_version_id": new_ds_id, "seed": self.seed,
                                        "job": asdict(RetrainingJob.estimate(parent, n_samples=len(Xtr), dim=Xtr.shape[1]))})
        node = self.job_node(parent, 5.0) if self.job_node is not None else None  # the plan reserves its share first
        onnx, thr, train_metrics = train(TrainingInput(Xtr, ytr, prod_onnx, self.seed, self.event_type, self.epochs),
                                         use_ray=self.use_ray, node_id=node)
        fw.update_task(t_train, done=1, state="done", detail={"val_f1": train_metrics["val_f1"]})

        # evaluation: the fixed held-out set and the mistake-like held-out frames, both versions
        t_eval = fw.start_task("evaluation", A, total=2, parent_id=parent)
        verdict, metrics = self._evaluate(new_ds, read_linear_head(onnx), thr, head, threshold)
        fw.update_task(t_eval, done=2, state="done", detail=verdict.to_dict())
        run_id = self.catalog.record_training_run(
            A, dataset_version_id=new_ds_id,
            params={"trainer": "torch-linear-warmstart/1", "seed": self.seed, "parent_version": prod.number, "epochs": self.epochs,
                    "gate": verdict.to_dict(), "task_id": t_train},
            metrics={**{k: float(v) for k, v in train_metrics.items()}, **metrics})
        new_version, action = None, "none"
        if verdict.passed:
            new_version, action = self._register(onnx, metrics, verdict, prod.number, run_id, new_ds_id, len(miss_ids))
        pos = int(y.sum())
        log.info("retrain algorithm=%s task=%s misses=%d mined=%d labels=%d gate=%s version=%s action=%s", self.algorithm_id, parent,
                 len(miss_ids), len(candidates), len(labels), verdict, new_version, action)
        return RetrainResult(A, miss_ids, job_id, new_ds_id, run_id, rnd.by_reason(), pos, int(len(y) - pos), metrics, verdict,
                             new_version, time.perf_counter() - t0, parent, len(labels), rnd.scanned_fraction, action)

    def _mining_scorer(self, dataset: LabeledDataset, misses: list[dict], prod_onnx: bytes, head, threshold: float):
        """Production's head, refit for a few epochs with each reported mistake under its reported
        label (missed event -> 1, false alarm -> 0); only for ranking candidates, never registered."""
        ix = self.pool.index()
        prov = {m["frame_ref"]: int(m.get("kind") == "missed_event") for m in misses
                if m.get("kind") in ("missed_event", "false_alarm") and m.get("frame_ref") in ix}
        x, y = dataset.part(TRAIN)
        if not prov or len(y) == 0:
            return (lambda e: head.scores(e)[:, 0]), threshold
        xi = np.concatenate([x, np.repeat(self.pool.embeddings(list(prov)), 4, axis=0)])  # a mistake weighs like 4 frames
        yi = np.concatenate([y, np.repeat(np.array(list(prov.values()), np.int8), 4)])
        try:
            onnx, thr, _ = run_training(TrainingInput(xi, yi, prod_onnx, self.seed, self.event_type, 60))
        except ValueError:  # one class only: keep production's ranking
            return (lambda e: head.scores(e)[:, 0]), threshold
        interim = read_linear_head(onnx)
        return (lambda e: interim.scores(e)[:, 0]), thr

    def _production_dataset(self, prod) -> tuple[str, LabeledDataset]:
        lin = self.catalog.lineage(self.algorithm_id, prod.number)
        node = (lin.get("training_run") or {}).get("dataset_version") or lin.get("dataset_version") or {}
        if not node.get("artifact_sha256"):
            raise InvalidInputError(f"production version {prod.number} of {self.algorithm_id!r} has no dataset artifact in its "
                                    "lineage; it cannot be retrained incrementally (create it with `warehouse algorithm new`)")
        return node["id"], LabeledDataset.from_bytes(self.store.get_bytes(node["artifact_sha256"]))

    def _evaluate(self, ds: LabeledDataset, cand, cand_thr: float, prod, prod_thr: float) -> tuple[PromotionVerdict, dict]:
        Xho, yho = ds.part(HELDOUT)
        if len(yho) == 0:
            raise InvalidInputError(f"{self.algorithm_id!r} has no fixed held-out set in its dataset; the gate cannot judge")
        c_ho = _f1(cand.scores(Xho)[:, 0] >= cand_thr, yho)
        p_ho = _f1(prod.scores(Xho)[:, 0] >= prod_thr, yho)
        Xm, ym = ds.part(MISTAKE_HELDOUT)
        c_m = mistake_like_score(cand.scores(Xm)[:, 0] >= cand_thr, ym) if len(ym) else None
        p_m = mistake_like_score(prod.scores(Xm)[:, 0] >= prod_thr, ym) if len(ym) else None
        v = promotion_verdict(heldout_f1=c_ho, production_heldout_f1=p_ho, mistake_like_score=c_m, production_mistake_like_score=p_m,
                              n_heldout=len(yho), n_mistake_like=len(ym))
        from warehouse.training.heads import evaluate_head

        full = evaluate_head(cand, Xho, yho, cand_thr)
        metrics = {"f1": c_ho, "precision": full["precision"], "recall": full["recall"], "threshold": float(cand_thr),
                   **v.numbers()}
        return v, metrics

    def _register(self, onnx: bytes, metrics: dict, verdict: PromotionVerdict, parent_version: int, run_id: str, ds_id: str,
                  n_misses: int) -> tuple[int, str]:
        from warehouse.retraining import promotion

        A = self.algorithm_id
        v = self.catalog.add_version(A, artifact_sha256=self.store.put_bytes(onnx, suffix=".onnx"), metrics=metrics,
                                     parent_version=parent_version, training_run_id=run_id, stage=Stage.CANDIDATE,
                                     notes=f"retrained from {n_misses} reported mistake(s)")
        self.catalog.set_version_metadata(A, v.number, promotion.META_GATE, verdict.to_dict())
        promotion.publish_registered(self.catalog, self.bus, A, v.number, reason=str(verdict))
        if self.on_pass == "promote":
            promotion.promote(self.catalog, self.bus, A, v.number, actor="flywheel-policy", reason=str(verdict))
            return v.number, "promoted"
        if self.on_pass == "canary":
            cams = self.canary_cameras_for(A) if self.canary_cameras_for else []
            if cams:
                promotion.start_canary(self.catalog, self.bus, A, v.number, cams, actor="flywheel-policy", reason=str(verdict))
                return v.number, "canary"
            log.warning("no canary cameras for %s@v%d (control plane gave none); left as candidate", A, v.number)
        return v.number, "candidate"


def retraining_jobs(flywheel: FlywheelStore) -> list[RetrainingJob]:
    """The training jobs running now, as the control plane's scheduler ``jobs``."""
    out = []
    for t in flywheel.list_tasks(kind="training", state="running"):
        j = t.detail.get("job") or {}
        if j:
            out.append(RetrainingJob(str(j["job_id"]), float(j["compute_ms_per_s"]), float(j["memory_mib"])))
    return out
