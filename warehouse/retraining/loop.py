"""One algorithm's retraining loop: mistakes in, a gated candidate version out.

mine (frames similar to the mistakes, frames the head is unsure of) → label → new dataset
version → train → gate (held-out F1 and the mistakes themselves) → register a candidate
with full lineage → announce it on ``model-updates``. Canary and promotion act on that
candidate later (``warehouse catalog promote`` or the canary controller).
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from catalog import read_linear_head
from warehouse.errors import InvalidInputError
from warehouse.framepool import FramePool
from warehouse.retraining.dataset import HELDOUT, TRAIN, LabeledDataset
from warehouse.retraining.gate import GateDecision, gate
from warehouse.retraining.labeling import Labeler
from warehouse.retraining.mining import MiningRegistry, mine

log = logging.getLogger(__name__)


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
    decision: GateDecision
    new_version: int | None
    seconds: float


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
    mining_plan: dict = field(default_factory=lambda: {"similar": 24, "uncertain": 8})
    registry: MiningRegistry = field(default_factory=MiningRegistry)
    seed: int = 0

    def handle(self, misses: list[dict]) -> RetrainResult:
        t0 = time.perf_counter()
        A = self.algorithm_id
        miss_ids = tuple(m["event_id"] for m in misses)
        miss_frames = [m["frame_ref"] for m in misses if m.get("frame_ref")]
        if not miss_frames:
            raise InvalidInputError(f"misses {list(miss_ids)} for {A!r} carry no frame_ref; a labeler needs the frame to learn from it")
        prod = self.catalog.production_version(A)
        if prod is None:
            raise InvalidInputError(f"algorithm {A!r} has no production version to improve; promote one first")
        head = read_linear_head(self.catalog.load_artifact(A, prod.number))
        threshold = float((prod.metrics or {}).get("threshold", 0.5))
        lin = self.catalog.lineage(A, prod.number)
        ds_node = (lin.get("training_run") or {}).get("dataset_version") or lin.get("dataset_version") or {}
        if not ds_node.get("artifact_sha256"):
            raise InvalidInputError(f"production version {prod.number} of {A!r} has no dataset artifact in its lineage; "
                                    "it cannot be retrained incrementally (retrain it from scratch with catalog_build)")
        ds_id = ds_node["id"]
        dataset = LabeledDataset.from_bytes(self.store.get_bytes(ds_node["artifact_sha256"]))

        mined = mine(self.pool, self.registry, self.mining_plan, miss_frames=miss_frames, head=head,
                     threshold=threshold, exclude=set(dataset.sample_ids) | set(miss_frames))
        candidates = [f for got in mined.values() for f in got]
        job_id = self.catalog.record_mining_job(A, miss_event_ids=list(miss_ids), strategy=".".join(self.mining_plan),
                                                candidate_ids=candidates)
        to_label = list(dict.fromkeys(miss_frames + candidates))
        labels = self.labeler.label(to_label, event_type=self.event_type)
        frames = {f.frame_id: f for f in self.pool.frames(ids=to_label)}
        ids = [i for i in to_label if i in frames]
        emb = np.stack([frames[i].embedding for i in ids])
        y = np.array([1 if labels[i] else 0 for i in ids], np.int8)
        new_ds = dataset.extended(emb, y, ids, split=TRAIN)
        new_ds_id = self.catalog.record_dataset_version(
            A, sample_ids=list(new_ds.sample_ids[len(dataset.sample_ids):]), parent_id=ds_id, mining_job_id=job_id,
            artifact_sha256=self.store.put_bytes(new_ds.to_bytes(), suffix=".npz"), stats={**new_ds.stats(), "labeler": self.labeler.name},
        )

        from warehouse.training.heads import evaluate_head, train_head

        Xtr, ytr = new_ds.part(TRAIN)
        Xho, yho = new_ds.part(HELDOUT)
        trained = train_head(Xtr, ytr, seed=self.seed, label=self.event_type)
        metrics = evaluate_head(trained.onnx_bytes, Xho, yho, trained.threshold)
        metrics["threshold"] = float(trained.threshold)
        new_head = read_linear_head(trained.onnx_bytes)
        miss_emb = np.stack([frames[f].embedding for f in miss_frames if f in frames])
        miss_truth = np.array([labels[f] for f in miss_frames if f in frames])
        fixed = int(((new_head.scores(miss_emb)[:, 0] >= trained.threshold) == miss_truth).sum())
        decision = gate(candidate_f1=metrics["f1"], production_f1=(prod.metrics or {}).get("f1"),
                        mistakes_fixed=fixed, mistakes_total=len(miss_truth))
        run_id = self.catalog.record_training_run(
            A, dataset_version_id=new_ds_id,
            params={"trainer": "logistic-regression", "seed": self.seed, "parent_version": prod.number, "gate": str(decision)},
            metrics={**metrics, "mistakes_fixed": fixed, "mistakes_total": int(len(miss_truth))},
        )
        new_version = None
        if decision.passed:
            from catalog import Stage

            v = self.catalog.add_version(A, artifact_sha256=self.store.put_bytes(trained.onnx_bytes, suffix=".onnx"), metrics=metrics,
                                         parent_version=prod.number, training_run_id=run_id, dataset_version_id=new_ds_id,
                                         stage=Stage.CANDIDATE, notes=f"retrained from {len(miss_ids)} reported mistake(s)")
            new_version = v.number
            if self.bus is not None:
                self.bus.publish(self.model_updates_topic, {
                    "event_id": f"mu-{A}-{v.number}", "type": "candidate_registered", "ts_ms": int(time.time() * 1000),
                    "algorithm_id": A, "version": v.number, "stage": "candidate", "parent_version": prod.number,
                    "artifact_sha256": v.artifact_sha256, "metrics": metrics,
                }, key=A)
                self.bus.flush()
        log.info("retrain algorithm=%s misses=%d mined=%d gate=%s version=%s", A, len(miss_ids), len(candidates), decision, new_version)
        return RetrainResult(A, miss_ids, job_id, new_ds_id, run_id, {k: len(v) for k, v in mined.items()},
                             int(y.sum()), int(len(y) - y.sum()), metrics, decision, new_version, time.perf_counter() - t0)
