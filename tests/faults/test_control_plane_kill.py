"""SIGKILL of the control plane: nothing lost, nothing done twice.

The plane runs in its own process, joined to a real 2-node Ray cluster. Killed with SIGKILL
while its cameras stream, its Ray job ends with it (its workers go); a version is promoted
while no plane runs. A new plane process then starts from the stores alone: every camera
streams again, the promotion announced during the outage reaches the workers (not lost),
and alerts replayed after the restart are stored once (nothing processed twice).
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

pytestmark = [pytest.mark.ray, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[2]


def _head(bias: float) -> bytes:
    from catalog import linear_head_onnx

    return linear_head_onnx(np.zeros((1280, 1), np.float32), np.array([bias], np.float32), labels=["on"])


def _start(home: Path, address: str, cache: Path) -> subprocess.Popen:
    env = {**os.environ, "WAREHOUSE_CACHE_DIR": str(cache), "RAY_AUTH_MODE": "disabled"}
    log = open(home / "plane.log", "ab")  # kept for the failure message
    return subprocess.Popen([sys.executable, "-m", "benchmarks._plane_proc", str(home), address], cwd=REPO, env=env,
                            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)


def _log_tail(home: Path, n: int = 80) -> str:
    path = home / "plane.log"
    return "\n".join(path.read_text(errors="replace").splitlines()[-n:]) if path.exists() else "(no log)"


def test_a_killed_control_plane_is_replaced_without_losing_or_repeating(tmp_path, backbone_cache):
    import ray
    from ray.cluster_utils import Cluster

    from catalog import ArtifactStore, Catalog, Stage
    from warehouse.bus import open_bus
    from warehouse.bus.events import parse_event
    from warehouse.consumers import AlertSink
    from warehouse.ops import CameraRecord, OpsStore
    from warehouse.retraining.promotion import promote
    from warehouse.training.scene_heads import head_spec

    home = tmp_path / "city"
    home.mkdir()
    store = ArtifactStore(str(home / "artifacts"))
    catalog = Catalog.open(f"sqlite:///{home / 'catalog.db'}", store=store)
    spec = head_spec("road", "smoke")
    catalog.register_algorithm(spec)
    v1 = catalog.add_version(spec.id, artifact_sha256=store.put_bytes(_head(8.0)), metrics={"threshold": 0.5}, stage=Stage.CANDIDATE)
    catalog.promote(spec.id, v1.number, to=Stage.PRODUCTION)
    ops = OpsStore(f"sqlite:///{home / 'ops.db'}")
    cams = ["cam-a", "cam-b"]
    for i, cam in enumerate(cams):
        ops.add_camera(CameraRecord(cam, "downtown", f"synthetic://road?seed={i}&fps=4&realtime=1", {"scenes": ["road"]}))
    bus = open_bus(f"sqlite:///{home / 'bus.db'}")
    watch = bus.consumer("alerts", group="test-watch")
    seen: list = []

    def alerts_until(pred, timeout_s: float) -> bool:
        end = time.monotonic() + timeout_s
        while time.monotonic() < end:
            seen.extend(parse_event("alerts", r.value) for r in watch.poll(timeout_s=0.2))
            if pred():
                return True
        return False

    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1, "include_dashboard": False})
    cluster.add_node(num_cpus=1)
    cluster.wait_for_nodes()
    proc = _start(home, cluster.address, backbone_cache)
    try:
        assert alerts_until(lambda: {a.camera_id for a in seen} == set(cams), 120), f"cameras never alerted\n{_log_tail(home)}"
        os.killpg(proc.pid, signal.SIGKILL)  # the plane, mid-stream
        proc.wait(timeout=10)
        v2 = catalog.add_version(spec.id, artifact_sha256=store.put_bytes(_head(7.0)), metrics={"threshold": 0.5},
                                 stage=Stage.CANDIDATE)
        promote(catalog, bus, spec.id, v2.number, actor="test", reason="promoted while no plane runs")
        before = len(seen)
        proc = _start(home, cluster.address, backbone_cache)
        assert alerts_until(lambda: {a.camera_id for a in seen[before:] if a.model_version == str(v2.number)} == set(cams), 120), \
            f"the promotion made during the outage never reached the restarted plane's workers\n{_log_tail(home)}"
        sink = AlertSink(bus, ops)
        for _ in range(5):
            sink.run_once(timeout_s=0.5)
        ids = [a.alert_id for a in seen]
        stored = ops.list_alerts(limit=10_000)
        assert len(stored) == len(set(ids))  # every alert once, replayed copies recognised by id
    finally:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        watch.close()
        bus.close()
        catalog.close()
        ray.shutdown()
        cluster.shutdown()
