"""A small city on a local multi-node Ray cluster, for the control-plane benchmark and tests.

Real parts throughout: a ``ray.cluster_utils.Cluster`` of N nodes on this machine, the ONNX
backbone, SQLite stores, the embedded bus, the control plane and its Ray seam. The heads are
real linear heads; ``always_fire`` ones raise an alert on every frame so that alert latency
and continuity can be measured. Costs are injected (``RuntimeProfile``) so the plan has to
spread cameras: ``camera_ms`` per frame makes each node hold ``per_node`` cameras.
"""
from __future__ import annotations

import dataclasses
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)

SCENE = "road"
EVENTS = ("smoke", "pothole")


def _head(bias: float) -> bytes:
    from catalog import linear_head_onnx

    return linear_head_onnx(np.zeros((1280, 1), np.float32), np.array([bias], np.float32), labels=["on"])


@dataclass
class SmallCity:
    home: Path
    cache_dir: Path
    nodes: int = 3
    per_node: int = 2
    fps: float = 2.0
    cluster: object = None
    plane: object = None
    parts: dict = field(default_factory=dict)

    def start(self) -> "SmallCity":
        import ray
        from ray.cluster_utils import Cluster

        from catalog import ArtifactStore, Catalog, CostProfile, Stage
        from knowledge_graph import CityGraph
        from runtime import inference_core_scorer_factory
        from warehouse.bus import open_bus
        from warehouse.control import (ArtifactFetcher, BusAlertPublisher, ControlPlane, EvidenceWriter, FramePoolHook,
                                       RayCluster, RuntimeProfile, WorkerFactories)
        from warehouse.ops import OpsStore
        from warehouse.training.backbone_export import ensure_backbone_onnx
        from warehouse.training.scene_heads import head_spec

        self.home.mkdir(parents=True, exist_ok=True)
        backbone = ensure_backbone_onnx(self.cache_dir)
        root = str((self.home / "artifacts").resolve())
        store = ArtifactStore(root)
        catalog = Catalog.open(f"sqlite:///{(self.home / 'catalog.db').resolve()}", store=store)
        for ev in EVENTS:
            spec = dataclasses.replace(head_spec(SCENE, ev), postprocess={**head_spec(SCENE, ev).postprocess, "event_window_s": None})
            # no persistence window: event_k=1 of event_n=1 frames below, so the alert latency is the plumbing's
            catalog.register_algorithm(spec)
            v = catalog.add_version(spec.id, artifact_sha256=store.put_bytes(_head(8.0), suffix=".onnx"),
                                    metrics={"threshold": 0.5, "f1": 1.0}, stage=Stage.CANDIDATE,
                                    cost_profile=CostProfile(latency_ms_per_frame=0.01, memory_mib=0.01))
            catalog.promote(spec.id, v.number, to=Stage.PRODUCTION)
        ops = OpsStore(f"sqlite:///{(self.home / 'ops.db').resolve()}")
        bus_url = f"sqlite:///{(self.home / 'bus.db').resolve()}"
        bus = open_bus(bus_url)
        self.cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1, "include_dashboard": False})
        for _ in range(self.nodes - 1):
            self.cluster.add_node(num_cpus=1)
        self.cluster.wait_for_nodes()
        ray.init(address=self.cluster.address, include_dashboard=False, log_to_driver=False, logging_level=logging.WARNING)
        factories = WorkerFactories(scorer_factory=inference_core_scorer_factory(backbone, {}), put_evidence=EvidenceWriter(root),
                                    fetch_artifact=ArtifactFetcher(root), alert_sink_factory=BusAlertPublisher(bus_url),
                                    frame_hook_factory=FramePoolHook(f"sqlite:///{(self.home / 'pool.db').resolve()}"),
                                    batch_wait_ms=5.0)
        # each camera costs (decode + backbone) x fps reference-ms per second: per_node cameras fill a node
        node_ms = 1000.0 * 0.8
        cam_ms = node_ms / self.per_node / self.fps * 0.95
        profile = RuntimeProfile(decode_ms=cam_ms * 0.2, backbone_ms=cam_ms * 0.8, head_memory_mib=0.01, measured=True)
        graph = CityGraph.from_catalog(catalog)
        self.plane = ControlPlane(ops=ops, catalog=catalog, graph=graph, cluster=RayCluster(factories, call_timeout_s=3.0),
                                  bus=bus, profile=profile, interval_s=0.2, versions_every_s=5.0, cooldown_s=0.0,
                                  event_k=1, event_n=1)
        self.parts = {"catalog": catalog, "store": store, "ops": ops, "bus": bus, "bus_url": bus_url, "graph": graph}
        self.plane.start()
        return self

    def add_camera(self, camera_id: str, seed: int = 0) -> None:
        from warehouse.ops import CameraRecord

        url = f"synthetic://{SCENE}?seed={seed}&fps={self.fps * 2:g}&realtime=1"
        self.parts["ops"].add_camera(CameraRecord(camera_id, "downtown", url, {"scenes": [SCENE]}))
        self.plane.wake()

    def remove_camera(self, camera_id: str) -> None:
        self.parts["ops"].remove_camera(camera_id)
        self.plane.wake()

    def running(self) -> dict[str, dict]:
        return {c: s for c, s in self.plane.status(detail=False)["cameras"].items() if s["running"]}

    def wait(self, pred, timeout_s: float = 60.0, every_s: float = 0.05):
        end = time.monotonic() + timeout_s
        while time.monotonic() < end:
            v = pred()
            if v:
                return v
            time.sleep(every_s)
        return pred()

    def new_version(self, algorithm_id: str, bias: float = 7.0) -> int:
        from catalog import CostProfile, Stage

        cat, store = self.parts["catalog"], self.parts["store"]
        v = cat.add_version(algorithm_id, artifact_sha256=store.put_bytes(_head(bias), suffix=".onnx"),
                            metrics={"threshold": 0.5, "f1": 1.0}, stage=Stage.CANDIDATE,
                            cost_profile=CostProfile(latency_ms_per_frame=0.01, memory_mib=0.01))
        return v.number

    def stop(self) -> None:
        import ray

        if self.plane is not None:
            self.plane.stop(shutdown=True)
        ray.shutdown()
        if self.cluster is not None:
            self.cluster.shutdown()
        for k in ("bus", "catalog"):
            try:
                self.parts[k].close()
            except Exception:
                pass
