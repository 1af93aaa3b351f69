"""Zones edited on a registered camera reach the graph in place: its track algorithms follow,
its scene links and learned feedback stay (no re-discovery), and its choices are asked again."""
from __future__ import annotations

from knowledge_graph import CityGraph, load_ontology
from tests.knowledge_graph.conftest import build_catalog_specs
from warehouse.control import ControlPlane
from warehouse.ops import CameraRecord, OpsStore, Zone

NO_PARKING = Zone("bay", "no_parking", ((10, 10), (200, 10), (200, 120), (10, 120)))


def test_edited_zones_reach_the_graph_without_relinking(tmp_path):
    ops = OpsStore(f"sqlite:///{tmp_path / 'ops.db'}")
    ops.add_camera(CameraRecord("cam-1", "suburbs", "synthetic://road?seed=1", {"scenes": ["road"]}))
    graph = CityGraph(load_ontology(algorithms=build_catalog_specs()))
    plane = ControlPlane(ops=ops, catalog=None, graph=graph, cluster=None)
    plane._refresh_cameras()
    assert graph.camera("cam-1").zones == frozenset()
    graph.record_rejection("cam-1", "scene.road.pothole", alert_id="a-1")  # learned from an operator
    plane._choices["cam-1"] = []  # what the loop had asked the graph before

    ops.set_zones("cam-1", [NO_PARKING])
    plane._refresh_cameras()
    assert graph.camera("cam-1").zones == frozenset({"no_parking"})
    assert "cam-1" not in plane._choices  # asked again on the next pass
    rel = graph.relevance("cam-1")
    assert "track.illegal_parking" in rel.algorithm_ids()
    assert "1 rejected" in rel.get("scene.road.pothole").explanation.text  # the feedback survived: no re-link
    assert plane._cameras["cam-1"].zones["items"][0]["kind"] == "no_parking"  # the worker gets the drawn zone

    ops.set_zones("cam-1", [])
    plane._refresh_cameras()
    assert graph.camera("cam-1").zones == frozenset() and "track.illegal_parking" not in graph.relevance("cam-1").algorithm_ids()
