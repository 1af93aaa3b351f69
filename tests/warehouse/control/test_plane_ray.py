"""The control plane on a real 3-node Ray cluster (``ray.cluster_utils.Cluster`` on this machine).

One scenario, in the order a city lives it: cameras registered one by one are placed across
the nodes (the actors land on the node the plan names), stream and raise typed alerts on the
bus; a version promoted in the catalog reaches every worker without a dropped frame; a node
removed mid-run has its cameras streaming again on the others while the other cameras keep
alerting; a node added takes the next camera. Timings are not asserted here: they are the
``control_plane`` benchmark's figures.
"""
from __future__ import annotations

from dataclasses import asdict

import pytest

pytestmark = [pytest.mark.ray, pytest.mark.slow]


def test_a_small_city_on_three_nodes(tmp_path, backbone_cache):
    from benchmarks.control_plane import cluster_figures

    out = cluster_figures(tmp_path / "city", backbone_cache, cameras=5)
    assert out["register_to_first_alert_s"]["n"] == 5  # every camera registered reached an alert on the bus
    assert out["workers_used"] == 3, out  # 2 cameras fill a node: 5 cameras need all three
    assert out["actors_on_planned_node"], out  # node affinity: each worker runs where the plan put it
    assert out["promotion_to_swap_s"] is not None, out  # every worker serves the promoted version
    assert out["dropped_frames"] == 0, out
    assert out["node_loss_recovery_s"] is not None and out["cameras_lost_with_node"] >= 1, out
    assert out["others_kept_streaming"], out  # the other cameras kept scoring frames through the loss
    assert out["node_added_gets_work"], out
    assert out["camera_removed_s"] is not None, out  # removed: its stream stopped, its worker runs it no more


def test_control_plane_joins_the_cluster_named_by_the_settings(tmp_path, backbone_cache, monkeypatch):
    import ray
    from ray.cluster_utils import Cluster

    from catalog import ArtifactStore, Catalog
    from knowledge_graph import CityGraph
    from warehouse.bus import open_bus
    from warehouse.control.wiring import FlywheelJobs, JobPlacement, build_control_plane
    from warehouse.ops import OpsStore
    from warehouse.retraining import RetrainingJob
    from warehouse.retraining.store import FlywheelStore
    from warehouse.settings import Settings

    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1, "include_dashboard": False})
    cluster.add_node(num_cpus=1)
    cluster.wait_for_nodes()
    monkeypatch.setenv("WAREHOUSE_RAY_ADDRESS", cluster.address)
    monkeypatch.setenv("WAREHOUSE_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("WAREHOUSE_CACHE_DIR", str(backbone_cache))
    s = Settings()
    s.home.mkdir(parents=True)
    catalog = Catalog.open(s.resolved_catalog_url, store=ArtifactStore(s.resolved_artifact_root))
    flywheel = FlywheelStore(s.resolved_catalog_url)
    jobs = FlywheelJobs(flywheel, every_s=0.0)
    plane = None
    try:
        plane = build_control_plane(s, ops=OpsStore(s.resolved_catalog_url), catalog=catalog,
                                    graph=CityGraph.from_catalog(catalog), bus=open_bus(s.resolved_bus_url),
                                    ray_address=s.ray_address, jobs=jobs)
        assert ray.get_runtime_context().gcs_address == cluster.address
        assert len(plane.cluster.nodes()) == 2  # both nodes of that cluster, not a fresh local Ray
        plane.tick()  # no camera: nothing to run, and nothing fails
        assert plane.status()["cameras"] == {} and not plane.last.failed
        assert plane.placement()[0].get("jobs", []) == []

        # a retraining job starts: the next plan reserves its share of one worker, and the job's
        # Ray task is told that worker's node
        job = RetrainingJob("task-retrain-1", compute_ms_per_s=300.0, memory_mib=400.0)  # fits a 1-CPU node
        flywheel.start_task("training", "scene.road.smoke", total=1, detail={"job": asdict(job)})
        plane.tick()
        planned = {j["job"]: j["worker"] for j in plane.placement()[0]["jobs"]}
        assert set(planned) == {"task-retrain-1"}
        node = JobPlacement(plane, jobs)("task-retrain-1", timeout_s=0.0)
        assert node in {n.node_id for n in plane.cluster.nodes()}
        assert JobPlacement(plane)("no-such-job", timeout_s=0.0) is None
    finally:
        if plane is not None:
            plane.stop(shutdown=True)
        ray.shutdown()
        cluster.shutdown()
        catalog.close()
