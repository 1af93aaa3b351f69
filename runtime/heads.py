"""The head bank: every algorithm's head on the shared embedding, fused into one matmul.

Linear heads (``catalog.linear_head_onnx``) are stacked column-wise into one ``[D, K]``
matrix, so N frames x hundreds of heads cost ``embedding[N, D] @ W[D, K]`` once. Each camera
reads only the columns of the algorithms assigned to it. Heads that are not linear run
through an engine one by one, on the rows of the cameras that use them. ``swap`` replaces
one head (copy-on-write of the fused matrix, then one reference assignment), so a batch in
flight finishes on the bank it started with and no frame is dropped.

>>> import numpy as np
>>> from catalog import linear_head_onnx
>>> bank = HeadBank({"fire": linear_head_onnx(np.ones((4, 1), np.float32), np.zeros(1, np.float32), labels=["fire"])},
...                 thresholds={"fire": 0.7})
>>> out = bank.score(np.ones((2, 4), np.float32), [{"fire"}, set()])
>>> sorted(out[0].as_dict()), round(float(out[0].scores("fire")[0]), 3), out[0].fired(), out[1].fired()
(['fire'], 0.982, (('fire', 'fire', 0.982...),), ())
"""
from __future__ import annotations

import contextlib
import logging
import threading
from dataclasses import dataclass, field
from typing import Callable, Collection, Mapping, Sequence

import numpy as np

from catalog import HeadFormatError, LinearHead, read_linear_head

log = logging.getLogger(__name__)

DEFAULT_THRESHOLD = 0.5
Threshold = float | Mapping[str, float]


class HeadError(ValueError):
    """A head, threshold or assignment the bank cannot use."""


@dataclass(frozen=True, slots=True)
class Segment:
    """One linear head's columns in the fused matrix."""

    algorithm_id: str
    version: str
    start: int
    stop: int
    labels: tuple[str, ...]
    activation: str


@dataclass(frozen=True, slots=True)
class GenericHead:
    """A non-linear ONNX head; runs through an engine on the embedding rows that need it."""

    algorithm_id: str
    version: str
    labels: tuple[str, ...]
    thresholds: np.ndarray  # [K]
    engine_key: str  # name in the bank's residency


@dataclass(frozen=True, slots=True)
class BankState:
    """An immutable snapshot of the bank: a batch uses one snapshot from start to end."""

    generation: int
    weights: np.ndarray  # [D, K] float32, read-only
    bias: np.ndarray  # [K]
    thresholds: np.ndarray  # [K]
    segments: Mapping[str, Segment]
    generic: Mapping[str, GenericHead]
    sigmoid_cols: np.ndarray  # indices of the columns that take a sigmoid
    softmax: tuple[Segment, ...]
    starts: np.ndarray  # segment start columns, ascending (segments are laid out in sorted order)
    ordered: tuple[Segment, ...]
    _masks: dict = field(default_factory=dict, compare=False, repr=False)

    @property
    def embedding_dim(self) -> int:
        return int(self.weights.shape[0])

    def versions(self) -> dict[str, str]:
        return {**{a: s.version for a, s in self.segments.items()}, **{a: g.version for a, g in self.generic.items()}}

    def columns(self, algorithm_ids: Collection[str]) -> np.ndarray:
        """Boolean column mask of the linear heads of ``algorithm_ids`` (cached per set)."""
        key = frozenset(algorithm_ids)
        mask = self._masks.get(key)
        if mask is None:
            mask = np.zeros(self.weights.shape[1], dtype=bool)
            for a in key:
                s = self.segments.get(a)
                if s is not None:
                    mask[s.start : s.stop] = True
            mask.setflags(write=False)
            self._masks[key] = mask
        return mask


@dataclass(frozen=True, slots=True)
class FrameScores:
    """One frame's scores for the algorithms assigned to its camera (views, built lazily)."""

    camera_id: str
    frame_id: object
    algorithm_ids: frozenset[str]
    row: np.ndarray  # [K] activated scores of the whole bank for this frame
    fired_cols: np.ndarray  # column indices over threshold, among this camera's columns
    state: BankState
    generic_scores: Mapping[str, np.ndarray]

    def scores(self, algorithm_id: str) -> np.ndarray:
        if algorithm_id not in self.algorithm_ids:
            raise HeadError(f"algorithm {algorithm_id!r} is not assigned to camera {self.camera_id!r}; assigned: {sorted(self.algorithm_ids)}")
        if algorithm_id in self.generic_scores:
            return self.generic_scores[algorithm_id]
        s = self.state.segments[algorithm_id]
        return self.row[s.start : s.stop]

    def as_dict(self) -> dict[str, np.ndarray]:
        known = self.state.segments.keys() | self.generic_scores.keys()
        return {a: self.scores(a) for a in self.algorithm_ids if a in known}

    def fired(self) -> tuple[tuple[str, str, float], ...]:
        """(algorithm_id, label, score) for every score at or over its threshold."""
        out = []
        if len(self.fired_cols):
            st = self.state
            for c in self.fired_cols:
                s = st.ordered[int(np.searchsorted(st.starts, c, side="right")) - 1]
                out.append((s.algorithm_id, s.labels[c - s.start], float(self.row[c])))
        for a, sc in self.generic_scores.items():
            g = self.state.generic[a]
            for k in np.flatnonzero(sc >= g.thresholds):
                out.append((a, g.labels[k], float(sc[k])))
        return tuple(out)


def _thresholds(algorithm_id: str, labels: Sequence[str], threshold: Threshold | None) -> np.ndarray:
    if threshold is None:
        return np.full(len(labels), DEFAULT_THRESHOLD, np.float32)
    if isinstance(threshold, Mapping):
        unknown = set(threshold) - set(labels)
        if unknown:
            raise HeadError(f"thresholds for {algorithm_id!r} name labels {sorted(unknown)} it does not have; its labels are {list(labels)}")
        return np.array([threshold.get(l, DEFAULT_THRESHOLD) for l in labels], np.float32)
    return np.full(len(labels), float(threshold), np.float32)


@dataclass(slots=True)
class _Entry:
    version: str
    linear: LinearHead | None
    labels: tuple[str, ...]
    thresholds: np.ndarray


class HeadBank:
    """Fused linear heads + individually run ONNX heads, with atomic hot swap (module doc)."""

    def __init__(
        self,
        heads: Mapping[str, bytes | LinearHead] | None = None,
        *,
        versions: Mapping[str, str] | None = None,
        thresholds: Mapping[str, Threshold] | None = None,
        embedding_dim: int | None = None,
        engine_factory: Callable[[bytes], object] | None = None,
        residency=None,
        blas_threads: int | None = 1,
    ) -> None:
        from runtime.residency import ModelResidency

        self._lock = threading.Lock()
        self._entries: dict[str, _Entry] = {}
        self._dim = embedding_dim
        self._engine_factory = engine_factory or _default_engine_factory
        self.residency = residency or ModelResidency()
        self._generation = 0
        # One BLAS thread: the matmul is small, and a multi-threaded OpenBLAS spinning against
        # the backbone's threads on a busy CPU was measured 15-30x slower. None: leave as is.
        self.blas_threads = blas_threads
        versions, thresholds = versions or {}, thresholds or {}
        for a, h in (heads or {}).items():
            self._entries[a] = self._make_entry(a, h, versions.get(a, "v1"), thresholds.get(a))
        self._state = self._build()

    # -- reading ----------------------------------------------------------------------
    @property
    def state(self) -> BankState:
        return self._state

    def algorithm_ids(self) -> tuple[str, ...]:
        return tuple(self._state.versions())

    def score(
        self, embedding: np.ndarray, assigned: Sequence[Collection[str]], *, camera_ids: Sequence[str] | None = None,
        frame_ids: Sequence[object] | None = None,
    ) -> list[FrameScores]:
        """Scores of each row's assigned algorithms: ONE matmul for all linear heads."""
        state = self._state  # one snapshot for the whole batch
        n = embedding.shape[0]
        if len(assigned) != n:
            raise HeadError(f"got {n} embedding rows but {len(assigned)} assignments; give one set of algorithm ids per row")
        if embedding.ndim != 2 or (state.weights.shape[1] and embedding.shape[1] != state.embedding_dim):
            raise HeadError(f"embedding has shape {embedding.shape}; expected [N, {state.embedding_dim}]")
        with _blas_limit(self.blas_threads):
            z = embedding @ state.weights
        z += state.bias
        if len(state.sigmoid_cols) == z.shape[1]:
            np.negative(z, out=z)
            np.clip(z, -60.0, 60.0, out=z)
            np.exp(z, out=z)
            z += 1.0
            np.reciprocal(z, out=z)
        elif len(state.sigmoid_cols):
            z[:, state.sigmoid_cols] = 1.0 / (1.0 + np.exp(-np.clip(z[:, state.sigmoid_cols], -60.0, 60.0)))
        for s in state.softmax:
            e = np.exp(z[:, s.start : s.stop] - z[:, s.start : s.stop].max(axis=1, keepdims=True))
            z[:, s.start : s.stop] = e / e.sum(axis=1, keepdims=True)
        over = z >= state.thresholds
        generic = self._run_generic(state, embedding, assigned)
        cams = camera_ids or [""] * n
        fids = frame_ids or list(range(n))
        out = []
        for i in range(n):
            algs = frozenset(assigned[i])
            mask = state.columns(algs)
            out.append(FrameScores(cams[i], fids[i], algs, z[i], np.flatnonzero(over[i] & mask), state,
                                   {a: v[i] for a, v in generic.items() if i in v}))
        return out

    # -- changing ---------------------------------------------------------------------
    def swap(self, algorithm_id: str, head: bytes | LinearHead, *, version: str, threshold: Threshold | None = None) -> BankState:
        """Add or replace one head; readers switch to the new snapshot atomically."""
        entry = self._make_entry(algorithm_id, head, version, threshold)
        with self._lock:
            old = self._entries.get(algorithm_id)
            if threshold is None and old is not None and old.labels == entry.labels:
                entry.thresholds = old.thresholds
            self._entries[algorithm_id] = entry
            self._state = self._build()
        log.info("head bank swap algorithm=%s version=%s generation=%d", algorithm_id, version, self._state.generation)
        return self._state

    def remove(self, algorithm_id: str) -> None:
        with self._lock:
            if self._entries.pop(algorithm_id, None) is not None:
                self.residency.unregister(f"head:{algorithm_id}")
                self._state = self._build()

    def set_threshold(self, algorithm_id: str, threshold: Threshold) -> None:
        with self._lock:
            e = self._entries.get(algorithm_id)
            if e is None:
                raise HeadError(f"no head {algorithm_id!r} in the bank; known: {sorted(self._entries)[:20]}")
            e.thresholds = _thresholds(algorithm_id, e.labels, threshold)
            self._state = self._build()

    # -- inside -----------------------------------------------------------------------
    def _make_entry(self, algorithm_id: str, head: bytes | LinearHead, version: str, threshold: Threshold | None) -> _Entry:
        if isinstance(head, LinearHead):
            lin = head
        else:
            try:
                lin = read_linear_head(bytes(head))
            except HeadFormatError:
                lin = None
        if lin is not None:
            if lin.weights.ndim != 2 or lin.bias.shape != (lin.weights.shape[1],):
                raise HeadError(f"head {algorithm_id!r} has weights {lin.weights.shape} / bias {lin.bias.shape}; expected [D, K] / [K]")
            if self._dim is None:
                self._dim = int(lin.weights.shape[0])
            if lin.weights.shape[0] != self._dim:
                raise HeadError(f"head {algorithm_id!r} reads a {lin.weights.shape[0]}-d embedding; the bank's is {self._dim}-d. Retrain it on the shared backbone")
            return _Entry(version, lin, tuple(lin.labels), _thresholds(algorithm_id, lin.labels, threshold))
        blob = bytes(head)
        engine = self._engine_factory(blob)  # validate now, at the edge; this copy serves first
        labels = _generic_labels(blob, engine)
        first = [engine]
        self.residency.register(f"head:{algorithm_id}", version=version,
                                load=lambda: first.pop() if first else self._engine_factory(blob),
                                size_mib=max(len(blob) / 2**20 * 2, 0.1))
        return _Entry(version, None, labels, _thresholds(algorithm_id, labels, threshold))

    def _build(self) -> BankState:
        dim = self._dim or 0
        linear = [(a, e) for a, e in sorted(self._entries.items()) if e.linear is not None]
        k = sum(e.linear.weights.shape[1] for _, e in linear)
        w = np.zeros((dim, k), np.float32)  # copy-on-write: a fresh matrix per generation
        b = np.zeros(k, np.float32)
        thr = np.zeros(k, np.float32)
        segs, sig, soft, col = {}, [], [], 0
        for a, e in linear:
            kk = e.linear.weights.shape[1]
            w[:, col : col + kk] = e.linear.weights
            b[col : col + kk] = e.linear.bias
            thr[col : col + kk] = e.thresholds
            seg = Segment(a, e.version, col, col + kk, e.labels, e.linear.activation)
            segs[a] = seg
            if seg.activation == "sigmoid":
                sig.extend(range(col, col + kk))
            elif seg.activation == "softmax":
                soft.append(seg)
            col += kk
        for arr in (w, b, thr):
            arr.setflags(write=False)
        generic = {a: GenericHead(a, e.version, e.labels, e.thresholds, f"head:{a}") for a, e in sorted(self._entries.items()) if e.linear is None}
        self._generation += 1
        ordered = tuple(segs.values())
        starts = np.array([sg.start for sg in ordered], dtype=np.intp)
        return BankState(self._generation, w, b, thr, segs, generic, np.array(sig, dtype=np.intp), tuple(soft), starts, ordered)

    def _run_generic(self, state: BankState, embedding: np.ndarray, assigned: Sequence[Collection[str]]) -> dict[str, dict[int, np.ndarray]]:
        out: dict[str, dict[int, np.ndarray]] = {}
        for a, g in state.generic.items():
            rows = [i for i, algs in enumerate(assigned) if a in algs]
            if not rows:
                continue
            engine = self.residency.get(g.engine_key)
            feeds = {engine.input_names[0]: np.ascontiguousarray(embedding[rows])}
            scores = engine.run(feeds)[engine.output_names[0]]
            out[a] = {i: scores[j] for j, i in enumerate(rows)}
        return out


_CONTROLLER: list = []


@contextlib.contextmanager
def _blas_limit(threads: int | None):
    if threads is None:
        yield
        return
    if not _CONTROLLER:
        try:
            from threadpoolctl import ThreadpoolController

            _CONTROLLER.append(ThreadpoolController())
        except ImportError:  # optional: without it BLAS keeps its own thread count
            _CONTROLLER.append(None)
    ctl = _CONTROLLER[0]
    if ctl is None:
        yield
        return
    with ctl.limit(limits=threads, user_api="blas"):
        yield


def _default_engine_factory(blob: bytes):
    from runtime.engines import OrtEngine

    return OrtEngine(blob, provider="cpu")


def _generic_labels(blob: bytes, engine) -> tuple[str, ...]:
    import json

    meta = getattr(engine, "metadata", {}) or {}
    if "labels" in meta:
        return tuple(json.loads(meta["labels"]))
    import onnx

    out = onnx.load_from_string(blob).graph.output[0]
    dims = out.type.tensor_type.shape.dim
    k = dims[-1].dim_value if dims else 0
    if not k:
        raise HeadError("a non-linear head needs a 'labels' metadata entry or a fixed last output dimension; add labels metadata to the ONNX file")
    return tuple(str(i) for i in range(k))
