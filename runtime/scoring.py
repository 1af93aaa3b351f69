"""Scoring frames for the stream side: the small Protocol the inference worker calls.

``FrameScorer.score(batch, assignments)`` returns, per (camera_id, algorithm_id), a score
and a box for the batch's frame of that camera (a batch holds at most one frame per
camera). :class:`InferenceCoreScorer` adapts the compute core's ``InferenceCore`` (fused
head bank); :class:`LinearHeadScorer` is a plain backbone + linear heads implementation.
Both run the backbone once per frame, give an algorithm its head's highest label score,
and the whole frame as box (classification heads do not localise).

Both also implement :class:`BatchScorer`: ``score_frames(frames, due)`` scores a
cross-camera batch that may hold several frames of one camera (one backbone call for the
batch; one fused matmul for :class:`InferenceCoreScorer`) and reports, per frame, the
version of the head snapshot that produced each score; ``swap(...)`` hot-swaps a head
(copy-on-write: a batch finishes on the snapshot it started with).

>>> scorer = LinearHeadScorer.from_onnx("var/cache/backbone/mobilenet_v2.onnx", {"fire": head_bytes})  # doctest: +SKIP
>>> scorer.score([frame], [("cam-1", "fire")])                                                        # doctest: +SKIP
{('cam-1', 'fire'): (0.07, (0.0, 0.0, 640.0, 360.0))}
"""
from __future__ import annotations

import logging
from functools import partial
from pathlib import Path
from typing import Collection, Mapping, Protocol, Sequence, runtime_checkable

import numpy as np

from runtime.streams.base import FrameEvent, StreamConfigError

log = logging.getLogger(__name__)

XYXY = tuple[float, float, float, float]
ScoreMap = dict[tuple[str, str], tuple[float, XYXY]]
FrameScoreMap = dict[str, tuple[float, XYXY, str]]  # algorithm_id -> (score, xyxy, head version)


def pair_of(assignment) -> tuple[str, str]:
    """(camera_id, algorithm_id) of an assignment object or a plain pair."""
    if isinstance(assignment, tuple):
        return assignment[0], assignment[1]
    return assignment.camera_id, assignment.algorithm_id


@runtime_checkable
class FrameScorer(Protocol):
    """What the inference worker needs from the compute core."""

    def score(self, batch: list[FrameEvent], assignments: Sequence) -> ScoreMap: ...


@runtime_checkable
class BatchScorer(Protocol):
    """A scorer the worker can batch across cameras and hot-swap (both scorers here are one).

    ``score_frames(frames, due)``: ``due[i]`` is the set of algorithm ids to score on
    ``frames[i]``; several frames of one camera may share a batch. Returns one
    :data:`FrameScoreMap` per frame. ``swap(algorithm_id, onnx_bytes, version=..., threshold=...)``
    replaces (or adds) a head; ``versions()`` gives the serving version per algorithm.
    """

    def score_frames(self, frames: Sequence[FrameEvent], due: Sequence[Collection[str]]) -> list[FrameScoreMap]: ...

    def swap(self, algorithm_id: str, onnx_bytes: bytes, *, version: str, threshold: float | None = None) -> None: ...

    def versions(self) -> dict[str, str]: ...


def _whole_frame(f: FrameEvent) -> XYXY:
    h, w = f.image.shape[:2]
    return (0.0, 0.0, float(w), float(h))


class LinearHeadScorer:
    """Backbone once per frame, then each assigned algorithm's linear head.

    ``label_index`` picks one label of a multi-label head per algorithm; by default an
    algorithm's score is its head's highest label score."""

    def __init__(self, backbone, heads: Mapping[str, object], *, label_index: Mapping[str, int] | None = None,
                 versions: Mapping[str, str] | None = None) -> None:
        self._backbone = backbone
        self._label_index = dict(label_index or {})
        for alg, head in heads.items():
            self._check_dim(alg, head)
        # (heads, versions) replaced as one tuple on swap: a batch reads it once (copy-on-write)
        self._snap: tuple[dict[str, object], dict[str, str]] = (dict(heads), {a: str((versions or {}).get(a, "")) for a in heads})

    @property
    def _heads(self) -> dict[str, object]:
        return self._snap[0]

    def _check_dim(self, alg: str, head) -> None:
        dim = head.weights.shape[0]
        if dim != self._backbone.info.embedding_dim:
            raise StreamConfigError(
                f"head of algorithm {alg!r} expects a {dim}-d embedding, the backbone gives "
                f"{self._backbone.info.embedding_dim}; retrain the head on this backbone"
            )

    def versions(self) -> dict[str, str]:
        return dict(self._snap[1])

    def swap(self, algorithm_id: str, onnx_bytes: bytes, *, version: str, threshold: float | None = None) -> None:
        """Replace (or add) one head; batches already running finish on the old one. ``threshold`` is
        not used here (the event policy thresholds scores)."""
        from catalog import read_linear_head

        head = read_linear_head(onnx_bytes)
        self._check_dim(algorithm_id, head)
        heads, versions = self._snap
        self._snap = ({**heads, algorithm_id: head}, {**versions, algorithm_id: str(version)})
        log.info("linear scorer swap algorithm=%s version=%s", algorithm_id, version)

    def remove(self, algorithm_id: str) -> None:
        """Drop one head (no camera uses it any more)."""
        heads, versions = self._snap
        self._snap = ({a: h for a, h in heads.items() if a != algorithm_id}, {a: v for a, v in versions.items() if a != algorithm_id})

    def score_frames(self, frames: Sequence[FrameEvent], due: Sequence[Collection[str]]) -> list[FrameScoreMap]:
        """One backbone call for the batch, then one matmul per head over the rows that need it."""
        if len(due) != len(frames):
            raise StreamConfigError(f"got {len(frames)} frames but {len(due)} due sets; give one set per frame")
        heads, versions = self._snap
        missing = sorted({a for d in due for a in d} - set(heads))
        if missing:
            raise StreamConfigError(f"no head loaded for algorithms {missing}; loaded: {sorted(heads)}")
        out: list[FrameScoreMap] = [{} for _ in frames]
        rows = [i for i, d in enumerate(due) if d]
        if not rows:
            return out
        _, emb = self._backbone.embed_frames([frames[i].image for i in rows])
        self.last_embeddings = emb  # rows of the frames that had a head due, in order
        by_alg: dict[str, list[int]] = {}
        for j, i in enumerate(rows):
            for a in due[i]:
                by_alg.setdefault(a, []).append(j)
        for alg, js in by_alg.items():
            s = heads[alg].scores(emb[js])
            k = self._label_index.get(alg)
            vals = s[:, k] if k is not None else s.max(axis=1)
            for j, v in zip(js, vals):
                out[rows[j]][alg] = (float(v), _whole_frame(frames[rows[j]]), versions.get(alg, ""))
        return out

    @classmethod
    def from_onnx(cls, backbone_path: str | Path, heads_onnx: Mapping[str, bytes], *,
                  label_index: Mapping[str, int] | None = None, intra_op_threads: int = 1,
                  versions: Mapping[str, str] | None = None) -> "LinearHeadScorer":
        from catalog import read_linear_head

        from runtime.backbone import Backbone

        bb = Backbone.load(backbone_path, intra_op_threads=intra_op_threads)
        return cls(bb, {alg: read_linear_head(blob) for alg, blob in heads_onnx.items()}, label_index=label_index,
                   versions=versions)

    @property
    def algorithms(self) -> tuple[str, ...]:
        return tuple(self._heads)

    def score(self, batch: list[FrameEvent], assignments: Sequence) -> ScoreMap:
        if not batch:
            return {}
        row = {}
        for i, f in enumerate(batch):
            if f.camera_id in row:
                raise StreamConfigError(
                    f"batch holds two frames of camera {f.camera_id!r}; send at most one frame per camera per batch"
                )
            row[f.camera_id] = i
        wanted = [p for p in map(pair_of, assignments) if p[0] in row]
        if not wanted:
            return {}
        heads = self._heads  # one snapshot for the batch
        missing = sorted({alg for _, alg in wanted} - set(heads))
        if missing:
            raise StreamConfigError(f"no head loaded for algorithms {missing}; loaded: {sorted(heads)}")
        _, emb = self._backbone.embed_frames([f.image for f in batch])
        out: ScoreMap = {}
        for cam, alg in wanted:
            head = heads[alg]
            i = row[cam]
            s = head.scores(emb[i : i + 1])[0]
            j = self._label_index.get(alg)
            h, w = batch[i].image.shape[:2]
            out[(cam, alg)] = (float(s[j] if j is not None else np.max(s)), (0.0, 0.0, float(w), float(h)))
        return out


def _build_linear(backbone_path: str, heads_onnx: dict[str, bytes], label_index: dict[str, int] | None,
                  versions: dict[str, str] | None = None) -> LinearHeadScorer:
    return LinearHeadScorer.from_onnx(backbone_path, heads_onnx, label_index=label_index, versions=versions)


def linear_head_scorer_factory(backbone_path: str | Path, heads_onnx: Mapping[str, bytes], *,
                               label_index: Mapping[str, int] | None = None, versions: Mapping[str, str] | None = None):
    """A picklable zero-argument factory (ONNX sessions cannot travel to a Ray actor; this can)."""
    return partial(_build_linear, str(backbone_path), dict(heads_onnx), dict(label_index or {}) or None,
                   dict(versions or {}) or None)


class InferenceCoreScorer:
    """:class:`FrameScorer` over the compute core's ``runtime.InferenceCore`` (backbone once,
    fused head bank). An algorithm's score is its head's highest label score; the box is the frame."""

    def __init__(self, core) -> None:
        self.core = core

    def score(self, batch: list[FrameEvent], assignments: Sequence) -> ScoreMap:
        wanted: dict[str, set[str]] = {}
        for cam, alg in map(pair_of, assignments):
            wanted.setdefault(cam, set()).add(alg)
        frames = [f for f in batch if f.camera_id in wanted]
        if not frames:
            return {}
        results = self.core.infer([(f.camera_id, f.image) for f in frames], assignment=wanted)
        out: ScoreMap = {}
        for f, fs in zip(frames, results):
            h, w = f.image.shape[:2]
            for alg, s in fs.as_dict().items():
                out[(f.camera_id, alg)] = (float(np.max(s)), (0.0, 0.0, float(w), float(h)))
        return out

    def versions(self) -> dict[str, str]:
        return self.core.heads.state.versions()

    def swap(self, algorithm_id: str, onnx_bytes: bytes, *, version: str, threshold: float | None = None) -> None:
        """``HeadBank.swap``: a new fused matrix, switched in one reference store."""
        self.core.heads.swap(algorithm_id, onnx_bytes, version=version, threshold=threshold)

    def remove(self, algorithm_id: str) -> None:
        self.core.heads.remove(algorithm_id)

    @property
    def last_embeddings(self):
        """Embeddings ``[N, D]`` of the last scored batch (rows of the frames that had a head due)."""
        return getattr(self.core, "last_embeddings", None)

    def score_frames(self, frames: Sequence[FrameEvent], due: Sequence[Collection[str]]) -> list[FrameScoreMap]:
        """One backbone batch and ONE fused head-bank matmul for all ``frames`` (several per camera allowed)."""
        if len(due) != len(frames):
            raise StreamConfigError(f"got {len(frames)} frames but {len(due)} due sets; give one set per frame")
        out: list[FrameScoreMap] = [{} for _ in frames]
        rows = [i for i, d in enumerate(due) if d]
        if not rows:
            return out
        union: dict[str, set[str]] = {}  # the core assigns per camera; each frame keeps its own due set
        for i in rows:
            union.setdefault(frames[i].camera_id, set()).update(due[i])
        results = self.core.infer([(frames[i].camera_id, frames[i].image) for i in rows],
                                  frame_ids=[frames[i].frame_index for i in rows], assignment=union)
        versions_of: dict[int, dict[str, str]] = {}  # one snapshot per batch, but do not assume it
        for i, fs in zip(rows, results):
            vs = versions_of.get(fs.state.generation)
            if vs is None:
                vs = versions_of[fs.state.generation] = fs.state.versions()
            box = _whole_frame(frames[i])
            for alg in due[i]:
                out[i][alg] = (float(np.max(fs.scores(alg))), box, vs.get(alg, ""))
        return out


def _build_core(backbone_path: str, heads_onnx: dict[str, bytes], versions: dict[str, str] | None,
                engine: str | None) -> InferenceCoreScorer:
    from runtime.inference import InferenceCore

    return InferenceCoreScorer(InferenceCore.load(backbone_path, heads_onnx, versions=versions, engine=engine))


def inference_core_scorer_factory(backbone_path: str | Path, heads_onnx: Mapping[str, bytes], *,
                                  versions: Mapping[str, str] | None = None, engine: str | None = None):
    """A picklable zero-argument factory of an :class:`InferenceCoreScorer` (built inside the actor)."""
    return partial(_build_core, str(backbone_path), dict(heads_onnx), dict(versions or {}) or None, engine)
