"""A control plane in its own process, joined to a running Ray cluster (for the fault suite's SIGKILLs).

    python -m benchmarks._plane_proc HOME RAY_ADDRESS

Opens the home's catalog, operations store and bus (SQLite), builds the control plane over
Ray at ``RAY_ADDRESS`` and runs its loop until killed. It holds no state of its own: what it
runs comes from the stores, so a restarted plane takes up where the killed one was.
"""
from __future__ import annotations

import logging
import os
import sys
import time
from pathlib import Path


def main() -> None:
    home, address = Path(sys.argv[1]), sys.argv[2]
    os.environ.setdefault("RAY_AUTH_MODE", "disabled")
    logging.basicConfig(level=logging.WARNING)
    logging.getLogger("warehouse.control").setLevel(logging.INFO)  # its actions land in the caller's log
    import ray

    from catalog import ArtifactStore, Catalog
    from knowledge_graph import CityGraph
    from runtime import inference_core_scorer_factory
    from warehouse.bus import open_bus
    from warehouse.control import (ArtifactFetcher, BusAlertPublisher, ControlPlane, EvidenceWriter, RayCluster,
                                   RuntimeProfile, WorkerFactories)
    from warehouse.ops import OpsStore
    from warehouse.training.backbone_export import ensure_backbone_onnx

    root = str((home / "artifacts").resolve())
    catalog = Catalog.open(f"sqlite:///{(home / 'catalog.db').resolve()}", store=ArtifactStore(root))
    bus_url = f"sqlite:///{(home / 'bus.db').resolve()}"
    ray.init(address=address, include_dashboard=False, log_to_driver=False, logging_level=logging.WARNING)
    backbone = ensure_backbone_onnx(Path(os.environ["WAREHOUSE_CACHE_DIR"]))
    factories = WorkerFactories(scorer_factory=inference_core_scorer_factory(backbone, {}), put_evidence=EvidenceWriter(root),
                                fetch_artifact=ArtifactFetcher(root), alert_sink_factory=BusAlertPublisher(bus_url),
                                batch_wait_ms=5.0, gate=False)
    plane = ControlPlane(ops=OpsStore(f"sqlite:///{(home / 'ops.db').resolve()}"), catalog=catalog,
                         graph=CityGraph.from_catalog(catalog), cluster=RayCluster(factories, call_timeout_s=3.0),
                         bus=open_bus(bus_url), profile=RuntimeProfile(measured=True, decode_measured=True), interval_s=0.2,
                         versions_every_s=1.0, event_k=1, event_n=1, cooldown_s=0.0)
    plane.start()
    print("plane running", flush=True)
    while True:
        time.sleep(3600)


if __name__ == "__main__":
    main()
