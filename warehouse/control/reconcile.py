"""The reconcile step: ``(desired, actual) -> actions``, a pure function.

As Ray Serve's controller and Kubernetes controllers do, the control plane never pushes a
change by itself; it computes what differs between what should run and what runs, and
issues the actions that close the gap. Running it again before they took effect gives the
same actions again (they are idempotent in the cluster seam), and a failed item waits for
its backoff (``failures``) while every other item goes on. The clock is an argument.

Rules, per item:

- a worker actor that is dead is stopped (its handle released); a desired worker that is
  missing or dead is started; a worker no longer desired is stopped once nothing runs on it;
- a camera is configured on its worker when the revision the worker runs differs; its
  reader is (re)started once the worker runs that revision, and restarted when it must move;
  a reader that died or failed is stopped, and started again on a later pass (the loop
  records the failure, so the restart waits for its backoff); a finite source that ended
  stays ended;
- what runs but is no longer desired (a reader, a camera on a worker) is stopped or removed.

``only``: restrict the pass to these camera ids (the loop passes the cameras whose desired
spec or actual view changed; workers are always checked).

>>> from runtime.work import CameraWork
>>> from warehouse.control.state import CameraSpec, WorkerSpec
>>> d = DesiredState({"w1": WorkerSpec("w1", "n1")}, {"c1": CameraSpec("c1", "w1", "synthetic://road", 2.0,
...                                                                  CameraWork.build("c1"))})
>>> [type(a).__name__ for a in reconcile(d, ActualState(), {}, now_ms=0)]
['StartWorker']
"""
from __future__ import annotations

from typing import Iterable, Mapping

from warehouse.control.state import (
    ACTION_ORDER,
    Action,
    ActualState,
    ConfigureCamera,
    DesiredState,
    Failure,
    RemoveCamera,
    RerateReader,
    StartReader,
    StartWorker,
    StopReader,
    StopWorker,
)

READER_FAILED = "reader failed"  # the reason of a StopReader for a reader that died or failed

_RANK = {cls: i for i, cls in enumerate(ACTION_ORDER)}


def _waiting(failures: Mapping[str, Failure], key: str, now_ms: int) -> bool:
    f = failures.get(key)
    return f is not None and f.retry_at_ms > now_ms


def reconcile(desired: DesiredState, actual: ActualState, failures: Mapping[str, Failure], *, now_ms: int,
              only: Iterable[str] | None = None) -> list[Action]:
    """The actions that move ``actual`` toward ``desired`` (module doc); ordered by :data:`ACTION_ORDER`."""
    out: list[Action] = []
    workers, readers = actual.workers, actual.readers
    live = {w for w, v in workers.items() if v.alive}

    # -- workers ------------------------------------------------------------------------
    for wid, view in workers.items():
        if not view.alive:
            out.append(StopWorker(wid, f"dead: {view.error or 'not answering'}"))
        elif wid not in desired.workers and not view.cameras and not any(r.worker_id == wid for r in readers.values()):
            out.append(StopWorker(wid, "no longer in the plan"))
    for wid, spec in desired.workers.items():
        if wid not in live and not _waiting(failures, f"worker:{wid}", now_ms):
            out.append(StartWorker(spec))

    # -- cameras ------------------------------------------------------------------------
    cams = desired.cameras.keys() if only is None else [c for c in only if c in desired.cameras]
    for cam in cams:
        spec = desired.cameras[cam]
        key = f"camera:{cam}"
        if _waiting(failures, key, now_ms):
            continue
        reader = readers.get(cam)
        wv = workers.get(spec.worker_id)
        rerate = False
        if reader is not None and (reader.worker_id != spec.worker_id or reader.stream_url != spec.stream_url):
            out.append(StopReader(cam, f"moves to {spec.worker_id}" if reader.worker_id != spec.worker_id else "stream changed"))
            reader = None
        elif reader is not None and abs(reader.fps - spec.fps) > 1e-9:
            rerate = True  # same worker, same stream: re-rate in place, no gap
        elif reader is not None and (not reader.alive or (reader.finished and reader.error is not None)):
            # stopped now, restarted on a later pass once its backoff (the loop records the failure) has passed
            out.append(StopReader(cam, f"{READER_FAILED}: {reader.error or 'dead'}"))
            continue
        if wv is None or not wv.alive:
            continue  # its worker starts first; the camera follows on a later tick
        if wv.cameras.get(cam) != spec.work.revision:
            out.append(ConfigureCamera(spec.worker_id, spec.work))
            continue  # the reader starts once the worker runs this revision
        if rerate:
            out.append(RerateReader(cam, spec.worker_id, spec.fps))
        elif reader is None:
            out.append(StartReader(cam, spec.worker_id, spec.stream_url, spec.fps))

    # what runs but should not (any camera not desired where it runs)
    check = None if only is None else set(only)
    for cam, reader in readers.items():
        if (check is None or cam in check) and cam not in desired.cameras:
            out.append(StopReader(cam, "camera removed or unplaced"))
    for wid, view in workers.items():
        if not view.alive:
            continue
        for cam in view.cameras:
            if check is not None and cam not in check:
                continue
            spec = desired.cameras.get(cam)
            if spec is None or spec.worker_id != wid:
                out.append(RemoveCamera(wid, cam))
    out.sort(key=lambda a: _RANK[type(a)])
    return out


def changed_cameras(before: DesiredState | None, after: DesiredState, actual_before: ActualState | None,
                    actual_after: ActualState) -> set[str]:
    """Camera ids whose desired spec or actual view differs between two ticks (for ``reconcile(only=...)``).

    Any worker-level change (a worker appeared, died or changed what it runs) dirties every
    camera on it.
    """
    if before is None or actual_before is None:
        return set(after.cameras) | set(actual_after.readers)
    dirty = {c for c, s in after.cameras.items() if before.cameras.get(c) != s}
    dirty |= {c for c in before.cameras if c not in after.cameras}
    for c, r in actual_after.readers.items():
        if actual_before.readers.get(c) != r:
            dirty.add(c)
    dirty |= {c for c in actual_before.readers if c not in actual_after.readers}
    for w, v in actual_after.workers.items():
        old = actual_before.workers.get(w)
        if old != v:
            dirty |= set(v.cameras) | (set(old.cameras) if old else set())
            dirty |= {c for c, s in after.cameras.items() if s.worker_id == w}
    for w, old in actual_before.workers.items():
        if w not in actual_after.workers:
            dirty |= set(old.cameras) | {c for c, s in after.cameras.items() if s.worker_id == w}
    return dirty


__all__ = ["READER_FAILED", "changed_cameras", "reconcile"]
