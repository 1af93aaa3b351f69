"""The packing state and the moves the planner makes on it (internal).

``Packing`` holds, per camera, its level and worker, and per worker its free compute, free
memory and how many of its cameras use each algorithm (an algorithm's memory is paid once
per worker, the backbone once per worker with any camera). Every move keeps each worker
within its limits, so any state is a valid plan.

Also here: the packing orders and fills (``worker_order``, ``similarity_order``, the grouped
packing for memory-short instances, ``keep_algorithms``) and ``balance`` (spreading for
headroom at the same levels).
"""
from __future__ import annotations

from collections import deque

import numpy as np

from scheduler._model import NO_ROOM, Model, ladder_rows

_EPS = 1e-9
WINDOW = 3


class Packing:
    __slots__ = ("m", "level", "worker", "free_c", "free_m", "hosted", "algs", "present", "reason", "jobs", "dirty")

    def __init__(self, m: Model) -> None:
        self.m = m
        self.level = np.full(len(m.c_frame), -1, dtype=np.int64)
        self.worker = np.full(len(m.c_frame), -1, dtype=np.int64)
        self.free_c = m.w_compute.copy()
        self.free_m = m.w_memory.copy()
        self.hosted = np.zeros(len(m.w_compute), dtype=np.int64)
        self.algs: list[dict[int, int]] = [{} for _ in range(len(m.w_compute))]
        self.present = np.zeros((len(m.w_compute), len(m.a_mem)), dtype=bool)  # algs[w] as a matrix
        self.reason: dict[int, str] = {}
        self.jobs: dict[int, int] = {}  # job slot -> worker
        self.dirty: dict[int, int] | None = None  # camera slot -> worker before the first move (when tracked)

    # ---- the two primitive moves --------------------------------------------------------
    def new_memory(self, w: int, algs: np.ndarray) -> float:
        have = self.algs[w]
        extra = sum(float(self.m.a_mem[a]) for a in algs.tolist() if a not in have)
        return extra + (self.m.backbone_mib if self.hosted[w] == 0 else 0.0)

    def fits(self, c: int, lv: int, w: int, algs: np.ndarray) -> bool:
        if not self.m.w_alive[w]:
            return False
        k = self.m.K[c, lv]
        if k > self.free_c[w] + _EPS * max(1.0, self.m.w_compute[w]):
            return False
        return self.new_memory(w, algs) <= self.free_m[w] + _EPS * max(1.0, self.m.w_memory[w])

    def place(self, c: int, lv: int, w: int, algs: np.ndarray) -> None:
        if self.dirty is not None and c not in self.dirty:
            self.dirty[c] = int(self.worker[c])
        self.free_m[w] -= self.new_memory(w, algs)
        self.free_c[w] -= self.m.K[c, lv]
        have = self.algs[w]
        for a in algs.tolist():
            have[a] = have.get(a, 0) + 1
        self.present[w, algs] = True
        self.hosted[w] += 1
        self.level[c], self.worker[c] = lv, w
        self.reason.pop(c, None)

    def remove(self, c: int) -> None:
        w, lv = int(self.worker[c]), int(self.level[c])
        if w < 0:
            return
        if self.dirty is not None and c not in self.dirty:
            self.dirty[c] = w
        have = self.algs[w]
        for a in self.m.algs_at(c, lv).tolist():
            have[a] -= 1
            if have[a] == 0:
                del have[a]
                self.present[w, a] = False
                self.free_m[w] += self.m.a_mem[a]
        self.free_c[w] += self.m.K[c, lv]
        self.hosted[w] -= 1
        if self.hosted[w] == 0:
            self.free_m[w] += self.m.backbone_mib
        self.level[c], self.worker[c] = -1, -1

    def eligible(self, c: int) -> np.ndarray:
        pin = self.m.c_pin[c]
        if pin == -1:
            return np.nonzero(self.m.w_alive)[0]
        return np.nonzero((self.m.w_node == pin) & self.m.w_alive)[0]

    # ---- phases ----------------------------------------------------------------------------
    def next_fit(self, cams: np.ndarray, levels: np.ndarray, workers: np.ndarray) -> list[int]:
        """Place ``cams`` (in order) at ``levels`` walking ``workers`` once, with a small
        window of open workers so neighbours in the order (similar cameras) share workers.
        Returns the cameras that did not fit."""
        window: deque[int] = deque(maxlen=WINDOW)
        ptr, failed = 0, []
        for c, lv in zip(cams.tolist(), levels.tolist()):
            algs = self.m.algs_at(c, lv)
            for w in reversed(window):
                if self.fits(c, lv, w, algs):
                    self.place(c, lv, w, algs)
                    break
            else:
                while ptr < len(workers):
                    w = int(workers[ptr])
                    ptr += 1
                    if self.fits(c, lv, w, algs):
                        window.append(w)
                        self.place(c, lv, w, algs)
                        break
                else:
                    failed.append(c)
        return failed

    def grouped_fit(self, cams: np.ndarray, levels: np.ndarray, workers: np.ndarray, *,
                    by_value: bool = False) -> list[int]:
        """Fill ``workers`` one at a time (in order) with ``cams`` at ``levels``, each time
        taking the camera that adds the least memory there (its algorithms the worker does
        not hold yet; ties: the best value per ms/s, then order), while one fits: cameras
        sharing algorithms end up together, so an algorithm's memory is paid on few workers.
        ``by_value``: take instead the camera using the least of the worker's free memory and
        compute (shares of what is left, summed) per unit of value: when memory is so short
        that not every group fits, the groups worth most per MiB go first.
        Work is O(cameras) per placement. Returns the cameras that did not fit."""
        m = self.m
        n = len(cams)
        if n == 0:
            return []
        algs = [m.algs_at(int(c), int(lv)) for c, lv in zip(cams.tolist(), levels.tolist())]
        owner = np.repeat(np.arange(n), [len(a) for a in algs])
        flat = np.concatenate(algs) if n else np.zeros(0, dtype=np.int64)
        by_alg = np.argsort(flat, kind="stable")
        alg_ptr = np.searchsorted(flat[by_alg], np.arange(len(m.a_mem) + 1))
        kk = m.K[cams, levels]
        value = np.maximum(m.V[cams, levels], 1e-12)
        dens = value / np.maximum(kk, 1e-12)
        placed = np.zeros(n, dtype=bool)
        prev = -1
        for w in workers.tolist():
            if not m.w_alive[w]:
                continue
            tol_c, tol_m = _EPS * max(1.0, m.w_compute[w]), _EPS * max(1.0, m.w_memory[w])
            need = np.bincount(owner, weights=m.a_mem[flat] * ~self.present[w, flat], minlength=n)
            if self.hosted[w] == 0:
                need += m.backbone_mib
            # a fresh worker starts where the previous one left off: its first camera is the one
            # adding the least memory to the previous worker (the group it was filling continues)
            key = need if prev < 0 or self.hosted[w] else \
                np.bincount(owner, weights=m.a_mem[flat] * ~self.present[prev, flat], minlength=n)
            prev = w
            while True:
                ok = np.nonzero(~placed & (kk <= self.free_c[w] + tol_c) & (need <= self.free_m[w] + tol_m))[0]
                if len(ok) == 0:
                    break
                if by_value:
                    score = (key[ok] / max(self.free_m[w], 1e-9) + kk[ok] / max(self.free_c[w], 1e-9)) / value[ok]
                    i = int(ok[np.lexsort((ok, -dens[ok], score))[0]])
                else:
                    i = int(ok[np.lexsort((ok, -dens[ok], key[ok]))[0]])
                key = need
                c, lv = int(cams[i]), int(levels[i])
                if not self.fits(c, lv, w, algs[i]):  # rounding: leave it to the repair phase
                    placed[i] = True
                    continue
                new = [a for a in np.unique(algs[i]).tolist() if not self.present[w, a]]
                first = self.hosted[w] == 0
                self.place(c, lv, w, algs[i])
                placed[i] = True
                for a in new:
                    need[owner[by_alg[alg_ptr[a]:alg_ptr[a + 1]]]] -= m.a_mem[a]
                if first:
                    need -= m.backbone_mib
        return [int(c) for c in cams.tolist() if self.worker[c] < 0]

    def best_fit(self, c: int, levels: list[int], *, tries: int = 24) -> bool:
        """Place ``c`` at the first of ``levels`` that fits some eligible worker: among the
        ``tries`` workers with the most free compute that have the compute, the one adding
        the least memory (ties: the most free compute)."""
        elig = self.eligible(c)
        if len(elig) == 0:
            return False
        m = self.m
        tol_c = _EPS * np.maximum(1.0, m.w_compute[elig])
        tol_m = _EPS * np.maximum(1.0, m.w_memory[elig])
        for lv in levels:
            ok = self.free_c[elig] + tol_c >= m.K[c, lv]
            if not ok.any():
                continue
            cand, cand_tol = elig[ok], tol_m[ok]
            if len(cand) > tries:
                top = np.argsort(-self.free_c[cand], kind="stable")[:tries]
                cand, cand_tol = cand[top], cand_tol[top]
            else:
                top = np.argsort(-self.free_c[cand], kind="stable")
                cand, cand_tol = cand[top], cand_tol[top]
            algs = m.algs_at(c, lv)
            mem = (~self.present[np.ix_(cand, algs)]).astype(float) @ m.a_mem[algs] + \
                np.where(self.hosted[cand] == 0, m.backbone_mib, 0.0)
            fit = mem <= self.free_m[cand] + cand_tol
            if fit.any():
                i = int(np.argmin(np.where(fit, mem, np.inf)))
                self.place(c, lv, int(cand[i]), algs)
                return True
        return False

    def upgrade(self, cams: list[int]) -> None:
        """Raise placed cameras to higher levels where their worker has room (rates first
        lowered to fit are given back when the packing left slack)."""
        m = self.m
        if not len(cams) or m.V.shape[1] == 0:
            return
        cs = np.asarray(cams, dtype=np.int64)
        ws, lvs = self.worker[cs], self.level[cs]
        tops = np.argmax(m.V[cs], axis=1)
        nxt = np.minimum(lvs + 1, m.V.shape[1] - 1)
        # K grows with the level: when even the next level's extra compute does not fit, none does
        extra = m.K[cs, nxt] - m.K[cs, np.maximum(lvs, 0)]
        ok = (ws >= 0) & (lvs < tops) & (extra <= self.free_c[ws] + _EPS * np.maximum(1.0, m.w_compute[ws]))
        for c, top_c in zip(cs[ok].tolist(), tops[ok].tolist()):
            w, lv = int(self.worker[c]), int(self.level[c])
            if w < 0 or lv >= top_c:
                continue
            for up in range(top_c, lv, -1):
                if m.V[c, up] <= m.V[c, lv] + 1e-12:
                    continue
                extra_k = m.K[c, up] - m.K[c, lv]
                if extra_k > self.free_c[w] + _EPS * max(1.0, m.w_compute[w]):
                    continue
                algs_up = m.algs_at(c, up)
                self.remove(c)
                if self.fits(c, up, w, algs_up):
                    self.place(c, up, w, algs_up)
                    break
                self.place(c, lv, w, m.algs_at(c, lv))

    def diagnose(self, c: int) -> str:
        """Why camera ``c`` found no place: the resource that ran out, first words fixed."""
        m = self.m
        pin = m.c_pin[c]
        if not m.w_alive.any():
            return "no worker: the instance has no workers"
        if pin >= 0 and not (m.w_alive & (m.w_node == pin)).any():
            node = m.cams[c].node
            return f"node pin: camera is pinned to node {node!r}, which has no worker"
        elig = self.eligible(c)
        lv = lowest_level(m, c)
        if lv < 0:
            return "demand: no rate level gives this camera any value"
        k = m.K[c, lv]
        room = elig[self.free_c[elig] + _EPS * np.maximum(1.0, m.w_compute[elig]) >= k]
        where = f" on node {m.nodes[pin]!r}" if pin >= 0 else ""
        if len(room) == 0:
            most = float(self.free_c[elig].max()) if len(elig) else 0.0
            return (f"compute: no worker{where} has {k:.1f} ms/s free for this camera even at "
                    f"{m.cam_fps[c, lv]:g} fps (most free: {most:.1f} ms/s)")
        algs = m.algs_at(c, lv)
        need = min(self.new_memory(int(w), algs) for w in room[:64])
        most = float(self.free_m[room].max())
        return (f"memory: no worker{where} with the compute also has {need:.0f} MiB free for its backbone and "
                f"algorithms (most free: {most:.0f} MiB)")


def lowest_level(m: Model, c: int) -> int:
    """The lowest level at which camera ``c`` grants anything, or -1."""
    row = m.V[c]
    nz = np.nonzero(row > 1e-12)[0]
    return int(nz[0]) if len(nz) else -1


def similarity_order(m: Model, cams: np.ndarray) -> np.ndarray:
    """Cameras ordered so that those sharing algorithms are neighbours: by their algorithms
    ranked from the most used down (lexicographic on the first four)."""
    if len(cams) == 0:
        return cams
    freq = np.bincount(m.d_alg[:m.n_d], minlength=len(m.a_mem))
    rank = np.empty(len(freq), dtype=np.int64)
    rank[np.lexsort((np.arange(len(freq)), -freq))] = np.arange(len(freq))
    n_keys = 4
    keys = np.full((len(cams), n_keys), len(freq), dtype=np.int64)
    for i, c in enumerate(cams.tolist()):
        s, e = m.start[c], m.end[c]
        r = np.sort(rank[m.d_alg[s:e]])[:n_keys]
        keys[i, :len(r)] = r
    order = np.lexsort(tuple(keys[:, j] for j in range(n_keys - 1, -1, -1)))
    return cams[order]


def keep_algorithms(m: Model, budget_mib: float) -> int:
    """Memory is short everywhere: keep the algorithms worth most per MiB (the value of all
    their demands at full rate, greedily, skipping one that does not fit) whose memory sums
    to at most ``budget_mib``; the other algorithms' demands are left out (``NO_ROOM``,
    reason ``memory``) and the ladders recomputed. Returns the number of demands left out."""
    n = m.n_d
    live = (m.d_min[:n] < NO_ROOM) & np.isfinite(m.d_min[:n])
    A = len(m.a_mem)
    value = np.bincount(m.d_alg[:n][live], weights=m.d_pri[:n][live], minlength=A)
    used = np.nonzero(value > 0)[0]
    if float(m.a_mem[used].sum()) <= budget_mib:
        return 0
    dens = value[used] / np.maximum(m.a_mem[used], 1e-12)
    keep = np.zeros(A, dtype=bool)
    left = budget_mib
    for a in used[np.lexsort((used, -dens))].tolist():
        if m.a_mem[a] <= left:
            keep[a] = True
            left -= m.a_mem[a]
    out = live & ~keep[m.d_alg[:n]]
    m.d_min[:n][out] = NO_ROOM
    cams = np.arange(m.n_cams)
    m.V[cams], m.K[cams], m.cam_fps[cams] = ladder_rows(m, cams)
    return int(out.sum())


def worker_order(m: Model) -> np.ndarray:
    """Largest workers first (stable: instance order among equals)."""
    return np.lexsort((np.arange(len(m.w_compute)), -m.w_memory, -m.w_compute))


def pack_in_order(pk: Packing, chosen: np.ndarray, fit) -> list[int]:
    """The cameras granted a level (``chosen >= 0``) in similarity order, pinned ones on their
    node's workers first, the rest on every worker, each group placed by ``fit(cams, levels,
    workers)`` (a :class:`Packing` fit); the cameras that did not fit."""
    m = pk.m
    sel = np.nonzero(chosen >= 0)[0]
    order = similarity_order(m, sel)
    workers = worker_order(m)
    failed: list[int] = []
    pins = m.c_pin[order]
    for node in sorted(set(pins[pins >= 0].tolist())):
        cams = order[pins == node]
        failed += fit(cams, chosen[cams], workers[m.w_node[workers] == node])
    free = order[pins == -1]
    failed += fit(free, chosen[free], workers)
    return failed


def pack_grouped(pk: Packing, chosen: np.ndarray, *, by_value: bool = False) -> list[int]:
    """Like :func:`pack_all` (pinned cameras on their node first), but each worker is filled
    with the cameras adding the least memory to it (``Packing.grouped_fit``): for instances
    where the algorithms' memory, not compute, is what runs out."""
    return pack_in_order(pk, chosen, lambda cams, levels, workers: pk.grouped_fit(cams, levels, workers, by_value=by_value))


def pack_grouped_by_value(pk: Packing, chosen: np.ndarray) -> list[int]:
    """:func:`pack_grouped` taking the camera that uses the least free memory and compute
    per unit of value (when not every group of cameras can have its algorithms)."""
    return pack_grouped(pk, chosen, by_value=True)


def balance(pk: Packing, *, max_moves: int | None = None) -> int:
    """Spread placed cameras for headroom where the packing left room: move a camera from the
    most loaded worker (share of its compute) to the least loaded one that holds it, at the same
    level, while that lowers the larger of the two loads. Levels do not change, so the objective
    does not either; but a worker filled to the brim has no headroom for a burst, and a lost node
    takes every camera it holds with it. Returns the number of moves (deterministic)."""
    m = pk.m
    alive = np.nonzero(m.w_alive)[0]
    if len(alive) < 2:
        return 0
    cap = np.maximum(m.w_compute, 1e-9)
    moves, limit = 0, m.n_cameras if max_moves is None else max_moves
    while moves < limit:
        load = (m.w_compute - pk.free_c) / cap
        hi = int(alive[np.argmax(load[alive])])
        order = alive[np.argsort(load[alive], kind="stable")]
        cams = np.nonzero(pk.worker[:m.n_cameras] == hi)[0]
        if len(cams) < 2:  # one camera (or none) on the busiest worker: nothing to spread
            break
        ks = np.array([m.K[c, pk.level[c]] for c in cams])
        moved = False
        for lo in order.tolist():
            if lo == hi:
                break
            for c in cams[np.argsort(ks, kind="stable")].tolist():
                pin = m.c_pin[c]
                if pin != -1 and m.w_node[lo] != pin:
                    continue
                lv = int(pk.level[c])
                k = m.K[c, lv]
                if max(load[hi] - k / cap[hi], load[lo] + k / cap[lo]) >= load[hi] - 1e-9:
                    continue
                algs = m.algs_at(c, lv)
                if pk.fits(c, lv, lo, algs):
                    pk.remove(c)
                    pk.place(c, lv, lo, algs)
                    moves, moved = moves + 1, True
                    break
            if moved:
                break
        if not moved:
            break
    return moves
