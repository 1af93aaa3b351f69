"""The status document is rendered from a snapshot of the loop (pure)."""
from __future__ import annotations

from runtime.work import CameraWork
from warehouse.control.desired import NodeView
from warehouse.control.state import ActualState, CameraSpec, DesiredState, ReaderView, WorkerSpec, WorkerView
from warehouse.control.status import StatusInputs, render_status


def _inputs(**over) -> StatusInputs:
    node = NodeView("node-aaaaaaaaaaaa", num_cpus=2)
    wid = node.worker_id
    work = CameraWork.build("cam-1")
    desired = DesiredState(workers={wid: WorkerSpec(wid, node.node_id)},
                           cameras={"cam-1": CameraSpec("cam-1", wid, "rtsp://10.0.0.5/a", 5.0, work)})
    actual = ActualState(workers={wid: WorkerView(wid, node.node_id, True, {"cam-1": work.revision})},
                         readers={"cam-1": ReaderView("cam-1", wid, True, "rtsp://10.0.0.5/a", 5.0, "healthy")})
    base = dict(desired=desired, actual=actual, nodes=(node,), records=frozenset({"cam-1", "cam-2"}),
                cameras=frozenset({"cam-1", "cam-2"}), chose={"cam-1": True, "cam-2": False}, discovered={},
                camera_errors={}, failures={}, plan_json={"objective": 3.5, "unserved": [1, 2]}, plan_at_ms=1_000,
                last=None, ticks=7, worker_status={wid: {"last_frame_ms": {"cam-1": 1_900}}}, reader_stats={})
    return StatusInputs(**(base | over))


def test_cameras_workers_and_plan_are_rendered():
    doc = render_status(_inputs(), now_ms=3_500, lag={"alerts": 4})
    cam = doc["cameras"]["cam-1"]
    assert cam["running"] and cam["health"] == "healthy" and cam["fps"] == 5.0 and cam["last_frame_ms"] == 1_900
    # a camera the graph chose nothing for says why it runs nowhere
    assert "chose no servable algorithm" in doc["cameras"]["cam-2"]["unplaced"] and not doc["cameras"]["cam-2"]["running"]
    (w,) = doc["workers"].values()
    assert w["state"] == "running" and w["cameras"] == ["cam-1"] and w["planned_fps"] == 5.0
    assert doc["plan"] == {"age_s": 2.5, "objective": 3.5, "unserved": 2, "migrations": None}
    assert doc["consumer_lag"] == {"alerts": 4} and doc["ticks"] == 7


def test_a_refused_reader_shows_its_error_and_a_failure_wins_over_it():
    inp = _inputs()
    wid = next(iter(inp.desired.workers))
    refused = ReaderView("cam-1", wid, True, "rtsp://x/a", 5.0, "failed", finished=True,
                         error="source failed: stream_url host '127.0.0.1' is a cloud metadata or denied host")
    doc = render_status(_inputs(actual=ActualState(workers=inp.actual.workers, readers={"cam-1": refused})), now_ms=0, lag={})
    assert doc["cameras"]["cam-1"]["error"].startswith("source failed") and not doc["cameras"]["cam-1"]["running"]
    doc = render_status(_inputs(failures={"camera:cam-1": (3, "configure failed")}), now_ms=0, lag={}, cameras=["cam-1"])
    assert doc["cameras"]["cam-1"]["error"] == "configure failed" and list(doc["cameras"]) == ["cam-1"]
    assert doc["failures"] == {"camera:cam-1": {"attempts": 3, "error": "configure failed"}}
