"""A new algorithm from zero: a name, an event type (new or existing), its scenes, 10-20 seed labels.

The platform trains an initial head on the shared backbone from the seeds, then for each
round mines the pool near the positives found so far (ANN), has the candidates labeled
(the labeling queue for people; a simulated labeler in benchmarks, every answer counted),
retrains warm-started, and evaluates on the algorithm's fixed held-out set (taken, grouped,
from the first round's labeled frames and never trained on). When the gate passes it is
registered in the catalog with its lineage, promoted (a ``model-updates`` event: the control
plane deploys it to the cameras relevance selects), and the knowledge graph learns the event
type, its scenes and the algorithm, so relevance selects it for the right cameras.

``warehouse algorithm new`` and ``POST /algorithms/new`` call :func:`create_algorithm`.
"""
from __future__ import annotations

import logging
import re
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from catalog import AlgorithmSpec, Stage, load_taxonomy, read_linear_head
from warehouse.errors import InvalidInputError
from warehouse.retraining.dataset import HELDOUT, MISTAKE_HELDOUT, TRAIN, LabeledDataset
from warehouse.retraining.gate import PromotionVerdict, mistake_like_score, promotion_verdict
from warehouse.retraining.loop import TrainingInput, split_mined, train
from warehouse.retraining.mining import MiningRegistry, MiningRequest
from warehouse.retraining.store import FlywheelStore

log = logging.getLogger(__name__)
MIN_SEEDS, MAX_SEEDS = 10, 20


@dataclass(frozen=True, slots=True)
class SeedFrame:
    frame_ref: str
    label: int

    def __post_init__(self) -> None:
        if not isinstance(self.frame_ref, str) or not self.frame_ref:
            raise InvalidInputError(f"seed frame {self.frame_ref!r} must be a frame ref ('camera:index') or an image path")
        if isinstance(self.label, bool) or self.label not in (0, 1):
            raise InvalidInputError(f"seed frame {self.frame_ref!r}: label {self.label!r} must be 0 or 1")


@dataclass(frozen=True, slots=True)
class NewAlgorithm:
    """What a user gives: validated once, here."""

    name: str
    event_type: str
    scenes: tuple[str, ...]
    description: str
    seeds: tuple[SeedFrame, ...]
    algorithm_id: str | None = None
    event_name: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name.strip():
            raise InvalidInputError(f"name {self.name!r} is empty; give the algorithm a human-readable name")
        if not isinstance(self.event_type, str) or not re.fullmatch(r"[a-z0-9][a-z0-9_]{0,63}", self.event_type):
            raise InvalidInputError(f"event type {self.event_type!r} must be lowercase letters, digits and '_', e.g. 'fallen_tree'")
        tax = load_taxonomy()
        if not self.scenes:
            raise InvalidInputError(f"no scenes given; name the scenes the event happens in, from {sorted(tax.scenes)[:6]}...")
        for s in self.scenes:
            tax.require_scene(s)
        n = len(self.seeds)
        if not MIN_SEEDS <= n <= MAX_SEEDS:
            raise InvalidInputError(f"{n} seed frames given; give {MIN_SEEDS}-{MAX_SEEDS} labeled frames")
        pos = sum(s.label for s in self.seeds)
        if pos < 2 or n - pos < 2:
            raise InvalidInputError(f"seed frames hold {pos} positives and {n - pos} negatives; give at least 2 of each")
        if len({s.frame_ref for s in self.seeds}) != n:
            raise InvalidInputError("seed frames list a frame more than once; list each once")

    @property
    def resolved_id(self) -> str:
        from catalog.ids import scene_head_id

        return self.algorithm_id or scene_head_id(self.scenes[0], self.event_type)


@dataclass(frozen=True, slots=True)
class NewAlgorithmResult:
    algorithm_id: str
    version: int | None
    promoted: bool
    event_type_added: bool
    labels_used: int  # seeds + every answer the labeler gave
    seed_labels: int
    rounds: int
    heldout_f1: float
    verdict: PromotionVerdict
    seconds: float
    task_id: str
    dataset_version_id: str
    per_round: tuple[dict, ...] = field(default_factory=tuple)
    graph_changes: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {"algorithm_id": self.algorithm_id, "version": self.version, "promoted": self.promoted,
                "event_type_added": self.event_type_added, "labels_used": self.labels_used, "seed_labels": self.seed_labels,
                "rounds": self.rounds, "heldout_f1": self.heldout_f1, "gate": self.verdict.to_dict(), "seconds": round(self.seconds, 2),
                "task_id": self.task_id, "dataset_version_id": self.dataset_version_id, "per_round": list(self.per_round),
                "graph_changes": list(self.graph_changes)}


def _f1(pred: np.ndarray, y: np.ndarray) -> float:
    tp = int((pred & (y == 1)).sum())
    d = 2 * tp + int((pred & (y == 0)).sum()) + int((~pred & (y == 1)).sum())
    return 2 * tp / d if d else 0.0


def _register(catalog, req: NewAlgorithm, dim: int) -> tuple[str, bool]:
    tax = load_taxonomy()
    added = False
    if req.event_type not in tax.events:
        added = catalog.add_event_type(req.event_type, name=req.event_name or req.event_type.replace("_", " ").capitalize(),
                                       scenes=list(req.scenes), description=req.description)
    else:
        missing = [s for s in req.scenes if s not in tax.events[req.event_type].scenes]
        if missing:
            raise InvalidInputError(f"event type {req.event_type!r} exists for scenes {list(tax.events[req.event_type].scenes)}, "
                                    f"not {missing}; use those scenes or a new event type id")
    A = req.resolved_id
    catalog.register_algorithm(AlgorithmSpec(
        id=A, name=req.name, description=req.description, event_types=(req.event_type,), scene_tags=tuple(req.scenes),
        kind="classification_head", labels=(req.event_type,), owner="algorithm-new", input_spec={"embedding": [None, dim]},
        preprocess={"backbone": "mobilenet_v2-imagenet"}, postprocess={"activation": "sigmoid"}))
    return A, added


def create_algorithm(req: NewAlgorithm, *, catalog, store, pool, labeler, flywheel: FlywheelStore | None = None, bus=None,
                     graph=None, rounds: int = 3, budget: int = 40, heldout_share: float = 0.5, min_f1: float = 0.8, min_heldout: int = 60,
                     epochs: int = 200, seed: int = 0, promote: bool = True, use_ray: bool | None = None,
                     task_id: str | None = None) -> NewAlgorithmResult:
    """Seeds -> initial head -> rounds of mine / label / retrain -> gate -> catalog + graph (+ production)."""
    t0 = time.perf_counter()
    fw = flywheel or FlywheelStore("sqlite://")
    ix = pool.index()
    missing = [s.frame_ref for s in req.seeds if s.frame_ref not in ix]
    if missing:
        raise InvalidInputError(f"seed frames {missing[:5]} are not in the frame pool; retain them first (a camera's frames, "
                                "or image files, which the CLI embeds and adds)")
    changes: list[str] = []
    if graph is not None and req.event_type not in load_taxonomy().events:
        # the graph first: it refuses an event type the (shared) taxonomy already knows
        changes.append(graph.add_event_type(req.event_type, req.scenes, name=req.event_name,
                                            reason=f"new algorithm {req.resolved_id}").change_id)
    A, added = _register(catalog, req, ix.dim)
    added = added or bool(changes)
    parent = task_id or fw.start_task("new_algorithm", A, total=rounds)
    fw.update_task(parent, state="running", total=rounds, detail={"name": req.name, "event_type": req.event_type})
    labeled: dict[str, int] = {s.frame_ref: s.label for s in req.seeds}
    split: dict[str, int] = {s.frame_ref: TRAIN for s in req.seeds}
    given = getattr(labeler, "labels_given", 0)
    registry = MiningRegistry()

    def arrays(which: int) -> tuple[np.ndarray, np.ndarray]:
        ids = [f for f in labeled if split[f] == which]
        return (pool.embeddings(ids) if ids else np.zeros((0, ix.dim), np.float32)), np.array([labeled[f] for f in ids], np.int8)

    x, y = arrays(TRAIN)
    onnx, thr, _ = train(TrainingInput(x, y, None, seed, req.event_type, epochs), use_ray=use_ray)
    ds_id, job_id, per_round, ho_f1 = None, None, [], 0.0
    for r in range(1, rounds + 1):
        head = read_linear_head(onnx)
        t_mine = fw.start_task("mining", A, total=budget, parent_id=parent)
        rnd = registry.get("seals").mine(pool, MiningRequest(
            queries=tuple(f for f, v in labeled.items() if v), labeled=frozenset(labeled), score=lambda e: head.scores(e)[:, 0],
            threshold=thr, budget=budget, seed=seed + r, labels=dict(labeled)))
        job_id = catalog.record_mining_job(A, miss_event_ids=[], strategy="seals.ann.onboarding", candidate_ids=list(rnd.selected))
        fw.update_task(t_mine, done=len(rnd.selected), state="done", detail={"mining_job_id": job_id, "scanned_fraction": rnd.scanned_fraction})
        t_lab = fw.start_task("labeling", A, total=len(rnd.selected), parent_id=parent, detail={"labeler": labeler.name})
        answers = labeler.label(list(rnd.selected), event_type=req.event_type)
        fw.update_task(t_lab, done=len(answers), state="done")
        # the held-out set grows (grouped, never trained on) until it holds min_heldout frames; then it is fixed
        n_ho = sum(1 for f in split if split[f] == HELDOUT)
        sp = split_mined(list(answers), seed=seed + r, holdout_share=heldout_share if n_ho < min_heldout else 0.0)
        for f, v in answers.items():
            labeled[f] = int(v)
            split[f] = HELDOUT if sp[f] != TRAIN else TRAIN
        x, y = arrays(TRAIN)
        init = onnx
        t_train = fw.start_task("training", A, total=1, parent_id=parent)
        onnx, thr, train_metrics = train(TrainingInput(x, y, init, seed, req.event_type, epochs), use_ray=use_ray)
        fw.update_task(t_train, done=1, state="done")
        xh, yh = arrays(HELDOUT)
        ho_f1 = _f1(read_linear_head(onnx).scores(xh)[:, 0] >= thr, yh) if len(yh) else 0.0
        ids = list(labeled)
        ds = LabeledDataset(pool.embeddings(ids), np.array([labeled[f] for f in ids], np.int8), tuple(ids),
                            np.array([split[f] for f in ids], np.int8))
        ds_id = catalog.record_dataset_version(A, sample_ids=list(answers) or ids[-1:], parent_id=ds_id, mining_job_id=job_id,
                                               artifact_sha256=store.put_bytes(ds.to_bytes(), suffix=".npz"),
                                               stats={**ds.stats(), "labeler": labeler.name, "labeling_task_id": t_lab,
                                                      "mining_task_id": t_mine, "seed_labels": len(req.seeds), "round": r})
        found = int(sum(labeled.values()))
        per_round.append({"round": r, "labels": len(req.seeds) + getattr(labeler, "labels_given", 0) - given,
                          "positives_labeled": found, "heldout_f1": round(ho_f1, 4), "heldout": int(len(yh)),
                          "scanned_fraction": round(rnd.scanned_fraction, 5)})
        fw.update_task(parent, done=r, detail={"per_round": per_round})
        log.info("new algorithm %s round %d: labeled %d, held-out F1 %.3f", A, r, len(labeled), ho_f1)
        if r >= 2 and ho_f1 >= min_f1 and len(yh) >= min_heldout and int(yh.sum()) >= 5:
            break
    xm, ym = arrays(MISTAKE_HELDOUT)
    head = read_linear_head(onnx)
    ml = mistake_like_score(head.scores(xm)[:, 0] >= thr, ym) if len(ym) else None
    xh, yh = arrays(HELDOUT)
    verdict = promotion_verdict(heldout_f1=ho_f1, production_heldout_f1=None, mistake_like_score=ml, production_mistake_like_score=None,
                                min_f1=min_f1, n_heldout=len(yh), n_mistake_like=len(ym))
    metrics = {"f1": ho_f1, "threshold": float(thr), **verdict.numbers(), "labels_used": float(len(labeled))}
    run_id = catalog.record_training_run(A, dataset_version_id=ds_id, params={"trainer": "torch-linear-warmstart/1", "seed": seed,
                                                                              "epochs": epochs, "gate": verdict.to_dict()},
                                         metrics={k: float(v) for k, v in {**train_metrics, **metrics}.items()})
    version, promoted = None, False
    if verdict.passed:
        from warehouse.retraining import promotion

        v = catalog.add_version(A, artifact_sha256=store.put_bytes(onnx, suffix=".onnx"), metrics=metrics, training_run_id=run_id,
                                stage=Stage.CANDIDATE, notes=f"new algorithm from {len(req.seeds)} seed labels")
        version = v.number
        catalog.set_version_metadata(A, version, promotion.META_GATE, verdict.to_dict())
        promotion.publish_registered(catalog, bus, A, version, reason=str(verdict))
        if promote:
            promotion.promote(catalog, bus, A, version, actor="algorithm-new", reason=str(verdict))
            promoted = True
        if graph is not None:
            changes.append(graph.add_algorithm(catalog.get_algorithm(A), reason="new algorithm from seed labels").change_id)
    fw.update_task(parent, state="done" if verdict.passed else "failed", detail={"version": version, "gate": str(verdict)})
    return NewAlgorithmResult(A, version, promoted, added, len(labeled), len(req.seeds), len(per_round), ho_f1, verdict,
                              time.perf_counter() - t0, parent, ds_id, tuple(per_round), tuple(changes))



def retain_image_seeds(refs: list[str], pool, *, backbone) -> dict[str, str]:
    """Image files among ``refs`` -> embedded with the shared backbone and retained in ``pool``.

    Returns ``{path: frame_ref}`` for the files (frame refs ``file:<sha256 prefix>``); other
    refs are left as they are (frames already in the pool).
    """
    import hashlib
    from pathlib import Path

    import cv2

    from warehouse.framepool import RetainedFrame

    out, frames, ids = {}, [], []
    for ref in refs:
        p = Path(ref)
        if not p.is_file():
            continue
        img = cv2.imread(str(p))
        if img is None:
            raise InvalidInputError(f"seed image {ref!r} cannot be read as an image; give a JPEG/PNG file or a frame ref")
        fid = "file:" + hashlib.sha256(p.read_bytes()).hexdigest()[:20]
        out[ref], frames, ids = fid, frames + [img], ids + [fid]
    if frames:
        _, emb = backbone.embed_frames(frames)
        now = int(time.time() * 1000)
        pool.add(*[RetainedFrame(f, "seed-images", i, now, e) for i, (f, e) in enumerate(zip(ids, emb))])
    return out
