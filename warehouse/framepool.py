"""The retained frame pool: what the runtime saw, kept for mining.

Each retained frame keeps its backbone embedding (so mining never re-runs the backbone),
a reference to its JPEG in the artifact store, and, for synthetic cameras, the generator's
exact labels (which stand in for a human labeler in the demo and tests). Bounded per
camera: the oldest frames go first.

>>> pool = FramePool("sqlite://")
>>> pool.add(RetainedFrame("f1", "cam-1", 0, 1000, np.ones(4, np.float32)))
1
>>> pool.nearest(np.ones(4, np.float32), k=1)[0][0]
'f1'
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field

import numpy as np
import sqlalchemy as sa

from warehouse._db import make_engine

from warehouse.errors import InvalidInputError

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


class FramePool:
    def __init__(self, url: str, *, max_frames_per_camera: int = 50_000) -> None:
        self.engine = make_engine(url)
        _meta.create_all(self.engine)
        self.max_frames_per_camera = max_frames_per_camera

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
            for cam in {f.camera_id for f in frames}:
                self._trim(c, cam)
        return new

    def _trim(self, c, camera_id: str) -> None:
        n = c.execute(sa.select(sa.func.count()).select_from(_frames).where(_frames.c.camera_id == camera_id)).scalar_one()
        extra = n - self.max_frames_per_camera
        if extra > 0:
            old = sa.select(_frames.c.frame_id).where(_frames.c.camera_id == camera_id).order_by(_frames.c.ts_ms).limit(extra)
            c.execute(_frames.delete().where(_frames.c.frame_id.in_(old.scalar_subquery())))

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
