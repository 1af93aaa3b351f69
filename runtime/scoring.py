"""Scoring frames for the stream side: the small Protocol the inference worker calls.

``FrameScorer.score(batch, assignments)`` returns, per (camera_id, algorithm_id), a score
and a box for the batch's frame of that camera (a batch holds at most one frame per
camera). :class:`InferenceCoreScorer` adapts the compute core's ``InferenceCore`` (fused
head bank); :class:`LinearHeadScorer` is a plain backbone + linear heads implementation.
Both run the backbone once per frame, give an algorithm its head's highest label score,
and the whole frame as box (classification heads do not localise).

>>> scorer = LinearHeadScorer.from_onnx("var/cache/backbone/mobilenet_v2.onnx", {"fire": head_bytes})  # doctest: +SKIP
>>> scorer.score([frame], [("cam-1", "fire")])                                                        # doctest: +SKIP
{('cam-1', 'fire'): (0.07, (0.0, 0.0, 640.0, 360.0))}
"""
from __future__ import annotations

import logging
from functools import partial
from pathlib import Path
from typing import Mapping, Protocol, Sequence, runtime_checkable

import numpy as np

from runtime.streams.base import FrameEvent, StreamConfigError

log = logging.getLogger(__name__)

XYXY = tuple[float, float, float, float]
ScoreMap = dict[tuple[str, str], tuple[float, XYXY]]


def pair_of(assignment) -> tuple[str, str]:
    """(camera_id, algorithm_id) of an assignment object or a plain pair."""
    if isinstance(assignment, tuple):
        return assignment[0], assignment[1]
    return assignment.camera_id, assignment.algorithm_id


@runtime_checkable
class FrameScorer(Protocol):
    """What the inference worker needs from the compute core."""

    def score(self, batch: list[FrameEvent], assignments: Sequence) -> ScoreMap: ...


class LinearHeadScorer:
    """Backbone once per frame, then each assigned algorithm's linear head.

    ``label_index`` picks one label of a multi-label head per algorithm; by default an
    algorithm's score is its head's highest label score."""

    def __init__(self, backbone, heads: Mapping[str, object], *, label_index: Mapping[str, int] | None = None) -> None:
        self._backbone = backbone
        self._heads = dict(heads)
        self._label_index = dict(label_index or {})
        for alg, head in self._heads.items():
            dim = head.weights.shape[0]
            if dim != backbone.info.embedding_dim:
                raise StreamConfigError(
                    f"head of algorithm {alg!r} expects a {dim}-d embedding, the backbone gives "
                    f"{backbone.info.embedding_dim}; retrain the head on this backbone"
                )

    @classmethod
    def from_onnx(cls, backbone_path: str | Path, heads_onnx: Mapping[str, bytes], *,
                  label_index: Mapping[str, int] | None = None, intra_op_threads: int = 1) -> "LinearHeadScorer":
        from catalog import read_linear_head

        from runtime.backbone import Backbone

        bb = Backbone.load(backbone_path, intra_op_threads=intra_op_threads)
        return cls(bb, {alg: read_linear_head(blob) for alg, blob in heads_onnx.items()}, label_index=label_index)

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
        missing = sorted({alg for _, alg in wanted} - set(self._heads))
        if missing:
            raise StreamConfigError(f"no head loaded for algorithms {missing}; loaded: {sorted(self._heads)}")
        _, emb = self._backbone.embed_frames([f.image for f in batch])
        out: ScoreMap = {}
        for cam, alg in wanted:
            head = self._heads[alg]
            i = row[cam]
            s = head.scores(emb[i : i + 1])[0]
            j = self._label_index.get(alg)
            h, w = batch[i].image.shape[:2]
            out[(cam, alg)] = (float(s[j] if j is not None else np.max(s)), (0.0, 0.0, float(w), float(h)))
        return out


def _build_linear(backbone_path: str, heads_onnx: dict[str, bytes], label_index: dict[str, int] | None) -> LinearHeadScorer:
    return LinearHeadScorer.from_onnx(backbone_path, heads_onnx, label_index=label_index)


def linear_head_scorer_factory(backbone_path: str | Path, heads_onnx: Mapping[str, bytes], *,
                               label_index: Mapping[str, int] | None = None):
    """A picklable zero-argument factory (ONNX sessions cannot travel to a Ray actor; this can)."""
    return partial(_build_linear, str(backbone_path), dict(heads_onnx), dict(label_index or {}) or None)


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


def _build_core(backbone_path: str, heads_onnx: dict[str, bytes], versions: dict[str, str] | None,
                engine: str | None) -> InferenceCoreScorer:
    from runtime.inference import InferenceCore

    return InferenceCoreScorer(InferenceCore.load(backbone_path, heads_onnx, versions=versions, engine=engine))


def inference_core_scorer_factory(backbone_path: str | Path, heads_onnx: Mapping[str, bytes], *,
                                  versions: Mapping[str, str] | None = None, engine: str | None = None):
    """A picklable zero-argument factory of an :class:`InferenceCoreScorer` (built inside the actor)."""
    return partial(_build_core, str(backbone_path), dict(heads_onnx), dict(versions or {}) or None, engine)
