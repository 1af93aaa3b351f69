"""Building the control plane of a deployment from its settings (``warehouse serve``), and its status file.

The control plane writes a status snapshot (``status.json`` under the home folder, atomically,
every few seconds); ``warehouse status`` reads it, so the command works beside a running
``serve`` without a key or a connection.
"""
from __future__ import annotations

import json
import logging
import os
import threading
import time
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

STATUS_FILE = "status.json"


def pool_url(settings) -> str:
    """The frame pool's database: beside the catalog (SQLite file under home, or the same PostgreSQL)."""
    url = settings.resolved_catalog_url
    if url.startswith("sqlite"):
        return f"sqlite:///{(settings.home / 'pool.db').resolve()}"
    return url


class FlywheelJobs:
    """The retraining jobs running now (the flywheel's training tasks) as the scheduler's ``jobs``:
    training and inference share one pool, so the plan reserves each job's share of a worker.
    Read at most every ``every_s`` (the loop asks each tick)."""

    def __init__(self, store, *, every_s: float = 1.0) -> None:
        self.store, self.every_s = store, every_s
        self._at, self._jobs = -1e18, []

    def __call__(self) -> list[dict]:
        now = time.monotonic()
        if now - self._at >= self.every_s:
            from warehouse.retraining import retraining_jobs

            try:
                self._jobs = [{"id": j.job_id, "compute_ms_per_s": j.compute_ms_per_s, "memory_mib": j.memory_mib}
                              for j in retraining_jobs(self.store)]
            except Exception:  # the store is unreachable now: plan with the last known jobs
                log.warning("control: reading the running training jobs failed", exc_info=True)
            self._at = now
        return list(self._jobs)


class JobPlacement:
    """Where the plan put a training job: ``placement(job_id, timeout_s)`` -> the Ray node id of
    its worker, waiting up to ``timeout_s`` for the loop to plan it (None if it did not)."""

    def __init__(self, plane, jobs: FlywheelJobs | None = None) -> None:
        self.plane, self.jobs = plane, jobs

    def __call__(self, job_id: str, timeout_s: float = 5.0) -> str | None:
        if self.jobs is not None:
            self.jobs._at = -1e18  # a job just started: read the tasks again on the next tick
        self.plane.wake()
        end = time.monotonic() + timeout_s
        while True:
            plan, nodes = self.plane.placement()
            worker = next((j["worker"] for j in plan.get("jobs", ()) if j.get("job") == job_id), None)
            if worker is not None and worker in nodes:
                return nodes[worker]
            if time.monotonic() >= end:
                return None
            time.sleep(0.05)


def build_control_plane(settings, *, ops, catalog, graph, bus, ray_address: str | None = None, num_cpus: int = 2,
                        detectors: bool = True, jobs: FlywheelJobs | None = None):
    """A :class:`~warehouse.control.ControlPlane` over Ray (joined at ``ray_address``, else local).
    ``detectors``: workers carry a detector stage (real detectors and the city algorithms on tracks);
    ``jobs``: the running retraining jobs the plan reserves worker capacity for."""
    from runtime import ensure_ray, inference_core_scorer_factory
    from warehouse.control.cluster import RayCluster, WorkerFactories
    from warehouse.control.discovery import CameraDiscovery
    from warehouse.control.hooks import ArtifactFetcher, BusAlertPublisher, CityStageFactory, EvidenceWriter, FramePoolHook
    from warehouse.control.plane import ControlPlane
    from warehouse.training.backbone_export import ensure_backbone_onnx

    backbone = ensure_backbone_onnx(settings.resolved_cache_dir)
    ensure_ray(ray_address, num_cpus=num_cpus)
    root = settings.resolved_artifact_root
    factories = WorkerFactories(scorer_factory=inference_core_scorer_factory(backbone, {}), put_evidence=EvidenceWriter(root),
                                fetch_artifact=ArtifactFetcher(root), alert_sink_factory=BusAlertPublisher(settings.resolved_bus_url),
                                frame_hook_factory=FramePoolHook(pool_url(settings)),
                                stage_factory=CityStageFactory() if detectors else None,
                                host_guard=_stream_policy(ops).check_host)
    from warehouse.control.desired import RuntimeProfile

    profile = RuntimeProfile.measure(backbone)  # the planner reads measured costs
    return ControlPlane(ops=ops, catalog=catalog, graph=graph, cluster=RayCluster(factories), profile=profile,
                        discovery=CameraDiscovery(backbone, settings.resolved_cache_dir), bus=bus, jobs=jobs)


def _stream_policy(ops):
    """The deployment's stream policy (the operations store's, else the environment's)."""
    from warehouse.ops import StreamPolicy

    policy = getattr(ops, "stream_policy", None)
    return policy if isinstance(policy, StreamPolicy) else StreamPolicy.from_env()


def write_status(path: Path, status: dict[str, Any]) -> None:
    """Atomic write (temp file + rename): a reader never sees half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps({"written_ms": int(time.time() * 1000), **status}, default=str))
    tmp.replace(path)


def read_status(home: Path) -> dict[str, Any] | None:
    p = Path(home) / STATUS_FILE
    if not p.is_file():
        return None
    return json.loads(p.read_text())


class StatusWriter:
    """Writes the plane's status to ``home/status.json`` every ``every_s`` seconds (a daemon thread)."""

    def __init__(self, plane, home: Path, *, every_s: float = 2.0) -> None:
        self.plane, self.path, self.every_s = plane, Path(home) / STATUS_FILE, every_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="status-writer", daemon=True)

    def start(self) -> "StatusWriter":
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.wait(self.every_s):
            try:
                write_status(self.path, self.plane.status())
            except Exception:
                log.warning("status snapshot failed", exc_info=True)

    def stop(self) -> None:
        self._stop.set()


__all__ = ["STATUS_FILE", "StatusWriter", "build_control_plane", "pool_url", "read_status", "write_status"]
