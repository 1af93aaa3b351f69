"""Fast incremental re-planning: patch the previous plan's own arrays with an instance's
:class:`~scheduler.instance.Delta` (internal).

Used when the new instance was made by ``previous_instance.replace(...)`` and ``previous``
is the newest plan of its chain (its model and packing are then patched in place and
handed to the new plan; an older plan of the chain takes the thorough path instead). The
work is proportional to what changed: the changed cameras, the cameras on a lost worker,
the cameras using an algorithm whose cost changed, plus a few numpy passes over cameras.
Large shocks (a lost or changed worker holding over ``MAX_SHOCK`` of the compute, a new
backbone) take the thorough path, which re-prices compute and lowers rates everywhere.
"""
from __future__ import annotations

import numpy as np

from scheduler._model import MAX_LEVELS, Model, choose_levels, ladder_rows
from scheduler._moves import (
    EPS,
    cameras_on,
    fill_moved,
    lower_worst,
    output,
    place_job,
    raise_rates,
    repair,
    stay,
    unserved_candidates,
)
from scheduler._pack import Packing
from scheduler._slots import Slots
from scheduler.instance import Delta, Instance
from scheduler.planner import _State, job_rows, rows_of
from scheduler.result import PlanResult

MAX_SHOCK = 0.05
_EPS = EPS


def fast_replan(instance: Instance, previous: PlanResult, delta: Delta) -> PlanResult | None:
    st = previous._state
    if st is None or st.head.version != st.version or delta.base() is not st.model.inst or delta.backbone_changed:
        return None
    m, pk = st.model, st.packing
    if len(delta.cameras_set) + len(delta.cameras_removed) > max(16.0, MAX_SHOCK * len(m.cam_slot)):
        return None  # many cameras changed at once: re-price on the whole instance
    if delta.cameras_set and len(m.levels) < MAX_LEVELS:
        rates = [x for cid in delta.cameras_set for d in instance.camera(cid).demands for x in (d.fps, d.min_fps)]
        if rates and not np.isin(rates, m.levels).all():
            return None  # a rate the model's level grid lacks: recompile it (a full grid keeps its levels)
    gone: list[int] = []
    if delta.workers_removed or delta.workers_set:
        wslot = {wid: i for i, wid in enumerate(m.wids) if m.w_alive[i]}
        gone = [wslot[w] for w in delta.workers_removed + delta.workers_set if w in wslot]
        if gone and m.w_compute[gone].sum() > MAX_SHOCK * m.w_compute[m.w_alive].sum():
            return None
    pk.dirty = {}
    touched_w: set[int] = set()  # workers whose load changed (checked for over-full)
    roomier: set[int] = set()  # workers whose free room grew (their cameras may be raised)
    to_place: list[int] = []
    raise_too: list[np.ndarray] = []  # cameras whose own compute fell (their rates may rise)
    job_todo: list[int] = []
    freed = False
    jslot = {j.id: i for i, j in enumerate(m.jobs) if j is not None} if delta.jobs_set or delta.jobs_removed else {}

    # jobs finished or changed: free their room
    for jid in delta.jobs_removed + tuple(j for j in delta.jobs_set if j in jslot):
        j = jslot[jid]
        w = pk.jobs.pop(j, None)
        if w is not None:
            pk.free_c[w] += m.jobs[j].compute_ms_per_s
            pk.free_m[w] += m.jobs[j].memory_mib
            roomier.add(w)
            freed = True
        m.jobs[j] = None
    # workers lost or changed: their cameras and jobs must go elsewhere
    for w in gone:
        # the worker goes away whole: its cameras come off in one pass (no per-camera release
        # of algorithm and backbone memory on a worker that is about to be dropped)
        on = np.flatnonzero(pk.worker[:m.n_cams] == w)
        for c in on.tolist():
            pk.dirty.setdefault(c, w)
        pk.worker[on] = pk.level[on] = -1
        pk.algs[w] = {}
        pk.present[w] = False
        pk.hosted[w] = 0
        to_place += on.tolist()
        for j, jw in sorted(pk.jobs.items()):
            if jw == w:
                del pk.jobs[j]
                job_todo.append(j)
        m.w_alive[w] = False
        pk.free_c[w] = pk.free_m[w] = 0.0
    for wid in delta.workers_set:  # added, or changed (re-added as a new slot under the same id)
        _add_worker(m, pk, instance.worker(wid))
        roomier.add(len(m.wids) - 1)
        freed = True
    # algorithms: new ones get a slot; a changed cost patches its demands and the workers running it
    for aid in delta.algorithms_set:
        spec = instance.algorithm(aid)
        a = m.alg_slot.get(aid)
        if a is None:
            m.alg_slot[aid] = len(m.a_mem)
            m.a_mem = np.append(m.a_mem, spec.memory_mib)
            m.a_head = np.append(m.a_head, spec.head_ms)
            pk.present = np.hstack([pk.present, np.zeros((len(pk.present), 1), dtype=bool)])
            continue
        grew, shrank, faster = _recost(m, pk, a, spec.head_ms, spec.memory_mib, st.head.cache)
        touched_w |= grew
        roomier |= shrank
        raise_too.append(faster)
        freed = freed or bool(shrank) or len(faster) > 0
    # cameras removed
    removed_slots: list[int] = []
    for cid in delta.cameras_removed:
        c = m.cam_slot.pop(cid)
        removed_slots.append(c)
        if pk.worker[c] >= 0:
            roomier.add(int(pk.worker[c]))
            pk.remove(c)
            freed = True
        pk.dirty.setdefault(c, -1)
        m.cams[c] = None
        m.V[c] = m.K[c] = m.cam_fps[c] = 0.0
        m.start[c] = m.end[c] = 0
    # cameras added or changed: new demand segment; a changed camera stays on its worker if it fits
    keep_on: list[tuple[int, int, float]] = []
    for cid in delta.cameras_set:
        spec = instance.camera(cid)
        c = m.cam_slot.get(cid)
        prev_w, prev_f = -1, 0.0
        if c is None:
            c = _new_camera_slot(m, pk)
            m.cam_slot[cid] = c
            pk.dirty.setdefault(c, -1)
        elif pk.worker[c] >= 0:
            prev_w, prev_f = int(pk.worker[c]), float(m.cam_fps[c, pk.level[c]])
            roomier.add(prev_w)
            pk.remove(c)
        _write_camera(m, c, spec)
        if prev_w >= 0:
            keep_on.append((c, prev_w, prev_f))
        else:
            to_place.append(c)
    for c, w, f in keep_on:
        if not stay(m, pk, c, w, f):
            to_place.append(c)
    # jobs started or changed
    for jid in delta.jobs_set:
        j = jslot.get(jid)
        if j is None:
            j = len(m.jobs)
            m.jobs.append(None)
        m.jobs[j] = instance.job(jid)
        job_todo.append(j)
    for j in job_todo:
        w, evicted = place_job(m, pk, j)
        to_place += evicted
        if evicted:
            roomier.add(w)
    # costs that grew: lower or evict the least valuable cameras until every worker fits
    if touched_w:
        tw = np.fromiter(sorted(touched_w), dtype=np.int64, count=len(touched_w))
        bad = (pk.free_c[tw] < -_EPS * np.maximum(1.0, m.w_compute[tw])) | \
            (pk.free_m[tw] < -_EPS * np.maximum(1.0, m.w_memory[tw]))
        over = tw[bad].tolist()
        if over:
            # the cameras of the over-full workers, grouped by worker (a radix sort of narrow
            # worker ids): repairs only take cameras off their own worker
            on = cameras_on(m, pk, over)
            narrow = pk.worker[on].astype(np.int16 if len(m.wids) < 2 ** 15 else np.int32)
            on = on[np.argsort(narrow, kind="stable")]
            ws = pk.worker[on]
            lv = pk.level[on]
            dens = m.V[on, lv] / np.maximum(m.K[on, lv], 1e-12)
            lo, hi = np.searchsorted(ws, over, side="left"), np.searchsorted(ws, over, side="right")
            done = lower_worst(m, pk, np.asarray(over), on, dens, lo, hi)  # the common case, in numpy
            for w, a, b, ok in zip(over, lo.tolist(), hi.tolist(), done.tolist()):
                if not ok:
                    to_place += repair(m, pk, w, on[a:b], dens[a:b])
            roomier.update(over)
    # place what must move (and new cameras) in free room; then unserved cameras where room was freed
    todo = sorted(set(c for c in to_place if m.cams[c] is not None))
    chosen: dict[int, int] = {}
    if todo:
        t = np.asarray(todo)
        chosen = dict(zip(todo, choose_levels(m.V[t], m.K[t], st.lam).tolist()))
    stale = st.head.cache.setdefault("stale", [])
    stale.append(np.fromiter((m.cam_slot[c] for c in delta.cameras_set), dtype=np.int64, count=len(delta.cameras_set)))
    stale.append(np.asarray(removed_slots, dtype=np.int64))
    fill_moved(pk, todo, chosen, stale=stale)
    if freed:
        cand = unserved_candidates(m, pk, set(todo))
        if cand:
            t = np.asarray(cand)
            fill_moved(pk, cand, dict(zip(cand, choose_levels(m.V[t], m.K[t], st.lam).tolist())), try_only=True)
            roomier.update(int(pk.worker[c]) for c in cand if pk.worker[c] >= 0)
    for c in todo:
        if pk.worker[c] >= 0 and pk.dirty.get(c, -1) < 0:
            roomier.add(int(pk.worker[c]))  # a new camera's own worker: raise it where room is left
    raise_rates(m, pk, roomier, np.concatenate(raise_too) if raise_too else None)
    # the plan's records: only the cameras that changed are rebuilt
    outputs = st.outputs.edit() if isinstance(st.outputs, Slots) else Slots.of(st.outputs)
    while len(outputs) < m.n_cams:
        outputs.append(None)
    objective = previous.objective
    migrations = 0
    redo = set(pk.dirty) | {m.cam_slot[c] for c in delta.cameras_set}
    for c in sorted(redo):
        old = outputs[c]
        new = output(m, pk, c, old)
        outputs[c] = new
        objective += (new[2] if new is not None else 0.0) - (old[2] if old is not None else 0.0)
        before = pk.dirty.get(c, -1)
        if before >= 0 and pk.worker[c] >= 0 and m.wids[before] != m.wids[int(pk.worker[c])]:
            migrations += 1
    pk.dirty = None
    m.inst = instance
    st.head.version += 1
    state = _State(m, pk, st.lam, st.base_gap, st.changes_since_full + 1, outputs, st.head, st.head.version)
    cams, unserved = rows_of(outputs, st.head.cache.setdefault("rows", {}))
    if delta.jobs_set or delta.jobs_removed or delta.workers_set or delta.workers_removed:
        jobs_out, unplaced = job_rows(pk)
    else:  # no job and no worker changed: the job rows are the previous plan's
        jobs_out, unplaced = previous.jobs, previous.unplaced_jobs
    return PlanResult(cams, jobs_out, unserved, objective, migrations, unplaced, _state=state)


def _add_worker(m: Model, pk: Packing, spec) -> None:
    if spec.node not in m.node_ix:
        m.node_ix[spec.node] = len(m.nodes)
        m.nodes.append(spec.node)
    m.w_compute = np.append(m.w_compute, spec.compute_ms_per_s)
    m.w_memory = np.append(m.w_memory, spec.memory_mib)
    m.w_node = np.append(m.w_node, m.node_ix[spec.node])
    m.w_alive = np.append(m.w_alive, True)
    m.wids.append(spec.id)
    pk.free_c = np.append(pk.free_c, spec.compute_ms_per_s)
    pk.free_m = np.append(pk.free_m, spec.memory_mib)
    pk.hosted = np.append(pk.hosted, 0)
    pk.algs.append({})
    pk.present = np.vstack([pk.present, np.zeros((1, pk.present.shape[1]), dtype=bool)])


def _recost(m: Model, pk: Packing, a: int, head_ms: float, memory_mib: float,
            cache: dict) -> tuple[set[int], set[int], np.ndarray]:
    """Algorithm ``a`` now costs ``head_ms`` and ``memory_mib``: patch its demands, the compute
    ladders of the cameras using it (by the difference: a head's compute is ``head_ms`` times
    its granted fps at each level; values and rates do not change) and the free room of the
    workers running it, in a few numpy passes. Returns (workers whose load grew, workers
    whose memory load shrank, placed cameras whose compute fell: the candidates for a raise)."""
    grew: set[int] = set()
    shrank: set[int] = set()
    d_mem = memory_mib - m.a_mem[a]
    m.a_mem[a] = memory_mib
    if d_mem:
        holders = np.flatnonzero(pk.present[:, a] & m.w_alive)
        pk.free_m[holders] -= d_mem
        (grew if d_mem > 0 else shrank).update(holders.tolist())
    dh = head_ms - m.a_head[a]
    m.a_head[a] = head_ms
    none = np.zeros(0, dtype=np.int64)
    if not dh:
        return grew, shrank, none
    dm = np.flatnonzero(_small_algs(m, cache) == a)
    m.d_head[dm] = head_ms
    cams = m.d_cam[dm]
    live = (dm >= m.start[cams]) & (dm < m.end[cams])  # a camera's current segment (not a replaced or removed one)
    dm, cams = dm[live], cams[live]
    if len(dm) == 0:
        return grew, shrank, none
    cache.setdefault("stale", []).append(cams)  # their ladders change: drift's cached gains too
    f = m.levels[None, :]
    fd = np.minimum(m.d_fps[dm, None], f)  # granted fps per level ...
    fd[m.d_min[dm, None] > f] = 0.0  # ... where the level grants the demand
    fd *= dh
    m.K[cams] += fd  # one demand per (camera, algorithm): cams are distinct
    placed = np.flatnonzero(pk.worker[cams] >= 0)
    if len(placed) == 0:
        return grew, shrank, none
    ws = pk.worker[cams[placed]]
    step = fd[placed, pk.level[cams[placed]]]
    pk.free_c -= np.bincount(ws, weights=step, minlength=len(pk.free_c))
    if dh > 0:
        grew.update(np.flatnonzero(np.bincount(ws[step != 0], minlength=len(pk.free_c))).tolist())
        return grew, shrank, none
    # cheaper: the freed room is theirs, and their own next levels cost less
    return grew, shrank, cams[placed]


def _small_algs(m: Model, cache: dict) -> np.ndarray:
    """The demands' algorithm slots in the narrowest integer type (a quarter of the bytes to
    scan for a cost change), kept per chain and extended as demands are appended (the demand
    store only grows at its end)."""
    dtype = np.int16 if len(m.a_mem) < 2 ** 15 else np.int32
    small, n = cache.get("d_alg"), cache.get("d_alg_n", 0)
    if small is None or small.dtype != dtype or len(small) < m.n_d:
        grown = np.zeros(len(m.d_alg), dtype=dtype)
        if small is not None and small.dtype == dtype:
            grown[:n] = small[:n]
        else:
            n = 0
        small = grown
    if n < m.n_d:
        small[n:m.n_d] = m.d_alg[n:m.n_d]
    cache["d_alg"], cache["d_alg_n"] = small, m.n_d
    return small[:m.n_d]


def _new_camera_slot(m: Model, pk: Packing) -> int:
    c = m.n_cams
    if c >= len(m.c_frame):  # grow by doubling: amortised O(1) per camera
        cap = max(16, 2 * len(m.c_frame))
        for name, fillv in (("c_frame", 0.0), ("c_pin", -1), ("start", 0), ("end", 0)):
            setattr(m, name, _grow(getattr(m, name), cap, fillv))
        for name in ("V", "K", "cam_fps"):
            old = getattr(m, name)
            new = np.zeros((cap, old.shape[1]))
            new[:len(old)] = old
            setattr(m, name, new)
        pk.level = _grow(pk.level, cap, -1)
        pk.worker = _grow(pk.worker, cap, -1)
    m.cams.append(None)
    m.n_cams += 1
    return c


def _grow(arr: np.ndarray, cap: int, fillv) -> np.ndarray:
    new = np.full(cap, fillv, dtype=arr.dtype)
    new[:len(arr)] = arr
    return new


def _write_camera(m: Model, c: int, spec) -> None:
    n = len(spec.demands)
    if m.n_d + n > len(m.d_alg):
        cap = max(64, 2 * (m.n_d + n))
        for name in ("d_cam", "d_alg", "d_pri", "d_fps", "d_min", "d_head"):
            setattr(m, name, _grow(getattr(m, name), cap, 0))
    s, e = m.n_d, m.n_d + n
    algs = np.fromiter((m.alg_slot[d.algorithm] for d in spec.demands), dtype=np.int64, count=n)
    m.d_alg[s:e] = algs
    m.d_pri[s:e] = [d.priority for d in spec.demands]
    m.d_fps[s:e] = [d.fps for d in spec.demands]
    m.d_min[s:e] = [d.min_fps for d in spec.demands]
    m.d_head[s:e] = m.a_head[algs]
    if m.lam > 0:  # screened like the last full plan's demands
        out = m.d_pri[s:e] / m.d_fps[s:e] < m.lam * m.d_head[s:e] * (1.0 - 1e-12)
        m.d_min[s:e][out] = np.inf
    m.d_cam[s:e] = c
    m.n_d = e
    m.start[c], m.end[c] = s, e
    m.c_frame[c] = spec.decode_ms + spec.backbone_ms
    if spec.node is not None and spec.node not in m.node_ix:
        m.node_ix[spec.node] = len(m.nodes)
        m.nodes.append(spec.node)
    m.c_pin[c] = -1 if spec.node is None else m.node_ix[spec.node]
    m.cams[c] = spec
    V, K, F = ladder_rows(m, np.array([c]))
    m.V[c], m.K[c], m.cam_fps[c] = V[0], K[0], F[0]
