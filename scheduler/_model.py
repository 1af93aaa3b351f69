"""The instance as numpy arrays, and each camera's ladder of rate levels (internal).

A camera at *level* ``f`` grants every demand whose ``min_fps <= f`` at ``min(fps, f)``;
the camera runs at the highest of those rates. So any level gives a valid camera, its value
``V`` and compute ``K`` are piecewise linear in ``f``, and a plan is a choice of one level
(or none) per camera plus a worker. Arrays are indexed: workers ``w``, cameras ``c``
(instance order), demands ``d`` (camera by camera, CSR ``start[c]:start[c+1]``),
algorithms ``a``.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from scheduler.instance import Instance

MAX_LEVELS = 24
#: ``min_fps`` of a demand left out so the rest of its camera fits a worker's memory (never granted)
NO_ROOM = 1e300


@dataclass(slots=True, eq=False)
class Model:
    """Mutable only by the incremental engine (``scheduler._engine``), which grows the
    arrays in place; everything else reads it."""

    inst: Instance
    w_compute: np.ndarray  # (W,) ms/s
    w_memory: np.ndarray  # (W,) MiB
    w_node: np.ndarray  # (W,) node index
    nodes: list  # node index -> name (worker nodes and cameras' pinned nodes)
    c_frame: np.ndarray  # (C,) decode + backbone ms per frame
    c_pin: np.ndarray  # (C,) node index, -1 when free (a pinned node may have no alive worker)
    start: np.ndarray  # (C,) first demand of each camera
    end: np.ndarray  # (C,) one past its last demand
    d_cam: np.ndarray
    d_alg: np.ndarray
    d_pri: np.ndarray
    d_fps: np.ndarray
    d_min: np.ndarray
    d_head: np.ndarray
    a_mem: np.ndarray
    backbone_mib: float
    levels: np.ndarray  # (L,) the rate grid, ascending
    V: np.ndarray  # (C, L) value at each level
    K: np.ndarray  # (C, L) compute ms/s at each level
    cam_fps: np.ndarray  # (C, L) the camera's fps at each level
    cams: list  # camera slot -> CameraSpec (None: removed)
    wids: list  # worker slot -> id
    w_alive: np.ndarray  # (W,) False for a worker that was lost
    jobs: list  # job slot -> JobSpec (None: finished)
    n_cams: int = 0  # camera slots in use (arrays may be longer: spare capacity)
    n_d: int = 0  # demand store entries in use
    node_ix: dict = field(default_factory=dict)  # node name -> index
    cam_slot: dict = field(default_factory=dict)  # camera id -> slot
    alg_slot: dict = field(default_factory=dict)  # algorithm id -> index
    a_head: np.ndarray = field(default_factory=lambda: np.zeros(0))
    lam: float = 0.0  # the compute price demands were screened at (0: none screened out)

    @property
    def n_cameras(self) -> int:
        return self.n_cams

    def granted(self, c: int, level: int) -> np.ndarray:
        """Demand indices granted on camera ``c`` at ``level`` (``-1`` = none)."""
        s, e = self.start[c], self.end[c]
        if level < 0:
            return np.arange(0)
        return np.arange(s, e)[self.d_min[s:e] <= self.levels[level]]

    def algs_at(self, c: int, level: int) -> np.ndarray:
        return self.d_alg[self.granted(c, level)]


def level_grid(d_fps: np.ndarray, d_min: np.ndarray) -> np.ndarray:
    grid = np.unique(np.concatenate([d_fps, d_min])) if len(d_fps) else np.array([1.0])
    if len(grid) > MAX_LEVELS:  # keep the extremes, thin the middle: every level stays valid
        idx = np.unique(np.round(np.linspace(0, len(grid) - 1, MAX_LEVELS)).astype(int))
        grid = grid[idx]
    return grid


def compile_instance(inst: Instance) -> Model:
    workers = inst.workers
    nodes = sorted({w.node for w in workers} | {c.node for c in inst.cameras if c.node is not None})
    node_ix = {n: i for i, n in enumerate(nodes)}
    w_compute = np.array([w.compute_ms_per_s for w in workers], dtype=float)
    w_memory = np.array([w.memory_mib for w in workers], dtype=float)
    w_node = np.array([node_ix[w.node] for w in workers], dtype=np.int64)
    alg_ix = {a.id: i for i, a in enumerate(inst.algorithms)}
    a_mem = np.array([a.memory_mib for a in inst.algorithms], dtype=float)
    a_head = np.array([a.head_ms for a in inst.algorithms], dtype=float)
    cams = inst.cameras
    c_frame = np.array([c.decode_ms + c.backbone_ms for c in cams], dtype=float)
    c_pin = np.array([-1 if c.node is None else node_ix[c.node] for c in cams], dtype=np.int64)
    counts = np.fromiter((len(c.demands) for c in cams), dtype=np.int64, count=len(cams))
    start = np.zeros(len(cams) + 1, dtype=np.int64)
    np.cumsum(counts, out=start[1:])
    n = int(start[-1])
    d_alg = np.fromiter((alg_ix[d.algorithm] for c in cams for d in c.demands), dtype=np.int64, count=n)
    d_pri = np.fromiter((d.priority for c in cams for d in c.demands), dtype=float, count=n)
    d_fps = np.fromiter((d.fps for c in cams for d in c.demands), dtype=float, count=n)
    d_min = np.fromiter((d.min_fps for c in cams for d in c.demands), dtype=float, count=n)
    d_cam = np.repeat(np.arange(len(cams), dtype=np.int64), counts)
    d_head = a_head[d_alg] if n else np.zeros(0)
    levels = level_grid(d_fps, d_min)
    V, K, cam_fps = ladder(levels, d_cam, d_pri, d_fps, d_min, d_head, c_frame, start)
    # spare room so that incremental re-plans add cameras and demands without copying the arrays
    cp, dp = len(cams) // 16 + 16, n // 16 + 64
    c_frame, c_pin = _pad(c_frame, cp, 0.0), _pad(c_pin, cp, -1)
    seg_s, seg_e = _pad(start[:-1], cp, 0), _pad(start[1:], cp, 0)
    V, K, cam_fps = (np.vstack([x, np.zeros((cp, x.shape[1]))]) for x in (V, K, cam_fps))
    d_cam, d_alg, d_pri, d_fps, d_min, d_head = (_pad(x, dp, 0) for x in (d_cam, d_alg, d_pri, d_fps, d_min, d_head))
    return Model(inst, w_compute, w_memory, w_node, nodes, c_frame, c_pin, seg_s, seg_e, d_cam,
                 d_alg, d_pri, d_fps, d_min, d_head, a_mem, inst.backbone.memory_mib, levels, V, K, cam_fps,
                 list(cams), [w.id for w in workers], np.ones(len(workers), dtype=bool), list(inst.jobs), len(cams),
                 n, node_ix, {c.id: i for i, c in enumerate(cams)}, alg_ix, a_head)


def _pad(arr: np.ndarray, extra: int, fillv) -> np.ndarray:
    out = np.full(len(arr) + extra, fillv, dtype=arr.dtype)
    out[:len(arr)] = arr
    return out


def ladder(levels, d_cam, d_pri, d_fps, d_min, d_head, c_frame, start):
    """(V, K, cam_fps), each (C, L): value, compute and camera fps of every camera at every level."""
    C, L = len(c_frame), len(levels)
    V = np.zeros((C, L))
    K = np.zeros((C, L))
    cam_fps = np.zeros((C, L))
    nonempty = start[1:] > start[:-1]
    for j, f in enumerate(levels):
        fd = np.where(d_min <= f, np.minimum(d_fps, f), 0.0)
        V[:, j] = np.bincount(d_cam, weights=d_pri * fd / d_fps, minlength=C)
        heads = np.bincount(d_cam, weights=d_head * fd, minlength=C)
        if len(fd):
            top = np.zeros(C)
            top[nonempty] = np.maximum.reduceat(fd, start[:-1][nonempty])
            cam_fps[:, j] = top
        K[:, j] = c_frame * cam_fps[:, j] + heads
    return V, K, cam_fps


def ladder_rows(m: Model, cams: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(V, K, cam_fps) rows of camera slots ``cams``, recomputed from their demand segments."""
    cams = np.asarray(cams, dtype=np.int64)
    lens = m.end[cams] - m.start[cams]
    csr = np.zeros(len(cams) + 1, dtype=np.int64)
    np.cumsum(lens, out=csr[1:])
    idx = np.repeat(m.start[cams] - csr[:-1], lens) + np.arange(int(csr[-1]))
    local = np.repeat(np.arange(len(cams), dtype=np.int64), lens)
    return ladder(m.levels, local, m.d_pri[idx], m.d_fps[idx], m.d_min[idx], m.d_head[idx], m.c_frame[cams], csr)


def screen(m: Model, lam: float) -> int:
    """Leave out demands whose own value per fps is below their head's compute at price
    ``lam`` (``priority / fps < lam * head_ms``): they lose value wherever they run. Their
    ``min_fps`` becomes infinite in the model (never granted); ladders are recomputed."""
    m.lam = lam
    if lam <= 0 or m.n_d == 0:
        return 0
    n = m.n_d
    out = m.d_pri[:n] / m.d_fps[:n] < lam * m.d_head[:n] * (1.0 - 1e-12)
    count = int(out.sum())
    if count:
        m.d_min[:n][out] = np.inf
        csr = np.r_[m.start[:m.n_cams], m.end[m.n_cams - 1] if m.n_cams else 0]
        m.V[:m.n_cams], m.K[:m.n_cams], m.cam_fps[:m.n_cams] = ladder(
            m.levels, m.d_cam[:n], m.d_pri[:n], m.d_fps[:n], m.d_min[:n], m.d_head[:n], m.c_frame[:m.n_cams], csr)
    return count


def choose_levels(V: np.ndarray, K: np.ndarray, lam: float) -> np.ndarray:
    """Per camera the level maximising V - lam*K, or -1 (not run) when no level gains."""
    if V.shape[1] == 0:
        return np.full(V.shape[0], -1)
    gain = V - lam * K
    best = np.argmax(gain, axis=1)
    ok = gain[np.arange(len(best)), best] > 1e-12
    return np.where(ok, best, -1)


def price(V: np.ndarray, K: np.ndarray, capacity: float, *, iters: int = 40) -> float:
    """The smallest price ``lam`` (value per ms/s) at which the chosen levels' total compute
    fits ``capacity``: the Lagrangian relaxation of the pooled compute constraint."""
    def load(lam: float) -> float:
        lv = choose_levels(V, K, lam)
        sel = lv >= 0
        return float(K[np.nonzero(sel)[0], lv[sel]].sum())

    if len(V) == 0 or load(0.0) <= capacity:
        return 0.0
    ratio = V / np.maximum(K, 1e-12)
    lo, hi = 0.0, float(ratio.max()) * 2 + 1e-9
    for _ in range(iters):
        mid = 0.5 * (lo + hi)
        if load(mid) > capacity:
            lo = mid
        else:
            hi = mid
    return hi
