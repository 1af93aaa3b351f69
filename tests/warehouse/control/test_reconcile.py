"""The reconcile step, without Ray: cases, and convergence from any actual state (Hypothesis).

The cluster model here is a few lines of plain data applying actions as the seam does; it
stands for the cluster view the control plane injects, not for Ray.
"""
from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from runtime.work import CameraWork, HeadWork
from warehouse.control import (
    ActualState,
    CameraSpec,
    ConfigureCamera,
    DesiredState,
    Failure,
    ReaderView,
    RemoveCamera,
    RerateReader,
    StartReader,
    StartWorker,
    StopReader,
    StopWorker,
    WorkerSpec,
    WorkerView,
    backoff_ms,
    changed_cameras,
    reconcile,
)

URL = "synthetic://road?seed=1"


def _work(cam: str, version: str = "1") -> CameraWork:
    return CameraWork.build(cam, heads=[HeadWork("scene.road.smoke", version, fps=2.0, artifact_sha256="ab" * 32)])


def _desired(placement: dict[str, str], version: str = "1") -> DesiredState:
    workers = {w: WorkerSpec(w, f"node-{w}") for w in set(placement.values())}
    return DesiredState(workers, {c: CameraSpec(c, w, URL, 2.0, _work(c, version)) for c, w in placement.items()})


def _running(placement: dict[str, str], version: str = "1", *, dead: set[str] = frozenset()) -> ActualState:
    workers = {}
    for w in set(placement.values()) | set(dead):
        cams = {c: _work(c, version).revision for c, ww in placement.items() if ww == w}
        workers[w] = WorkerView(w, f"node-{w}", alive=w not in dead, cameras=cams)
    readers = {c: ReaderView(c, w, w not in dead, URL, 2.0, "healthy") for c, w in placement.items()}
    return ActualState(workers, readers)


def _kinds(actions) -> list[str]:
    return [type(a).__name__ for a in actions]


@pytest.mark.parametrize("desired,actual,expected", [
    # nothing runs: start the worker first; cameras wait for it
    (_desired({"c1": "w1"}), ActualState(), ["StartWorker"]),
    # the worker is up but runs nothing: configure, then (next tick) the reader
    (_desired({"c1": "w1"}), ActualState({"w1": WorkerView("w1", "node-w1", True)}), ["ConfigureCamera"]),
    # configured, no reader: start it
    (_desired({"c1": "w1"}), ActualState({"w1": WorkerView("w1", "node-w1", True, {"c1": _work("c1").revision})}),
     ["StartReader"]),
    # everything as desired: nothing to do
    (_desired({"c1": "w1", "c2": "w1"}), _running({"c1": "w1", "c2": "w1"}), []),
    # a new version: reconfigure in place (the reader keeps streaming)
    (_desired({"c1": "w1"}, version="2"), _running({"c1": "w1"}), ["ConfigureCamera"]),
    # the camera moves: stop its reader, remove it from the old worker, configure it on the new one
    (_desired({"c1": "w2", "c2": "w1"}), _running({"c1": "w1", "c2": "w1", "c3": "w2"}),
     ["StopReader", "StopReader", "RemoveCamera", "RemoveCamera", "ConfigureCamera"]),
    # its worker died (node lost): release it, start what the plan names
    (_desired({"c1": "w2"}), _running({"c1": "w1"}, dead={"w1"}), ["StopReader", "StopWorker", "StartWorker"]),
    # a camera removed: stop its stream and free its worker's room
    (_desired({}), _running({"c1": "w1"}), ["StopReader", "RemoveCamera"]),
])
def test_reconcile_cases(desired, actual, expected):
    assert sorted(_kinds(reconcile(desired, actual, {}, now_ms=0))) == sorted(expected)


def test_a_new_rate_re_rates_the_running_stream_in_place():
    d = _desired({"c1": "w1"})
    spec = d.cameras["c1"]
    slower = DesiredState(d.workers, {"c1": CameraSpec("c1", "w1", URL, 0.5, spec.work)})
    acts = reconcile(slower, _running({"c1": "w1"}), {}, now_ms=0)
    assert [(type(a).__name__, a.fps) for a in acts] == [("RerateReader", 0.5)]  # no stop, no gap


def test_actions_come_in_dependency_order():
    acts = reconcile(_desired({"c1": "w2"}), _running({"c1": "w1", "c9": "w1"}), {}, now_ms=0)
    order = [type(a) for a in acts]
    assert order.index(StopReader) < order.index(RemoveCamera)
    assert all(isinstance(a, (StopReader, RemoveCamera, StartWorker, ConfigureCamera)) for a in acts)


def test_a_failed_item_waits_for_its_backoff_and_the_others_go_on():
    d = _desired({"c1": "w1", "c2": "w1"})
    a = ActualState({"w1": WorkerView("w1", "node-w1", True)})
    fail = {"camera:c1": Failure("camera:c1", 1, retry_at_ms=1_000, error="boom")}
    assert [x.work.camera_id for x in reconcile(d, a, fail, now_ms=500)] == ["c2"]
    assert sorted(x.work.camera_id for x in reconcile(d, a, fail, now_ms=1_000)) == ["c1", "c2"]
    assert [backoff_ms(n) for n in (1, 2, 6, 20)] == [500, 1000, 16000, 30000]


def test_a_finished_file_stays_ended_but_a_failed_reader_restarts():
    d = _desired({"c1": "w1", "c2": "w1"})
    a = _running({"c1": "w1", "c2": "w1"})
    readers = dict(a.readers)
    readers["c1"] = ReaderView("c1", "w1", True, URL, 2.0, "ended", finished=True)
    readers["c2"] = ReaderView("c2", "w1", False, URL, 2.0, "failed", finished=True, error="StreamError: gone")
    acts = reconcile(d, ActualState(a.workers, readers), {}, now_ms=0)
    assert [(type(x).__name__, getattr(x, "camera_id", None)) for x in acts] == [("StopReader", "c2")]
    assert acts[0].reason.startswith("reader failed: StreamError")
    # stopped: the next pass starts it again, unless its failure's backoff has not passed yet
    del readers["c2"]
    fail = {"camera:c2": Failure("camera:c2", 1, retry_at_ms=1_000, error=acts[0].reason)}
    assert reconcile(d, ActualState(a.workers, readers), fail, now_ms=500) == []
    acts = reconcile(d, ActualState(a.workers, readers), fail, now_ms=1_000)
    assert [(type(x).__name__, getattr(x, "camera_id", None)) for x in acts] == [("StartReader", "c2")]


def test_only_limits_the_pass_to_the_changed_cameras():
    d = _desired({f"c{i}": "w1" for i in range(50)}, version="2")
    a = _running({f"c{i}": "w1" for i in range(50)})
    assert len(reconcile(d, a, {}, now_ms=0)) == 50
    assert [x.work.camera_id for x in reconcile(d, a, {}, now_ms=0, only={"c7"})] == ["c7"]


def test_changed_cameras_sees_spec_and_reader_changes():
    d1, a1 = _desired({"c1": "w1", "c2": "w1"}), _running({"c1": "w1", "c2": "w1"})
    d2 = DesiredState(d1.workers, {**d1.cameras, "c2": CameraSpec("c2", "w1", URL, 2.0, _work("c2", "3"))})
    assert changed_cameras(d1, d2, a1, a1) == {"c2"}
    readers = dict(a1.readers)
    readers["c1"] = ReaderView("c1", "w1", False, URL, 2.0, "failed", True, "x")
    assert "c1" in changed_cameras(d1, d1, a1, ActualState(a1.workers, readers))


# -- convergence: from any actual state, applying the actions reaches the desired state -------------
def _apply(actual: ActualState, actions, desired: DesiredState) -> ActualState:
    workers = {w: v for w, v in actual.workers.items()}
    readers = dict(actual.readers)
    for a in actions:
        if isinstance(a, StopWorker):
            workers.pop(a.worker_id, None)
            readers = {c: r for c, r in readers.items() if r.worker_id != a.worker_id}
        elif isinstance(a, StartWorker):
            workers[a.spec.worker_id] = WorkerView(a.spec.worker_id, a.spec.node_id, True)
        elif isinstance(a, ConfigureCamera):
            v = workers[a.worker_id]
            workers[a.worker_id] = WorkerView(v.worker_id, v.node_id, True, {**v.cameras, a.work.camera_id: a.work.revision})
        elif isinstance(a, RemoveCamera):
            v = workers[a.worker_id]
            workers[a.worker_id] = WorkerView(v.worker_id, v.node_id, True, {c: r for c, r in v.cameras.items() if c != a.camera_id})
        elif isinstance(a, StartReader):
            readers[a.camera_id] = ReaderView(a.camera_id, a.worker_id, True, a.stream_url, a.fps, "healthy")
        elif isinstance(a, RerateReader):
            r = readers[a.camera_id]
            readers[a.camera_id] = ReaderView(r.camera_id, r.worker_id, True, r.stream_url, a.fps, r.health)
        elif isinstance(a, StopReader):
            readers.pop(a.camera_id, None)
    return ActualState(workers, readers)


cams = st.lists(st.sampled_from([f"c{i}" for i in range(6)]), unique=True, max_size=6)
wids = st.sampled_from(["w1", "w2", "w3"])


@settings(max_examples=150, deadline=None)
@given(st.dictionaries(st.sampled_from([f"c{i}" for i in range(6)]), wids, max_size=6),
       st.dictionaries(st.sampled_from([f"c{i}" for i in range(6)]), wids, max_size=6),
       st.sets(wids), st.sampled_from(["1", "2"]), st.sampled_from([2.0, 0.5]))
def test_reconcile_converges_and_then_does_nothing(want, have, dead, version, fps):
    base = _desired(want, version=version)
    desired = DesiredState(base.workers, {c: CameraSpec(c, s.worker_id, URL, fps, s.work) for c, s in base.cameras.items()})
    actual = _running(have, dead=dead & set(have.values()))
    for _ in range(4):
        acts = reconcile(desired, actual, {}, now_ms=0)
        if not acts:
            break
        actual = _apply(actual, acts, desired)
    assert reconcile(desired, actual, {}, now_ms=0) == []
    for cam, spec in desired.cameras.items():  # every camera runs where the plan says, at its revision
        assert actual.readers[cam].worker_id == spec.worker_id and actual.readers[cam].fps == spec.fps
        assert actual.workers[spec.worker_id].cameras[cam] == spec.work.revision
    assert set(actual.readers) == set(desired.cameras)
    assert all(v.alive for v in actual.workers.values())
