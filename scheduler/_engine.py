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

from scheduler._model import Model, choose_levels, ladder_rows
from scheduler._pack import Packing, lowest_level
from scheduler.instance import Delta, Instance
from scheduler.planner import _State, by_density, camera_output, fill, job_rows, rows_of
from scheduler.result import PlanResult

MAX_SHOCK = 0.05
_EPS = 1e-9
_CANDIDATES = 16


def fast_replan(instance: Instance, previous: PlanResult, delta: Delta) -> PlanResult | None:
    st = previous._state
    if st is None or st.head.version != st.version or delta.base() is not st.model.inst or delta.backbone_changed:
        return None
    m, pk = st.model, st.packing
    wslot = {wid: i for i, wid in enumerate(m.wids) if m.w_alive[i]}
    gone = [wslot[w] for w in delta.workers_removed + delta.workers_set if w in wslot]
    if gone and m.w_compute[gone].sum() > MAX_SHOCK * m.w_compute[m.w_alive].sum():
        return None
    pk.dirty = {}
    touched_w: set[int] = set()
    to_place: list[int] = []
    job_todo: list[int] = []
    freed = False
    jslot = {j.id: i for i, j in enumerate(m.jobs) if j is not None}

    # jobs finished or changed: free their room
    for jid in delta.jobs_removed + tuple(j for j in delta.jobs_set if j in jslot):
        j = jslot[jid]
        w = pk.jobs.pop(j, None)
        if w is not None:
            pk.free_c[w] += m.jobs[j].compute_ms_per_s
            pk.free_m[w] += m.jobs[j].memory_mib
            touched_w.add(w)
            freed = True
        m.jobs[j] = None
    # workers lost or changed: their cameras and jobs must go elsewhere
    for w in gone:
        for c in np.nonzero(pk.worker[:m.n_cams] == w)[0].tolist():
            pk.remove(c)
            to_place.append(c)
        for j, jw in sorted(pk.jobs.items()):
            if jw == w:
                del pk.jobs[j]
                job_todo.append(j)
        m.w_alive[w] = False
        pk.free_c[w] = pk.free_m[w] = 0.0
    for wid in delta.workers_set:  # added, or changed (re-added as a new slot under the same id)
        _add_worker(m, pk, instance.worker(wid))
        touched_w.add(len(m.wids) - 1)
        freed = True
    # algorithms: new ones get a slot; a changed cost patches every demand and worker using it
    for aid in delta.algorithms_set:
        spec = instance.algorithm(aid)
        a = m.alg_slot.get(aid)
        if a is None:
            m.alg_slot[aid] = len(m.a_mem)
            m.a_mem = np.append(m.a_mem, spec.memory_mib)
            m.a_head = np.append(m.a_head, spec.head_ms)
            pk.present = np.hstack([pk.present, np.zeros((len(pk.present), 1), dtype=bool)])
            continue
        touched_w |= _recost(m, pk, a, spec.head_ms, spec.memory_mib)
    # cameras removed
    for cid in delta.cameras_removed:
        c = m.cam_slot.pop(cid)
        if pk.worker[c] >= 0:
            touched_w.add(int(pk.worker[c]))
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
            touched_w.add(prev_w)
            pk.remove(c)
        _write_camera(m, c, spec)
        if prev_w >= 0:
            keep_on.append((c, prev_w, prev_f))
        else:
            to_place.append(c)
    for c, w, f in keep_on:
        if not _stay(m, pk, c, w, f):
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
        w, evicted = _place_job(m, pk, j)
        to_place += evicted
        if w >= 0:
            touched_w.add(w)
    # costs that grew: lower or evict the least valuable cameras until every worker fits
    over = [w for w in sorted(touched_w) if pk.free_c[w] < -_EPS * max(1.0, m.w_compute[w])
            or pk.free_m[w] < -_EPS * max(1.0, m.w_memory[w])]
    if over:
        # cameras grouped by worker once (repairs only take cameras off their own worker)
        ws = pk.worker[:m.n_cams]
        order = np.argsort(ws, kind="stable")
        lo = np.searchsorted(ws[order], over, side="left")
        hi = np.searchsorted(ws[order], over, side="right")
        for w, a, b in zip(over, lo.tolist(), hi.tolist()):
            to_place += _repair(m, pk, w, order[a:b].tolist())
    # place what must move (and new cameras) in free room; then unserved cameras where room was freed
    chosen = np.full(len(m.c_frame), -1, dtype=np.int64)
    todo = sorted(set(c for c in to_place if m.cams[c] is not None))
    if todo:
        t = np.asarray(todo)
        chosen[t] = choose_levels(m.V[t], m.K[t], st.lam)
    fill(pk, todo, chosen)
    if freed:
        cand = _unserved_candidates(m, pk, set(todo))
        fill(pk, cand, chosen)
    for c in todo:
        if pk.worker[c] >= 0:
            touched_w.add(int(pk.worker[c]))
    if touched_w:
        on = np.nonzero(np.isin(pk.worker[:m.n_cams], np.fromiter(touched_w, dtype=np.int64)))[0].tolist()
        pk.upgrade(by_density(m, on, pk.level))
    # the plan's records: only the cameras that changed are rebuilt
    outputs = list(st.outputs)
    outputs.extend([None] * (m.n_cams - len(outputs)))
    objective = previous.objective
    migrations = 0
    redo = set(pk.dirty) | {m.cam_slot[c] for c in delta.cameras_set}
    for c in sorted(redo):
        old = outputs[c]
        new = camera_output(pk, c, old)
        outputs[c] = new
        objective += (new[2] if new is not None else 0.0) - (old[2] if old is not None else 0.0)
        before = pk.dirty.get(c, -1)
        if before >= 0 and pk.worker[c] >= 0 and m.wids[before] != m.wids[int(pk.worker[c])]:
            migrations += 1
    pk.dirty = None
    m.inst = instance
    st.head.version += 1
    state = _State(m, pk, st.lam, st.base_gap, st.changes_since_full + 1, outputs, st.head, st.head.version)
    cams, unserved = rows_of(outputs)
    jobs_out, unplaced = job_rows(pk)
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


def _recost(m: Model, pk: Packing, a: int, head_ms: float, memory_mib: float) -> set[int]:
    """Algorithm ``a`` now costs ``head_ms`` and ``memory_mib``: patch its demands, the
    ladders of the cameras using it and the free room of the workers running them."""
    touched: set[int] = set()
    dm = np.nonzero(m.d_alg[:m.n_d] == a)[0]
    m.d_head[dm] = head_ms
    m.a_head[a] = head_ms
    d_mem = memory_mib - m.a_mem[a]
    m.a_mem[a] = memory_mib
    if d_mem:
        holders = np.nonzero(pk.present[:, a] & m.w_alive)[0]
        pk.free_m[holders] -= d_mem
        touched |= set(holders.tolist())
    cams = np.unique(m.d_cam[dm])
    cams = np.array([c for c in cams.tolist() if m.cams[c] is not None], dtype=np.int64)
    if len(cams) == 0:
        return touched
    placed = cams[pk.worker[cams] >= 0]
    old_k = m.K[placed, pk.level[placed]]
    V, K, F = ladder_rows(m, cams)
    m.V[cams], m.K[cams], m.cam_fps[cams] = V, K, F
    if len(placed):
        ws = pk.worker[placed]
        np.add.at(pk.free_c, ws, old_k - m.K[placed, pk.level[placed]])
        touched |= set(ws.tolist())
    return touched


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


def _stay(m: Model, pk: Packing, c: int, w: int, fps: float) -> bool:
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


def _place_job(m: Model, pk: Packing, j: int) -> tuple[int, list[int]]:
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


def _repair(m: Model, pk: Packing, w: int, cams: list[int]) -> list[int]:
    """Worker ``w`` over its limits (a cost grew): take its least valuable cameras off, each
    put back at a lower rate when that fits, until the worker fits. Returns those moved off."""
    tol_c = _EPS * max(1.0, m.w_compute[w])
    tol_m = _EPS * max(1.0, m.w_memory[w])
    evicted = []
    if pk.free_c[w] >= -tol_c and pk.free_m[w] >= -tol_m:
        return evicted
    for c in by_density(m, cams, pk.level)[::-1]:
        if pk.free_c[w] >= -tol_c and pk.free_m[w] >= -tol_m:
            break
        lv = int(pk.level[c])
        pk.remove(c)
        for down in range(lv - 1, lowest_level(m, c) - 1, -1):
            algs = m.algs_at(c, down)
            if m.V[c, down] > 1e-12 and pk.fits(c, down, w, algs):
                pk.place(c, down, w, algs)
                break
        else:
            evicted.append(c)
    return evicted


def _unserved_candidates(m: Model, pk: Packing, skip: set[int]) -> list[int]:
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
