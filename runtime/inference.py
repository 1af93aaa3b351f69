"""The compute core of a worker: a batch of (camera, frame) -> per-camera, per-algorithm scores.

Each frame pays preprocessing and the backbone once, whatever number of algorithms its
camera runs; then one fused matmul scores every linear head (``HeadBank``), and the
per-camera assignment decides which scores each camera sees and which cross thresholds.
A plain class: the Ray actor (``InferenceWorker``) wraps it.

>>> core = InferenceCore(backbone, bank, assignment={"cam-1": {"fire", "litter"}})   # doctest: +SKIP
>>> [fs] = core.infer([("cam-1", frame_bgr)])                                          # doctest: +SKIP
>>> fs.as_dict().keys(), fs.fired()                                                    # doctest: +SKIP
(dict_keys(['fire', 'litter']), (('fire', 'fire', 0.93),))
"""
from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from typing import Collection, Mapping, Sequence

import numpy as np

from runtime.backbone import Backbone, preprocess_bgr
from runtime.heads import FrameScores, HeadBank, HeadError

log = logging.getLogger(__name__)


class InferenceError(ValueError):
    """A batch or an assignment the core cannot run."""


@dataclass(frozen=True, slots=True)
class BatchTiming:
    """Where the time of the last batch went (for the profiler and the logs)."""

    batch_size: int
    preprocess_ms: float
    backbone_ms: float
    heads_ms: float


class InferenceCore:
    """Backbone once per frame + the head bank, with per-camera assignments.

    ``max_batch``: larger batches are split into backbone calls of at most this size.
    """

    def __init__(self, backbone: Backbone, heads: HeadBank, *, assignment: Mapping[str, Collection[str]] | None = None,
                 max_batch: int = 64) -> None:
        if max_batch < 1:
            raise InferenceError(f"max_batch must be >= 1, got {max_batch}")
        self.backbone = backbone
        self.heads = heads
        self.max_batch = max_batch
        self._assignment: dict[str, frozenset[str]] = {}
        self._lock = threading.Lock()
        self.last_timing: BatchTiming | None = None
        for cam, algs in (assignment or {}).items():
            self.assign(cam, algs)

    @classmethod
    def load(cls, backbone_path, heads: Mapping[str, bytes], *, versions: Mapping[str, str] | None = None,
             thresholds=None, assignment: Mapping[str, Collection[str]] | None = None, engine: str | None = None,
             registry=None, options=None, max_batch: int = 64) -> "InferenceCore":
        """Build the backbone on ``engine`` (None: ORT; ``"auto"``: best available) and the head bank."""
        bb = Backbone.load(backbone_path, engine=engine, registry=registry, options=options)
        bank = HeadBank(heads, versions=versions, thresholds=thresholds, embedding_dim=bb.info.embedding_dim)
        return cls(bb, bank, assignment=assignment, max_batch=max_batch)

    # -- assignment -------------------------------------------------------------------
    def assign(self, camera_id: str, algorithm_ids: Collection[str]) -> None:
        """Set the algorithms a camera runs (replacing its previous set)."""
        known = set(self.heads.algorithm_ids())
        unknown = set(algorithm_ids) - known
        if unknown:
            raise InferenceError(
                f"camera {camera_id!r} is assigned algorithms {sorted(unknown)} with no head in the bank; "
                f"add them with HeadBank.swap first (bank has {len(known)} heads)"
            )
        with self._lock:
            self._assignment = {**self._assignment, camera_id: frozenset(algorithm_ids)}

    def unassign(self, camera_id: str) -> None:
        with self._lock:
            self._assignment = {c: a for c, a in self._assignment.items() if c != camera_id}

    @property
    def assignment(self) -> Mapping[str, frozenset[str]]:
        return self._assignment

    # -- running ----------------------------------------------------------------------
    def infer(self, frames: Sequence[tuple[str, np.ndarray]], *, frame_ids: Sequence[object] | None = None,
              assignment: Mapping[str, Collection[str]] | None = None) -> list[FrameScores]:
        """Score a cross-camera batch. ``assignment`` overrides the stored one for this call."""
        if not frames:
            return []
        assign = assignment if assignment is not None else self._assignment
        cams = [c for c, _ in frames]
        missing = sorted({c for c in cams if c not in assign})
        if missing:
            raise InferenceError(f"frames from cameras {missing} that have no assignment; call assign(camera_id, algorithm_ids) first")
        t0 = time.perf_counter()
        embs, pre_ms, bb_ms = [], 0.0, 0.0
        for i in range(0, len(frames), self.max_batch):
            t_a = time.perf_counter()
            batch = preprocess_bgr([f for _, f in frames[i : i + self.max_batch]])
            t_b = time.perf_counter()
            _, emb = self.backbone.run(batch)
            embs.append(emb)
            pre_ms += (t_b - t_a) * 1000
            bb_ms += (time.perf_counter() - t_b) * 1000
        emb = embs[0] if len(embs) == 1 else np.concatenate(embs)
        t_h = time.perf_counter()
        try:
            out = self.heads.score(emb, [assign[c] for c in cams], camera_ids=cams, frame_ids=frame_ids)
        except HeadError as exc:
            raise InferenceError(f"head bank refused the batch: {exc}") from exc
        self.last_embeddings = emb  # [N, D] of this batch: the app retains them for mining
        self.last_timing = BatchTiming(len(frames), pre_ms, bb_ms, (time.perf_counter() - t_h) * 1000)
        log.debug("batch n=%d cameras=%d total_ms=%.2f", len(frames), len(set(cams)), (time.perf_counter() - t0) * 1000)
        return out

    def infer_pending(self, pending: Sequence) -> list[FrameScores]:
        """Score a batch from :class:`runtime.batching.CrossCameraBatcher` (frame ids carried over)."""
        return self.infer([(p.camera_id, p.frame) for p in pending], frame_ids=[p.frame_id for p in pending])
