"""The control plane: one loop reconciling desired state (cameras, relevance, plan, versions)
with the Ray actors that run it.

>>> from warehouse.control import ControlPlane, RayCluster, WorkerFactories   # doctest: +SKIP
>>> plane = ControlPlane(ops=ops, catalog=catalog, graph=graph, cluster=RayCluster(factories), bus=bus).start()  # doctest: +SKIP

The decisions are pure (:func:`reconcile`, :func:`build_instance`, :func:`desired_state`);
:class:`RayCluster` is the only code that touches Ray. See ``docs/control-plane.md``.
"""
from warehouse.control.cluster import RayCluster, WorkerFactories
from warehouse.control.desired import (
    AlgorithmRuntime,
    CameraInput,
    Choice,
    ControlPolicy,
    NodeView,
    RuntimeProfile,
    VersionRef,
    build_instance,
    desired_state,
    plan_city,
    version_for,
    worker_id_for,
)
from warehouse.control.discovery import CameraDiscovery, DiscoveredScenes
from warehouse.control.hooks import ArtifactFetcher, BusAlertPublisher, EvidenceWriter, FramePoolHook, alert_event
from warehouse.control.plane import ControlPlane, TickReport
from warehouse.control.reconcile import changed_cameras, reconcile
from warehouse.control.state import (
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
)

__all__ = [
    "ActualState", "AlgorithmRuntime", "ArtifactFetcher", "BusAlertPublisher", "CameraDiscovery", "CameraInput", "CameraSpec",
    "Choice", "ConfigureCamera", "ControlPlane", "ControlPolicy", "DesiredState", "DiscoveredScenes", "EvidenceWriter",
    "Failure", "FramePoolHook", "NodeView", "RayCluster", "ReaderView", "RemoveCamera", "RerateReader", "RuntimeProfile", "StartReader",
    "StartWorker", "StopReader", "StopWorker", "TickReport", "VersionRef", "WorkerFactories", "WorkerSpec", "WorkerView",
    "alert_event", "backoff_ms", "build_instance", "changed_cameras", "desired_state", "plan_city", "reconcile",
    "version_for", "worker_id_for",
]
