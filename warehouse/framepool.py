"""The retained frame pool: what the runtime saw, kept for mining.

Each retained frame keeps its backbone embedding (so mining never re-runs the backbone),
a reference to its JPEG in the artifact store, and, for synthetic cameras, the generator's
exact labels (which stand in for a human labeler in the demo and tests). Bounded per
camera: the oldest frames go first.

Mining searches the pool through :class:`EmbeddingIndex` (FAISS HNSW over unit vectors,
so inner product is cosine; each frame centred by its camera's mean first), kept in step incrementally: frames added or trimmed in this
process update it at once, and :meth:`FramePool.index` picks up rows other processes wrote
by diffing ids (only new rows' embeddings are read).

>>> pool = FramePool("sqlite://")
>>> pool.add(RetainedFrame("f1", "cam-1", 0, 1000, np.ones(4, np.float32)))
1
>>> pool.nearest(np.ones(4, np.float32), k=1)[0][0]
'f1'
>>> pool.index().search(np.ones((1, 4), np.float32), k=1)[0][0][0]
'f1'
"""
from __future__ import annotations

import json
import logging
import threading
from dataclasses import dataclass, field

import numpy as np
import sqlalchemy as sa

from warehouse._db import make_engine

from warehouse.errors import InvalidInputError

log = logging.getLogger(__name__)

_meta = sa.MetaData()
_frames = sa.Table(
    "pool_frames", _meta,
    sa.Column("frame_id", sa.String(96), primary_key=True),
    sa.Column("camera_id", sa.String(128), nullable=False, index=True),
    sa.Column("frame_index", sa.Integer, nullable=False),
    sa.Column("ts_ms", sa.BigInteger, nullable=False, index=True),
    sa.Column("embedding", sa.LargeBinary, nullable=False),
    sa.Column("image_sha256", sa.String(64), nullable=True),
    sa.Column("truth", sa.Text, nullable=True),
)


@dataclass(frozen=True, slots=True)
class RetainedFrame:
    frame_id: str
    camera_id: str
    frame_index: int
    ts_ms: int
    embedding: np.ndarray
    image_sha256: str | None = None
    truth: tuple[str, ...] | None = field(default=None)  # event ids present, when known exactly


class _CameraMeans:
    """Per-camera running sums, and the mean each camera's vectors are centred by.

    A camera's mean is fixed when its first frames arrive and re-fixed each time its frame
    count doubles, until it holds ``settle`` frames (then it moves too little to matter, and
    only a full rebuild refreshes it); a camera with fewer than ``min_frames`` is not centred.
    """

    def __init__(self, dim: int, *, min_frames: int, settle: int) -> None:
        self.dim, self.min_frames, self.settle = dim, min_frames, settle
        self.sum: dict[str, np.ndarray] = {}
        self.count: dict[str, int] = {}
        self.used: dict[str, np.ndarray] = {}
        self.fixed_at: dict[str, int] = {}

    def observe(self, cameras: list[str], raw: np.ndarray, sign: int) -> None:
        for cam, v in zip(cameras, np.asarray(raw, np.float64)):
            self.sum[cam] = self.sum.get(cam, 0.0) + sign * v
            self.count[cam] = self.count.get(cam, 0) + sign

    def stale(self, cameras: set[str]) -> list[str]:
        return sorted(c for c in cameras if self.fixed_at.get(c, 0) == 0
                      or (self.count[c] >= 2 * self.fixed_at[c] and self.fixed_at[c] < self.settle))

    def fix(self, cam: str) -> None:
        n = self.count.get(cam, 0)
        self.used[cam] = (self.sum[cam] / n).astype(np.float32) if n >= self.min_frames else np.zeros(self.dim, np.float32)
        self.fixed_at[cam] = max(n, 1)

    def offsets(self, cameras: list[str]) -> np.ndarray:
        return np.stack([self.used[c] for c in cameras]) if cameras else np.zeros((0, self.dim), np.float32)


class EmbeddingIndex:
    """Approximate nearest neighbours (cosine) over frame embeddings, updated incrementally.

    FAISS ``IndexHNSWFlat`` (inner product on L2-normalised vectors). HNSW cannot delete, so
    removed frames are tombstoned and filtered from results; the graph is rebuilt once more
    than ``rebuild_dead_fraction`` of it is dead. ``distance_computations`` counts what the
    searches really scanned (FAISS's own HNSW statistics).

    ``centred=True`` (the frame pool's index): each frame's embedding minus its camera's mean
    is what is indexed. Backbone embeddings of one camera share a large component (the scene);
    frames of a rare event are a small offset from it, so in the raw space the pool is a few
    hundred tight scene clusters and the event frames hang between them, where an HNSW graph
    built over the clusters reaches them badly (measured: recall@10 of event frames' neighbours
    0.74 raw, 0.995 centred, on the mining benchmark's 200,000 frames). Queries, ``vectors`` and
    the similarities returned are all in that centred space. A camera's mean is refreshed as it
    fills (its vectors are re-inserted when its frame count doubles, up to ``settle`` frames),
    and recomputed exactly on every rebuild.

    >>> ix = EmbeddingIndex(3)
    >>> ix.add(["a", "b"], np.array([[1, 0, 0], [0, 1, 0]], np.float32))
    2
    >>> ix.search(np.array([[0.9, 0.1, 0]], np.float32), k=1)[0][0][0]
    'a'
    """

    def __init__(self, dim: int, *, m: int = 32, ef_search: int = 96, rebuild_dead_fraction: float = 0.25, centred: bool = False,
                 centre_min_frames: int = 8, centre_settle: int = 512) -> None:
        if not isinstance(dim, int) or dim < 1:
            raise InvalidInputError(f"EmbeddingIndex dim must be a positive int, got {dim!r}")
        self.dim, self._m, self._ef, self._rebuild_at = dim, m, ef_search, rebuild_dead_fraction
        self.centred = centred
        self._lock = threading.RLock()
        self._ids: list[str] = []
        self._pos: dict[str, int] = {}
        self._vecs = np.zeros((0, dim), np.float32)
        self._alive = np.zeros(0, bool)
        self._raw = np.zeros((0, dim), np.float32)  # kept only when centred (to re-centre)
        self._cams: list[str] = []
        self._by_cam: dict[str, list[int]] = {}
        self._means = _CameraMeans(dim, min_frames=centre_min_frames, settle=centre_settle)
        self.distance_computations = 0
        self._index = self._new_faiss()

    def _new_faiss(self):
        import faiss

        ix = faiss.IndexHNSWFlat(self.dim, self._m, faiss.METRIC_INNER_PRODUCT)
        ix.hnsw.efConstruction = 40
        ix.hnsw.efSearch = self._ef
        return ix

    def __len__(self) -> int:
        return int(self._alive.sum())

    def __contains__(self, frame_id: object) -> bool:
        p = self._pos.get(frame_id)  # type: ignore[arg-type]
        return p is not None and bool(self._alive[p])

    def ids(self) -> list[str]:
        return [i for i, a in zip(self._ids, self._alive) if a]

    @staticmethod
    def _unit(x: np.ndarray) -> np.ndarray:
        x = np.ascontiguousarray(x, dtype=np.float32)
        return x / (np.linalg.norm(x, axis=1, keepdims=True) + 1e-9)

    def add(self, frame_ids: list[str], embeddings: np.ndarray, cameras: list[str] | None = None) -> int:
        """Add frames (ids already present are skipped); returns how many were new.

        A centred index needs each frame's camera (``cameras``, one per id)."""
        emb = np.asarray(embeddings, np.float32).reshape(len(frame_ids), -1) if len(frame_ids) else np.zeros((0, self.dim), np.float32)
        if emb.shape[1] != self.dim:
            raise InvalidInputError(f"embeddings have dimension {emb.shape[1]}, the index holds {self.dim}; embed with the same backbone")
        if self.centred and (cameras is None or len(cameras) != len(frame_ids)):
            raise InvalidInputError(f"this index centres each frame by its camera's mean: pass cameras=[one camera id per frame] "
                                    f"(got {None if cameras is None else len(cameras)} for {len(frame_ids)} frames)")
        with self._lock:
            keep = [i for i, f in enumerate(frame_ids) if f not in self._pos]
            keep = list({frame_ids[i]: i for i in keep}.values())  # duplicates within the call: last wins
            if not keep:
                return 0
            ids, raw = [frame_ids[i] for i in keep], emb[keep]
            cams = [str(cameras[i]) for i in keep] if self.centred else []
            if self.centred:
                self._means.observe(cams, raw, +1)
                for cam in self._means.stale(set(cams)):
                    old = [p for p in self._by_cam.get(cam, ()) if self._alive[p]]
                    before = self._means.used.get(cam)
                    self._means.fix(cam)
                    if old and not np.array_equal(before, self._means.used[cam]):
                        # its mean moved: re-insert its frames centred by the new one
                        self._alive[old] = False
                        ids += [self._ids[p] for p in old]
                        raw = np.concatenate([raw, self._raw[old]])
                        cams += [cam] * len(old)
            self._append(ids, raw, cams)
            if (~self._alive).sum() > self._rebuild_at * len(self._alive):
                self._rebuild()
            return len(keep)

    def _append(self, ids: list[str], raw: np.ndarray, cams: list[str]) -> None:
        unit = self._unit(raw - self._means.offsets(cams)) if self.centred else self._unit(raw)
        start = len(self._ids)
        for j, f in enumerate(ids):
            self._pos[f] = start + j
            self._ids.append(f)
        if self.centred:
            for j, c in enumerate(cams):
                self._by_cam.setdefault(c, []).append(start + j)
            self._cams += cams
            self._raw = np.concatenate([self._raw, np.asarray(raw, np.float32)])
        self._vecs = np.concatenate([self._vecs, unit])
        self._alive = np.concatenate([self._alive, np.ones(len(ids), bool)])
        self._index.add(unit)

    def remove(self, frame_ids: list[str]) -> int:
        """Forget frames (unknown ids are ignored); returns how many were removed."""
        with self._lock:
            gone = []
            for f in frame_ids:
                p = self._pos.pop(f, None)
                if p is not None and self._alive[p]:
                    self._alive[p] = False
                    gone.append(p)
            if self.centred and gone:
                self._means.observe([self._cams[p] for p in gone], self._raw[gone], -1)
            if len(self._alive) and (~self._alive).sum() > self._rebuild_at * len(self._alive):
                self._rebuild()
            return len(gone)

    def _rebuild(self) -> None:
        keep = np.flatnonzero(self._alive)
        ids = [self._ids[i] for i in keep]
        raw, cams = (self._raw[keep], [self._cams[i] for i in keep]) if self.centred else (None, [])
        vecs = self._vecs[keep]
        self._ids, self._pos, self._cams, self._by_cam = [], {}, [], {}
        self._vecs, self._alive, self._raw = np.zeros((0, self.dim), np.float32), np.zeros(0, bool), np.zeros((0, self.dim), np.float32)
        self._index = self._new_faiss()
        if self.centred:
            self._means = _CameraMeans(self.dim, min_frames=self._means.min_frames, settle=self._means.settle)
            self._means.observe(cams, raw, +1)
            for cam in set(cams):
                self._means.fix(cam)  # exact means of what is alive
            if ids:
                self._append(ids, raw, cams)
        elif ids:
            self._ids, self._pos = ids, {f: i for i, f in enumerate(ids)}
            self._vecs, self._alive = vecs, np.ones(len(ids), bool)
            self._index.add(vecs)
        log.info("embedding index rebuilt without tombstones (%d frames, centred=%s)", len(ids), self.centred)

    def sample(self, n: int, *, seed: int, exclude: set[str] | frozenset[str] = frozenset()) -> list[str]:
        """Up to ``n`` live frame ids drawn uniformly (seeded), skipping ``exclude``; reads no embedding."""
        with self._lock:
            live = len(self)
            if n <= 0 or live == 0:
                return []
            rng = np.random.default_rng(seed)
            want = min(live, n + len(exclude) + 8)
            pos = rng.choice(len(self._ids), size=min(len(self._ids), want * len(self._ids) // live), replace=False)
            got = [self._ids[p] for p in pos if self._alive[p] and self._ids[p] not in exclude]
            return got[:n]

    def vectors(self, frame_ids: list[str]) -> np.ndarray:
        """Unit embeddings of ``frame_ids`` (KeyError names a missing id)."""
        try:
            rows = [self._pos[f] for f in frame_ids]
        except KeyError as exc:
            raise InvalidInputError(f"frame {exc.args[0]!r} is not in the embedding index; retain it in the pool first") from None
        return self._vecs[rows] if rows else np.zeros((0, self.dim), np.float32)

    def search(self, queries: np.ndarray, *, k: int, exclude: set[str] | frozenset[str] = frozenset()) -> list[list[tuple[str, float]]]:
        """For each query row, up to ``k`` (frame id, cosine) pairs, best first, skipping ``exclude``."""
        import faiss

        q = self._unit(np.asarray(queries, np.float32).reshape(-1, self.dim))
        with self._lock:
            n = len(self._ids)
            if n == 0 or k <= 0:
                return [[] for _ in range(len(q))]
            dead = int((~self._alive).sum())
            want = min(n, k + dead + len(exclude))
            while True:
                self._index.hnsw.efSearch = max(self._ef, want)
                stats = faiss.cvar.hnsw_stats
                stats.reset()
                sims, pos = self._index.search(q, want)
                self.distance_computations += int(stats.ndis)
                out, short = [], False
                for srow, prow in zip(sims, pos):
                    got = [(self._ids[p], float(s)) for s, p in zip(srow, prow)
                           if p >= 0 and self._alive[p] and self._ids[p] not in exclude][:k]
                    short |= len(got) < k and want < n
                    out.append(got)
                if not short:
                    return out
                want = min(n, want * 2)


class FramePool:
    def __init__(self, url: str, *, max_frames_per_camera: int = 50_000) -> None:
        self.engine = make_engine(url)
        _meta.create_all(self.engine)
        self.max_frames_per_camera = max_frames_per_camera
        self._index: EmbeddingIndex | None = None
        self._index_lock = threading.Lock()

    def add(self, *frames: RetainedFrame) -> int:
        """Insert frames (ignoring ids already present); returns how many were new."""
        new = 0
        with self.engine.begin() as c:
            have = {r[0] for r in c.execute(sa.select(_frames.c.frame_id).where(_frames.c.frame_id.in_([f.frame_id for f in frames])))}
            rows = []
            for f in frames:
                if f.frame_id in have:
                    continue
                emb = np.asarray(f.embedding, dtype=np.float32).reshape(-1)
                rows.append(dict(frame_id=f.frame_id, camera_id=f.camera_id, frame_index=f.frame_index, ts_ms=f.ts_ms,
                                 embedding=emb.tobytes(), image_sha256=f.image_sha256,
                                 truth=None if f.truth is None else json.dumps(list(f.truth))))
            if rows:
                c.execute(_frames.insert(), rows)
                new = len(rows)
            trimmed: list[str] = []
            for cam in {f.camera_id for f in frames}:
                trimmed += self._trim(c, cam)
        ix = self._index
        if ix is not None:
            if rows:
                ix.add([r["frame_id"] for r in rows], np.stack([np.frombuffer(r["embedding"], np.float32) for r in rows]),
                       cameras=[r["camera_id"] for r in rows])
            ix.remove(trimmed)
        return new

    def _trim(self, c, camera_id: str) -> list[str]:
        n = c.execute(sa.select(sa.func.count()).select_from(_frames).where(_frames.c.camera_id == camera_id)).scalar_one()
        extra = n - self.max_frames_per_camera
        if extra <= 0:
            return []
        old = list(c.execute(sa.select(_frames.c.frame_id).where(_frames.c.camera_id == camera_id)
                             .order_by(_frames.c.ts_ms).limit(extra)).scalars())
        c.execute(_frames.delete().where(_frames.c.frame_id.in_(old)))
        return old

    def index(self) -> EmbeddingIndex:
        """The pool's ANN index, built on first use and brought up to date on every call.

        Rows other processes added or trimmed since the last call are found by diffing ids;
        only the new rows' embeddings are read.
        """
        with self._index_lock:
            with self.engine.connect() as c:
                ids = set(c.execute(sa.select(_frames.c.frame_id)).scalars())
                if self._index is None:
                    first = c.execute(sa.select(_frames.c.embedding).limit(1)).scalar()
                    if first is None:
                        raise InvalidInputError("the frame pool is empty; run cameras (or add frames) before mining it")
                    self._index = EmbeddingIndex(len(first) // 4, centred=True)
                ix = self._index
                have = set(ix.ids())
                new = sorted(ids - have)
                for i in range(0, len(new), 5000):
                    part = new[i:i + 5000]
                    rows = c.execute(sa.select(_frames.c.frame_id, _frames.c.embedding, _frames.c.camera_id)
                                     .where(_frames.c.frame_id.in_(part))).all()
                    if rows:
                        ix.add([r[0] for r in rows], np.stack([np.frombuffer(r[1], np.float32) for r in rows]),
                               cameras=[r[2] for r in rows])
            ix.remove(sorted(have - ids))
            return ix

    def get(self, frame_id: str) -> RetainedFrame:
        with self.engine.connect() as c:
            r = c.execute(sa.select(_frames).where(_frames.c.frame_id == frame_id)).first()
        if r is None:
            raise InvalidInputError(f"frame {frame_id!r} is not in the retained pool (evicted or never retained); "
                                    "pick a frame id from GET /alerts evidence or the pool listing")
        return _row(r)

    def frames(self, *, camera_id: str | None = None, ids: list[str] | None = None) -> list[RetainedFrame]:
        q = sa.select(_frames).order_by(_frames.c.camera_id, _frames.c.ts_ms)
        if camera_id is not None:
            q = q.where(_frames.c.camera_id == camera_id)
        if ids is not None:
            q = q.where(_frames.c.frame_id.in_(ids))
        with self.engine.connect() as c:
            return [_row(r) for r in c.execute(q)]

    def embeddings(self, frame_ids: list[str]) -> np.ndarray:
        """Raw embeddings of ``frame_ids``, in that order (one that is not retained is named)."""
        by_id = {f.frame_id: f.embedding for f in self.frames(ids=list(frame_ids))} if frame_ids else {}
        missing = [f for f in frame_ids if f not in by_id]
        if missing:
            raise InvalidInputError(f"frames {missing[:5]} are not in the retained pool (evicted or never retained)")
        return np.stack([by_id[f] for f in frame_ids]) if frame_ids else np.zeros((0, 0), np.float32)

    def matrix(self, *, camera_id: str | None = None) -> tuple[list[str], np.ndarray]:
        fr = self.frames(camera_id=camera_id)
        if not fr:
            return [], np.zeros((0, 0), np.float32)
        return [f.frame_id for f in fr], np.stack([f.embedding for f in fr])

    def nearest(self, query: np.ndarray, *, k: int, camera_id: str | None = None, exclude: set[str] = frozenset()) -> list[tuple[str, float]]:
        """The k frames most similar (cosine) to ``query``."""
        ids, m = self.matrix(camera_id=camera_id)
        if not ids:
            return []
        q = np.asarray(query, np.float32).reshape(-1)
        sims = (m @ q) / (np.linalg.norm(m, axis=1) * np.linalg.norm(q) + 1e-9)
        order = np.argsort(-sims)
        out = [(ids[i], float(sims[i])) for i in order if ids[i] not in exclude]
        return out[:k]

    def __len__(self) -> int:
        with self.engine.connect() as c:
            return int(c.execute(sa.select(sa.func.count()).select_from(_frames)).scalar_one())


def _row(r) -> RetainedFrame:
    return RetainedFrame(r.frame_id, r.camera_id, r.frame_index, r.ts_ms, np.frombuffer(r.embedding, dtype=np.float32).copy(),
                         r.image_sha256, None if r.truth is None else tuple(json.loads(r.truth)))
