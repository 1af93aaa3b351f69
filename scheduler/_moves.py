"""The incremental engine's moves on a packing (internal): what ``scheduler._engine`` does
to the cameras a change touches, each in a few numpy passes per camera or per change.

* ``stay``: a changed camera keeps its worker at the highest rate not above its previous one;
* ``place_job``: a new job goes where there is room, or moves the least valuable cameras off;
* ``repair``: an over-full worker lowers, then moves off, its least valuable cameras;
* ``fill_moved``: cameras that must move pick a worker in one numpy pass each;
* ``raise_rates``: a bounded raise of rates where room appeared;
* ``output``: a camera's compact plan outcome, its value read from the ladder.
"""
from __future__ import annotations

import numpy as np

from scheduler._model import NO_ROOM, Model
from scheduler._pack import Packing, lowest_level
from scheduler.planner import _fit_by_dropping, by_density

EPS = 1e-9
_EPS = EPS
#: unserved cameras that try the room a change freed (the most valuable per ms)
_CANDIDATES = 16
#: cameras a re-plan tries to raise to a higher rate where room appeared (best value density
#: first); what is left over stays for later changes and the background full re-plan
RAISE_TRIES = 64
#: workers a camera that must move chooses among first: the ones with the most free compute
_TRIES = 24
#: cameras per re-plan that may leave out demands to fit a worker's memory (each costs a few ms)
_DROP_TRIES = 8


def cameras_on(m: Model, pk: Packing, workers) -> np.ndarray:
    """Camera slots placed on any of ``workers`` (one pass over the cameras, no sort)."""
    mask = np.zeros(len(pk.free_c) + 1, dtype=bool)  # the extra last entry: worker -1 (unplaced)
    mask[np.fromiter(workers, dtype=np.int64)] = True
    return np.flatnonzero(mask[pk.worker[:m.n_cams]])


def stay(m: Model, pk: Packing, c: int, w: int, fps: float) -> bool:
    """Keep camera ``c`` on worker ``w`` at the highest level not above ``fps`` that fits."""
    if m.c_pin[c] != -1 and m.c_pin[c] != m.w_node[w]:
        return False
    ok = np.nonzero((m.cam_fps[c] <= fps + _EPS) & (m.V[c] > 1e-12))[0]
    for lv in ok[::-1].tolist():
        algs = m.algs_at(c, lv)
        if pk.fits(c, lv, w, algs):
            pk.place(c, lv, w, algs)
            return True
    return False


def place_job(m: Model, pk: Packing, j: int) -> tuple[int, list[int]]:
    """A job must run: on the worker with the most free compute that holds it, or else on the
    alive worker with the most capacity for it, moving its least valuable cameras off."""
    job = m.jobs[j]
    alive = m.w_alive
    ok = np.nonzero((pk.free_c >= job.compute_ms_per_s) & (pk.free_m >= job.memory_mib) & alive)[0]
    if len(ok):
        w = int(ok[np.argmax(pk.free_c[ok])])
    else:
        # room left once every camera is gone: capacity minus the other jobs there
        jc = np.zeros(len(alive))
        jm = np.zeros(len(alive))
        for jj, ww in pk.jobs.items():
            jc[ww] += m.jobs[jj].compute_ms_per_s
            jm[ww] += m.jobs[jj].memory_mib
        room = np.nonzero(alive & (m.w_compute - jc >= job.compute_ms_per_s) & (m.w_memory - jm >= job.memory_mib))[0]
        if len(room) == 0:
            return -1, []
        w = int(room[np.argmax(pk.free_c[room])])
    evicted = []
    cams = by_density(m, np.nonzero(pk.worker[:m.n_cams] == w)[0].tolist(), pk.level)[::-1]
    for c in cams:
        if pk.free_c[w] >= job.compute_ms_per_s and pk.free_m[w] >= job.memory_mib:
            break
        pk.remove(c)
        evicted.append(c)
    pk.free_c[w] -= job.compute_ms_per_s
    pk.free_m[w] -= job.memory_mib
    pk.jobs[j] = w
    return w, evicted


def repair(m: Model, pk: Packing, w: int, cams: np.ndarray, dens: np.ndarray) -> list[int]:
    """Worker ``w`` over its limits (a cost grew): lower the rates of its least valuable
    cameras (of ``cams``, its cameras, by value density ``dens``), each as far as needed, down
    to its lowest level; only if the worker is still over with all of them lowered, take
    cameras off, least valuable first (they must move). Returns those taken off. The order is
    sorted only when lowering the least valuable camera is not enough (the common case)."""
    tol_c = _EPS * max(1.0, m.w_compute[w])
    tol_m = _EPS * max(1.0, m.w_memory[w])

    def fits() -> bool:
        return pk.free_c[w] >= -tol_c and pk.free_m[w] >= -tol_m

    if fits() or len(cams) == 0:
        return []
    worst = cams[dens == dens.min()].max()  # least valuable (ties: the last slot, as the full order has it)
    if _lower(m, pk, w, int(worst)) and fits():
        return []
    order = cams[np.lexsort((-cams, dens))].tolist()
    for c in order:
        if fits():
            return []
        _lower(m, pk, w, c)
    evicted = []
    for c in order:
        if fits():
            break
        pk.remove(c)
        evicted.append(c)
    return evicted


def lower_worst(m: Model, pk: Packing, over: np.ndarray, cams: np.ndarray, dens: np.ndarray, lo: np.ndarray,
                hi: np.ndarray, passes: int = 8) -> np.ndarray:
    """``repair``'s lowering for every over-full worker at once, one camera per worker per
    pass (least value density first): where the worker is over in compute only, its next
    least valuable camera goes to the highest lower level that makes the worker fit, or to
    its lowest level and the next pass takes the next camera. A lower level grants a subset
    of the demands, so memory only falls: the algorithms no longer granted are released as
    ``remove`` + ``place`` would. ``cams`` holds the over-full workers' cameras grouped by
    worker (``over[i]``'s in ``lo[i]:hi[i]``). Returns which workers now fit; ``repair`` goes
    on camera by camera with the others (the cameras lowered here stay lowered)."""
    done = np.zeros(len(over), dtype=bool)
    L = m.V.shape[1]
    tol_c = _EPS * np.maximum(1.0, m.w_compute[over])
    simple = (hi > lo) & (pk.free_m[over] >= -_EPS * np.maximum(1.0, m.w_memory[over])) & (pk.free_c[over] < -tol_c)
    idx = np.flatnonzero(simple)
    if len(idx) == 0 or L < 2:
        return done
    sizes = hi[idx] - lo[idx]
    seg = np.r_[0, np.cumsum(sizes)[:-1]]
    grp = np.repeat(np.arange(len(idx)), sizes)
    pos = np.repeat(lo[idx] - seg, sizes) + np.arange(int(sizes.sum()))
    cam, d = cams[pos], dens[pos].astype(float)
    active = np.ones(len(idx), dtype=bool)
    levels = np.arange(L)[None, :]
    for _ in range(passes):
        least = np.minimum.reduceat(d, seg)
        active &= np.isfinite(least)
        g = np.flatnonzero(active)
        if len(g) == 0:
            break
        pick = np.maximum.reduceat(np.where(d == least[grp], np.arange(len(d)), -1), seg)[g]  # ties: the highest slot
        c, w = cam[pick], over[idx[g]]
        d[pick] = np.inf  # taken: the next pass looks at the next camera
        lv = pk.level[c]
        k, v = m.K[c], m.V[c]
        drop = k[np.arange(len(c)), lv][:, None] - k  # compute freed by going down to each level
        below = (levels < lv[:, None]) & (v > 1e-12)
        down = np.where(below & (drop >= (-pk.free_c[w] - tol_c[idx[g]])[:, None]), levels, -1).max(axis=1)
        fixed = down >= 0
        # not enough: to its lowest level (when it is not there yet), then the next camera
        new = np.where(fixed, down, np.where(below.any(axis=1), np.argmax(below, axis=1), lv))
        _set_levels(m, pk, c, w, lv, new)
        done[idx[g[fixed]]] = True
        active[g[fixed]] = False
    return done


def _set_levels(m: Model, pk: Packing, c: np.ndarray, w: np.ndarray, old: np.ndarray, new: np.ndarray) -> None:
    """Cameras ``c`` (one per worker ``w``) from levels ``old`` down to ``new`` in place: free
    compute back, and the algorithms of the demands no longer granted released."""
    move = np.flatnonzero(new < old)
    if len(move) == 0:
        return
    c, w, old, new = c[move], w[move], old[move], new[move]
    lens = m.end[c] - m.start[c]
    dpos = np.repeat(m.start[c] - np.r_[0, np.cumsum(lens)[:-1]], lens) + np.arange(int(lens.sum()))
    owner = np.repeat(np.arange(len(c)), lens)
    dmin = m.d_min[dpos]
    gone = np.flatnonzero((dmin > m.levels[new][owner]) & (dmin <= m.levels[old][owner]))
    for o, a in zip(owner[gone].tolist(), m.d_alg[dpos[gone]].tolist()):
        wo = int(w[o])
        have = pk.algs[wo]
        have[a] -= 1
        if have[a] == 0:
            del have[a]
            pk.present[wo, a] = False
            pk.free_m[wo] += m.a_mem[a]
    if pk.dirty is not None:
        for c_i, w_i in zip(c.tolist(), w.tolist()):
            pk.dirty.setdefault(c_i, w_i)
    pk.free_c[w] += m.K[c, old] - m.K[c, new]  # one camera per worker: no repeated index
    pk.level[c] = new


def _lower(m: Model, pk: Packing, w: int, c: int) -> bool:
    """Lower camera ``c`` on ``w`` to the highest lower level that lets ``w`` fit, else to its
    lowest level. False when it already runs at its lowest."""
    lv, low = int(pk.level[c]), lowest_level(m, c)
    if lv <= low:
        return False
    pk.remove(c)
    for down in range(lv - 1, low - 1, -1):
        algs = m.algs_at(c, down)
        if m.V[c, down] > 1e-12 and pk.fits(c, down, w, algs):
            pk.place(c, down, w, algs)
            return True
    pk.place(c, low, w, m.algs_at(c, low))  # even its lowest level leaves the worker over
    return True


def unserved_candidates(m: Model, pk: Packing, skip: set[int]) -> list[int]:
    """The most valuable unplaced cameras (by value per ms at their top level)."""
    n = m.n_cams
    top = m.V.shape[1] - 1
    mask = (pk.worker[:n] < 0) & (m.V[:n, top] > 1e-12)
    idx = np.nonzero(mask)[0]
    if len(idx) == 0:
        return []
    dens = m.V[idx, top] / np.maximum(m.K[idx, top], 1e-12)
    pick = idx[np.argsort(-dens, kind="stable")[:_CANDIDATES]]
    return [c for c in pick.tolist() if c not in skip]


def raise_rates(m: Model, pk: Packing, workers: set[int], extra: np.ndarray | None = None,
                tries: int = RAISE_TRIES) -> None:
    """Raise cameras on ``workers`` (those whose free room grew) and the cameras ``extra``
    (whose own compute fell) to higher rates where their worker has room: candidates found in numpy (the next level's extra compute fits), then at
    most ``tries`` of them, best value density first, each to the highest level that fits.
    A camera is only moved in the packing when its raise fits (no spurious rebuilds)."""
    if (not workers and (extra is None or not len(extra))) or m.V.shape[1] < 2:
        return
    if extra is not None and len(extra):
        mask = np.zeros(m.n_cams, dtype=bool)  # a mask, not a sort: the union stays O(cameras)
        mask[extra[pk.worker[extra] >= 0]] = True
        if workers:
            mask[cameras_on(m, pk, workers)] = True
        cs = np.flatnonzero(mask)
    else:
        cs = cameras_on(m, pk, workers)
    if len(cs) == 0:
        return
    top = m.V.shape[1] - 1
    ws, lvs = pk.worker[cs], pk.level[cs]
    nxt = np.minimum(lvs + 1, top)
    room = pk.free_c[ws] + _EPS * np.maximum(1.0, m.w_compute[ws])
    # V and K grow with the level: a higher level is worth trying only if the top is worth
    # more and the next level's extra compute fits
    ok = (lvs < top) & (m.V[cs, top] > m.V[cs, lvs] + 1e-12) & (m.K[cs, nxt] - m.K[cs, lvs] <= room)
    cand = cs[ok]
    if len(cand) == 0:
        return
    for c in by_density(m, cand.tolist(), pk.level)[:tries]:
        w, lv = int(pk.worker[c]), int(pk.level[c])
        free_c = pk.free_c[w] + _EPS * max(1.0, m.w_compute[w])
        free_m = pk.free_m[w] + _EPS * max(1.0, m.w_memory[w])
        v, k = m.V[c], m.K[c]
        for up in range(top, lv, -1):
            if v[up] <= v[lv] + 1e-12 or k[up] - k[lv] > free_c:
                continue
            algs_up = m.algs_at(c, up)
            if pk.new_memory(w, algs_up) <= free_m:  # c's own algorithms at lv are already held
                pk.remove(c)
                pk.place(c, up, w, algs_up)
                break


def fill_moved(pk: Packing, cams: list[int], chosen: dict[int, int], *, try_only: bool = False,
               stale: list | None = None) -> None:
    """Place ``cams`` (best value density first) at the highest level that fits some worker,
    from their chosen level down to their lowest. The workers that have the compute and the
    memory at each level are found in one numpy pass per camera (its algorithms' missing
    memory on every eligible worker, times which demands each level grants); among them, of
    the ``_TRIES`` with most free compute, the one adding least memory (ties: most free
    compute). Those that fit nowhere get a reason and, when memory ran out, their most
    memory-costly demands are left out as in a full plan (for at most ``_DROP_TRIES``
    cameras per re-plan, the rest stay unserved with the reason), unless ``try_only``;
    ``stale`` collects the cameras whose ladders that changed."""
    if not cams:
        return
    m = pk.m
    top = m.V.shape[1] - 1
    tol_c = _EPS * np.maximum(1.0, m.w_compute)
    tol_m = _EPS * np.maximum(1.0, m.w_memory)
    elig_of: dict[int, _Roomiest] = {}
    levels = np.full(len(m.c_frame), -1, dtype=np.int64)
    idx = np.fromiter(chosen, dtype=np.int64, count=len(chosen))
    levels[idx] = np.fromiter(chosen.values(), dtype=np.int64, count=len(chosen))
    drops = 0
    for c in by_density(m, cams, levels):
        low = lowest_level(m, c)
        pin = int(m.c_pin[c])
        room = elig_of.get(pin)
        if room is None:
            room = elig_of[pin] = _Roomiest(pk.eligible(c))
        if low >= 0 and len(room.elig) and _best_fit(pk, c, room, low, top if chosen.get(c, -1) < 0 else chosen[c],
                                                     tol_c, tol_m):
            continue
        if not try_only:
            pk.reason[c] = pk.diagnose(c)
            if pk.reason[c].startswith("memory") and drops < _DROP_TRIES:
                drops += 1
                _fit_by_dropping(pk, c)
                if stale is not None:  # its ladder changed
                    stale.append(np.array([c], dtype=np.int64))


class _Roomiest:
    """The eligible workers with the most free compute, during one ``fill_moved``: free
    compute only falls while it places cameras, so leaders cached once stay the true leaders
    as long as ``_TRIES`` of them still have at least what the best worker left out had."""

    __slots__ = ("elig", "lead", "floor")

    def __init__(self, elig: np.ndarray) -> None:
        self.elig = elig
        self.lead: np.ndarray | None = None
        self.floor = -np.inf

    def top(self, pk: Packing, tol_c: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(the ``_TRIES`` workers with most free compute, their free compute)."""
        if self.lead is not None:
            fr = pk.free_c[self.lead] + tol_c[self.lead]
            ok = fr >= self.floor
            if int(ok.sum()) >= min(_TRIES, len(self.lead)):
                return _most(self.lead[ok], fr[ok])
        elig = self.elig
        free = pk.free_c[elig] + tol_c[elig]
        if len(elig) <= 2 * _TRIES:
            self.lead, self.floor = elig, -np.inf
        else:
            part = np.argpartition(-free, 2 * _TRIES)
            self.lead, self.floor = elig[part[:2 * _TRIES]], float(free[part[2 * _TRIES]])
        return _most(elig, free)


def _most(cand: np.ndarray, fr: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    if len(cand) <= _TRIES:
        return cand, fr
    pick = np.argpartition(-fr, _TRIES - 1)[:_TRIES]
    return cand[pick], fr[pick]


def _best_fit(pk: Packing, c: int, room: _Roomiest, low: int, start: int, tol_c: np.ndarray,
              tol_m: np.ndarray) -> bool:
    """Place camera ``c`` at the highest of its levels ``start..low`` that fits: first among
    the ``_TRIES`` eligible workers with most free compute (the full planner's choice), then,
    if none of them has the memory at any level, among every worker with the compute."""
    m = pk.m
    v, k = m.V[c], m.K[c]
    lvls = [lv for lv in range(start, low - 1, -1)
            if v[lv] > 1e-12 and (lv == start or k[lv] < k[lv + 1] - 1e-12)]
    cand, fr = room.top(pk, tol_c)
    if _fit_among(pk, c, cand, fr, lvls, tol_m):
        return True
    elig = room.elig
    free = pk.free_c[elig] + tol_c[elig]
    feas = np.flatnonzero(free >= k[lvls[-1]])  # the compute for the lowest level tried
    if len(feas) <= len(cand) and np.isin(elig[feas], cand).all():
        return False  # every worker with the compute was among those tried
    return _fit_among(pk, c, elig[feas], free[feas], lvls, tol_m)


def _fit_among(pk: Packing, c: int, cand: np.ndarray, fr: np.ndarray, lvls: list[int], tol_m: np.ndarray) -> bool:
    """The first of ``lvls`` at which some of ``cand`` (free compute ``fr``) has the compute
    and the memory; there, the candidate adding least memory (ties: most free compute)."""
    m = pk.m
    s, e = int(m.start[c]), int(m.end[c])
    dal = m.d_alg[s:e]
    miss = (~pk.present[cand[:, None], dal]) * m.a_mem[dal]  # memory each demand's algorithm adds, per worker
    lv_arr = np.array(lvls)
    grants = np.less_equal.outer(m.d_min[s:e], m.levels[lv_arr]).astype(float)  # (demand, level) granted
    need = miss @ grants
    need[pk.hosted[cand] == 0] += m.backbone_mib
    ok = np.greater_equal.outer(fr, m.K[c, lv_arr]) & (need <= (pk.free_m[cand] + tol_m[cand])[:, None])
    anyok = ok.any(axis=0)
    if not anyok.any():
        return False
    j = int(np.argmax(anyok))
    sel = np.flatnonzero(ok[:, j])
    if len(sel) > _TRIES:
        sel = sel[np.argpartition(-fr[sel], _TRIES - 1)[:_TRIES]]
    ns = need[sel, j]
    tied = sel[ns == ns.min()]  # least memory added; ties: most free compute, then the first worker
    if len(tied) > 1:
        tied = tied[fr[tied] == fr[tied].max()]
    i = int(tied[np.argmin(cand[tied])])
    lv = lvls[j]
    pk.place(c, lv, int(cand[i]), m.algs_at(c, lv))
    return True


def output(m: Model, pk: Packing, c: int, prev: tuple | None) -> tuple | None:
    """Camera slot ``c``'s compact outcome, as ``planner.camera_output`` builds it (key, one
    int8 code per demand, value, price), its value read from the ladder (``V`` at its level is
    the sum of its granted demands' values) instead of a loop over its demands."""
    cam = m.cams[c]
    if cam is None:
        return None
    lv, w = int(pk.level[c]), int(pk.worker[c])
    if w < 0:
        if not cam.demands:
            return None
        key = (cam, -1.0, None, pk.reason.get(c) or pk.diagnose(c))
        return prev if prev is not None and prev[0] == key else (key, None, 0.0, m.lam)
    f = float(m.levels[lv])
    key = (cam, f, m.wids[w], None)
    dmin = m.d_min[int(m.start[c]):int(m.end[c])]
    codes = (dmin > f).astype(np.int8)  # 1: below its min_fps at this rate
    if codes.any():
        codes[dmin == np.inf] = 2  # screened out by the compute price
        codes[dmin == NO_ROOM] = 3  # left out for memory
    if prev is not None and prev[0] == key and prev[1] is not None and np.array_equal(prev[1], codes):
        return prev
    return key, codes, float(m.V[c, lv]), m.lam
