"""The planner: place every camera's demands on the workers to maximise the objective.

Full plan, in four phases over numpy arrays (``_model``) and a packing state (``_pack``):

1. jobs first (they must run): largest first, each on the worker with the most free compute
   that holds it;
2. a price on compute: the smallest ``lam`` (value per ms/s) at which every camera, taking
   the rate level that maximises ``value - lam * compute``, fits the pooled free compute —
   so when compute is short, low-value demands lose rate (down to ``min_fps``) or drop out
   by their value per ms, the camera's decode and backbone counted once per frame; demands
   not worth their own head at that price are screened out; cameras pinned to a node get
   the node's own price when the pooled one oversubscribes it;
3. packing: pinned cameras on their node's workers, then the rest over all workers, in an
   order that puts cameras sharing algorithms next to each other (an algorithm's memory is
   paid once per worker), next-fit with a small window of open workers;
4. repair and fill: cameras that did not fit, and those priced out, are placed at the
   highest level that fits any worker (rates lowered before a demand is dropped; when
   memory ran out, the camera's most memory-costly demands are left out one by one), then
   placed cameras are raised to higher levels where their worker has room;
5. on instances up to ``PORTFOLIO_MAX_CAMERAS``, the same plan packed largest-first and
   both baselines are also computed and the best is kept (never worse than a baseline).

The entry point, ``scheduler.plan`` (``scheduler/planning.py``), chooses between a full plan
and an incremental one; ``plan(instance, previous=plan)`` re-plans incrementally: cameras keep their worker (at a
lower rate before moving, when their worker got fuller), only what no longer fits moves,
new and unserved cameras fill free room; ``migrations`` counts cameras that moved.
Deterministic: same input, same plan.

>>> from scheduler import plan
>>> from scheduler.families import tiny
>>> p = plan(tiny())
>>> sorted(a.camera for a in p.cameras), p.unserved
(['c0', 'c1', 'c2'], ())
"""
from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from scheduler._model import NO_ROOM, Model, choose_levels, ladder_rows, price, screen
from scheduler._pack import (
    Packing,
    balance,
    keep_algorithms,
    lowest_level,
    pack_grouped,
    pack_in_order,
    pack_grouped_by_value,
    worker_order,
)
from scheduler.result import CameraAssignment, Grant, JobPlacement, LazyRows, PlanResult, UnplacedJob, Unserved

log = logging.getLogger(__name__)

#: share of the pooled free compute the price targets (the rest absorbs packing losses)
TARGET_FILL = 0.99
#: up to this many cameras, plan() also tries other packings and the baselines and keeps the best
PORTFOLIO_MAX_CAMERAS = 3000


@dataclass(frozen=True, slots=True, eq=False)
class _State:
    """What a plan carries for the next incremental re-plan (private)."""

    model: Model
    packing: Packing
    lam: float
    base_gap: float  # 1 - objective / dual bound at the last full plan
    changes_since_full: int
    outputs: list  # camera slot -> (key, CameraAssignment | None, unserved records, value) or None
    head: _Head  # shared by the plans of one chain of fast incremental re-plans
    version: int  # this plan's place in that chain (only the newest may be patched)

    def reuse_by_id(self) -> dict:
        return {o[0][0].id: o for o in self.outputs if o is not None}


class _Head:
    """The newest version of a chain of plans sharing (and patching) one model."""

    __slots__ = ("version", "cache")

    def __init__(self) -> None:
        self.version = 0
        self.cache: dict = {}  # the incremental engine's per-chain caches (scheduler._engine)


def priced_plan(m: Model, packer) -> PlanResult:
    """One full plan of compiled model ``m`` with ``packer`` (phases 1-4 of the module doc)."""
    return _priced(m, packer)


def _priced(m: Model, packer) -> PlanResult:
    result, memory_short = _priced_once(m, packer)
    if memory_short and packer is pack_all and m.n_cameras <= PORTFOLIO_MAX_CAMERAS:
        # memory ran out: also pack grouping cameras by the algorithms they share, with all
        # algorithms or only those worth most per MiB fitting the pooled free memory (or 70 %
        # of it); keep the best (ties: the first)
        from scheduler._model import compile_instance

        free = float(m.w_memory.sum() - len(m.w_memory) * m.backbone_mib) - \
            sum(j.memory_mib for j in m.jobs if j is not None)
        for share in (None, 1.0, 0.7):
            for packer in (pack_grouped, pack_grouped_by_value):
                m2 = compile_instance(m.inst)
                if share is not None and keep_algorithms(m2, share * free) == 0:
                    continue
                other, _ = _priced_once(m2, packer)
                if other.objective > result.objective + 1e-9 * max(1.0, abs(result.objective)):
                    log.debug("full plan: %s (share %s) %.4f > %.4f", packer.__name__, share, other.objective,
                              result.objective)
                    result = other
    return result


def _priced_once(m: Model, packer) -> tuple[PlanResult, bool]:
    pk = Packing(m)
    place_jobs(pk)
    # cameras pinned to a node without a worker compete for nothing: they do not set the price
    pins = m.c_pin[:m.n_cams]
    ok = np.nonzero(~((pins >= 0) & ~np.isin(pins, m.w_node[m.w_alive])))[0]
    lam = price(m.V[ok], m.K[ok], float(pk.free_c.sum()) * TARGET_FILL)
    if screen(m, lam):  # demands not worth their own head at this price are left out, then re-priced
        lam = price(m.V[ok], m.K[ok], float(pk.free_c.sum()) * TARGET_FILL)
    chosen = choose_levels(m.V, m.K, lam)
    _price_pinned(pk, chosen, lam)
    failed = packer(pk, chosen)
    rest = [c for c in range(m.n_cameras) if pk.worker[c] < 0 and lowest_level(m, c) >= 0]
    held = fill(pk, rest, chosen, drop_for_memory=True)
    pk.upgrade(by_density(m, [c for c in range(m.n_cameras) if pk.worker[c] >= 0], pk.level))
    if m.n_cameras <= PORTFOLIO_MAX_CAMERAS:
        balance(pk)
    log.debug("full plan: %d cameras, lam=%.4g, %d failed first fit", m.n_cameras, lam, len(failed))
    memory_short = held > 0 or any(r.startswith("memory") for r in pk.reason.values()) or \
        bool((m.d_min[:m.n_d] == NO_ROOM).any())
    return build_result(pk, lam=lam, migrations=0, base_gap=None, changes=0), memory_short


def _price_pinned(pk: Packing, chosen: np.ndarray, lam: float) -> None:
    """Cameras pinned to a node compete for that node's compute alone: where the pooled price
    leaves them more than the node holds, they get the node's own (higher) price."""
    m = pk.m
    pins = m.c_pin[:m.n_cams]
    for node in sorted(set(pins[pins >= 0].tolist())):
        cams = np.nonzero(pins == node)[0]
        cap = float(pk.free_c[(m.w_node == node) & m.w_alive].sum()) * TARGET_FILL
        lam_n = price(m.V[cams], m.K[cams], cap)
        if lam_n > lam:
            chosen[cams] = choose_levels(m.V[cams], m.K[cams], lam_n)


def pack_decreasing(pk: Packing, chosen: np.ndarray) -> list[int]:
    """First fit, cameras by compute at their chosen level (largest first), workers largest first."""
    m = pk.m
    sel = np.nonzero(chosen >= 0)[0]
    order = sel[np.lexsort((sel, -m.K[sel, chosen[sel]]))]
    workers = worker_order(m).tolist()
    failed = []
    for c in order.tolist():
        lv = int(chosen[c])
        algs = m.algs_at(c, lv)
        pin = m.c_pin[c]
        for w in workers:
            if (pin == -1 or m.w_node[w] == pin) and pk.fits(c, lv, w, algs):
                pk.place(c, lv, w, algs)
                break
        else:
            failed.append(c)
    return failed


def place_jobs(pk: Packing, keep: dict[str, str] | None = None) -> None:
    """Jobs (they must run): kept where they were when they still fit, others largest first
    on the worker with the most free compute that holds them."""
    m = pk.m
    jobs = m.jobs
    w_ix = {w: i for i, w in enumerate(m.wids)}
    order = sorted(range(len(jobs)), key=lambda j: (-(jobs[j].compute_ms_per_s + jobs[j].memory_mib), jobs[j].id))
    todo = []
    for j in order:
        w = w_ix.get((keep or {}).get(jobs[j].id, ""), -1)
        if w >= 0 and pk.free_c[w] >= jobs[j].compute_ms_per_s and pk.free_m[w] >= jobs[j].memory_mib:
            _take_job(pk, j, w)
        else:
            todo.append(j)
    for j in todo:
        job = jobs[j]
        ok = np.nonzero((pk.free_c >= job.compute_ms_per_s) & (pk.free_m >= job.memory_mib) & m.w_alive)[0]
        if len(ok) == 0:
            continue
        _take_job(pk, j, int(ok[np.argmax(pk.free_c[ok])]))


def _take_job(pk: Packing, j: int, w: int) -> None:
    job = pk.m.jobs[j]
    pk.free_c[w] -= job.compute_ms_per_s
    pk.free_m[w] -= job.memory_mib
    pk.jobs[j] = w


def pack_all(pk: Packing, chosen: np.ndarray) -> list[int]:
    """Every granted camera by next fit (pinned ones on their node first)."""
    return pack_in_order(pk, chosen, pk.next_fit)


def by_density(m: Model, cams: list[int], levels: np.ndarray) -> list[int]:
    """Cameras by value per ms/s at ``levels`` (their top level where < 0), best first."""
    if not cams:
        return []
    c = np.asarray(cams, dtype=np.int64)
    lv = np.where(levels[c] >= 0, levels[c], m.V.shape[1] - 1)
    dens = m.V[c, lv] / np.maximum(m.K[c, lv], 1e-12)
    return c[np.lexsort((c, -dens))].tolist()


def fill(pk: Packing, cams: list[int], chosen: np.ndarray, *, drop_for_memory: bool = False) -> int:
    """Place ``cams`` (best value density first) at the highest level that fits anywhere,
    from their chosen level down to their lowest; record why for those that fit nowhere.
    ``drop_for_memory``: a camera that fitted only at a lower level while some worker had
    the compute for its chosen one (memory was short) also tries its chosen rates with its
    most memory-costly demands left out, and keeps whichever is worth more. Returns how
    many cameras memory held back."""
    m = pk.m
    top = m.V.shape[1] - 1
    held = 0
    for c in by_density(m, cams, chosen):
        low = lowest_level(m, c)
        start = int(chosen[c]) if chosen[c] >= 0 else top
        levels = [lv for lv in range(start, low - 1, -1) if m.V[c, lv] > 1e-12 and
                  (lv == start or m.K[c, lv] < m.K[c, lv + 1] - 1e-12)]
        if low < 0 or pk.free_c.max(initial=0.0) + 1e-9 < m.K[c, low] or not pk.best_fit(c, levels):
            pk.reason[c] = pk.diagnose(c)
            if pk.reason[c].startswith("memory"):
                held += 1
                _fit_by_dropping(pk, c)
        elif drop_for_memory and pk.level[c] < levels[0] and \
                (pk.free_c[pk.eligible(c)] + 1e-9 >= m.K[c, levels[0]]).any():
            held += 1
            _drop_if_better(pk, c)
    return held


def _drop_if_better(pk: Packing, c: int) -> None:
    """Camera ``c`` sits at a level lowered for memory: try leaving demands out instead
    (``_fit_by_dropping``); keep that when it is worth more, else put ``c`` back."""
    m = pk.m
    s, e = int(m.start[c]), int(m.end[c])
    lv, w = int(pk.level[c]), int(pk.worker[c])
    before = float(m.V[c, lv])
    saved = (m.d_min[s:e].copy(), m.V[c].copy(), m.K[c].copy(), m.cam_fps[c].copy())
    pk.remove(c)
    _fit_by_dropping(pk, c)
    if pk.worker[c] >= 0 and m.V[c, pk.level[c]] > before + 1e-12:
        return
    pk.remove(c)
    m.d_min[s:e], m.V[c], m.K[c], m.cam_fps[c] = saved
    pk.place(c, lv, w, m.algs_at(c, lv))
    pk.reason.pop(c, None)


#: how many of a camera's demands may be left out to make it fit a worker's memory
MAX_MEMORY_DROPS = 8


def _fit_by_dropping(pk: Packing, c: int) -> None:
    """Memory ran out for camera ``c``: leave out, one at a time, the demand whose algorithm
    adds the most memory per unit of value on the roomiest worker with the compute for it,
    until the rest fits somewhere (the left-out demands are unserved, reason ``memory``)."""
    m = pk.m
    s, e = int(m.start[c]), int(m.end[c])
    for _ in range(min(MAX_MEMORY_DROPS, e - s - 1)):
        low = lowest_level(m, c)
        if low < 0:
            return
        elig = pk.eligible(c)
        room = elig[pk.free_c[elig] + 1e-9 >= m.K[c, low]]
        if len(room) == 0:
            return
        w = int(room[np.argmax(pk.free_m[room])])
        live = np.arange(s, e)[np.isfinite(m.d_min[s:e]) & (m.d_min[s:e] < NO_ROOM)]
        if len(live) <= 1:
            return
        have = pk.algs[w]
        extra = np.array([0.0 if int(a) in have else m.a_mem[a] for a in m.d_alg[live]])
        if not extra.any():
            return
        worst = live[int(np.argmax(extra / (m.d_pri[live] / m.d_fps[live] * np.minimum(m.d_fps[live], 1.0))))]
        m.d_min[worst] = NO_ROOM
        V, K, F = ladder_rows(m, np.array([c]))
        m.V[c], m.K[c], m.cam_fps[c] = V[0], K[0], F[0]
        top = m.V.shape[1] - 1
        low = lowest_level(m, c)
        levels = [lv for lv in range(top, low - 1, -1) if low >= 0 and m.V[c, lv] > 1e-12 and
                  (lv == top or m.K[c, lv] < m.K[c, lv + 1] - 1e-12)]
        if levels and pk.best_fit(c, levels):
            return
        pk.reason[c] = pk.diagnose(c)
        if not pk.reason[c].startswith("memory"):
            return


def camera_output(pk: Packing, c: int, prev: tuple | None = None) -> tuple | None:
    """Camera slot ``c``'s outcome, compactly: (key, codes, value, price), where key is
    (camera record, level rate, worker id, reason when unplaced) and codes holds one int8 per
    demand (0 granted, 1 below its min_fps, 2 screened out by price, 3 left out for memory;
    None when the camera is unplaced). The plan's records are built from it when read, so a
    city-sized plan holds no per-demand Python objects. ``prev`` is reused when unchanged."""
    m = pk.m
    cam = m.cams[c]
    if cam is None:
        return None
    lv, w = int(pk.level[c]), int(pk.worker[c])
    if w < 0 and not cam.demands:
        return None
    f = float(m.levels[lv]) if w >= 0 else -1.0
    key = (cam, f, m.wids[w] if w >= 0 else None, None if w >= 0 else (pk.reason.get(c) or pk.diagnose(c)))
    if w < 0:
        return prev if prev is not None and prev[0] == key else (key, None, 0.0, m.lam)
    dmin = m.d_min[int(m.start[c]):int(m.end[c])]
    codes = np.where(dmin <= f, 0, np.where(dmin == NO_ROOM, 3, np.where(dmin == np.inf, 2, 1))).astype(np.int8)
    if prev is not None and prev[0] == key and prev[1] is not None and np.array_equal(prev[1], codes):
        return prev
    value = 0.0
    for d, code in zip(cam.demands, codes.tolist()):
        if code == 0:
            value += d.priority * (d.fps if d.fps <= f else f) / d.fps
    return key, codes, value, m.lam


def _assignment(out: tuple) -> CameraAssignment:
    (cam, f, wid, _), codes = out[0], out[1]
    grants = tuple(Grant(d.algorithm, d.fps if d.fps <= f else f)
                   for d, code in zip(cam.demands, codes.tolist()) if code == 0)
    return CameraAssignment(cam.id, wid, max(g.fps for g in grants), grants)


def _unserved(out: tuple) -> list[Unserved]:
    (cam, f, _, why), codes, lam = out[0], out[1], out[3]
    if codes is None:
        return [Unserved(cam.id, d.algorithm, why) for d in cam.demands]
    rows = []
    for d, code in zip(cam.demands, codes.tolist()):
        if code == 1:
            rows.append(Unserved(cam.id, d.algorithm, f"compute: the camera runs at {f:g} fps to fit the compute, "
                                                      f"below this demand's min_fps {d.min_fps:g}"))
        elif code == 2:
            rows.append(Unserved(cam.id, d.algorithm, f"compute: its value per ms of head is below the compute "
                                                      f"price ({lam:.3g}) while compute is short"))
        elif code == 3:
            rows.append(Unserved(cam.id, d.algorithm, "memory: left out so that the camera's other algorithms fit "
                                                      "a worker's memory"))
    return rows


def rows_of(outputs: list, memo: dict | None = None) -> tuple[LazyRows, LazyRows]:
    """The plan's camera and unserved rows, built from the per-slot outputs when first read.
    ``memo`` (a chain's cache): a slot output kept unchanged from an earlier plan of the chain
    keeps that plan's camera row instead of building (and validating) it again."""
    def cameras() -> list[CameraAssignment]:
        if memo is None:
            return [_assignment(o) for o in outputs if o is not None and o[1] is not None]
        rows = []
        for o in outputs:
            if o is None or o[1] is None:
                continue
            hit = memo.get(id(o))
            if hit is None or hit[0] is not o:  # the memo holds o, so its id is not reused meanwhile
                hit = memo[id(o)] = (o, _assignment(o))
            rows.append(hit[1])
        if len(memo) > 2 * len(rows) + 64:  # forget the rows of outputs no plan of the chain holds now
            keep = {id(o) for o in outputs if o is not None}
            for k in [k for k in memo if k not in keep]:
                del memo[k]
        return rows

    return LazyRows(cameras), LazyRows(lambda: [u for o in outputs if o is not None for u in _unserved(o)])


def job_rows(pk: Packing) -> tuple[tuple[JobPlacement, ...], tuple[UnplacedJob, ...]]:
    m = pk.m
    placed = tuple(JobPlacement(m.jobs[j].id, m.wids[w]) for j, w in sorted(pk.jobs.items()))
    unplaced = tuple(UnplacedJob(job.id, _job_reason(pk, job)) for j, job in enumerate(m.jobs)
                     if job is not None and j not in pk.jobs)
    return placed, unplaced


def build_result(pk: Packing, *, lam: float, migrations: int, base_gap: float | None, changes: int,
                 reuse: dict | None = None) -> PlanResult:
    """The plan's records from the packing. ``reuse`` (the previous plan's per-camera output,
    keyed by camera id) saves rebuilding the records of cameras whose record, rate and
    worker did not change."""
    m = pk.m
    reuse = reuse or {}
    outputs: list = [None] * m.n_cams
    objective = 0.0
    for c in range(m.n_cams):
        cam = m.cams[c]
        out = camera_output(pk, c, reuse.get(cam.id) if cam is not None else None)
        outputs[c] = out
        if out is not None:
            objective += out[2]
    jobs_out, unplaced = job_rows(pk)
    if base_gap is None:
        from scheduler.drift import dual_bound

        dual = dual_bound(m, lam)
        base_gap = 1.0 - objective / dual if dual > 0 else 0.0
    state = _State(m, pk, lam, base_gap, changes, outputs, _Head(), 0)
    cams, unserved = rows_of(outputs, state.head.cache.setdefault("rows", {}))
    return PlanResult(cams, jobs_out, unserved, objective, migrations, unplaced, _state=state)


def _job_reason(pk: Packing, job) -> str:
    alive = pk.m.w_alive
    if not alive.any():
        return "no worker: the instance has no workers"
    if (pk.m.w_compute[alive] < job.compute_ms_per_s).all():
        return f"compute: no worker has {job.compute_ms_per_s:g} ms/s in all"
    if (pk.m.w_memory[alive] < job.memory_mib).all():
        return f"memory: no worker has {job.memory_mib:g} MiB in all"
    return "compute: no worker has both the compute and the memory left after the other jobs"
