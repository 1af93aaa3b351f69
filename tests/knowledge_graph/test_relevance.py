"""Relevance per camera and time: scenes, negative knowledge, governance windows, dependencies."""
from __future__ import annotations

from datetime import datetime

import pytest

from catalog import TaxonomyError
from knowledge_graph import CityGraph, KnowledgeGraphError, UnknownCameraError, load_ontology

NIGHT = datetime(2024, 5, 1, 23, 0)  # a Wednesday
NOON = datetime(2024, 5, 1, 12, 0)
PARKING_EVENTS = {"illegal_parking", "parking_outside_lines", "occupied_disabled_space"}


def _events(rel):
    return {e for c in rel.choices for e in c.explanation.event_types}


@pytest.mark.parametrize(
    "scenes",
    [
        {"seafront": 0.95},  # pure seafront
        {"seafront": 0.6, "road": 0.35},  # coastal road glimpse: primary scene still the sea
        {"seafront": 0.5, "parking_lot": 0.45},  # a beach car park in view
    ],
)
def test_seafront_camera_never_gets_parking(graph, scenes):
    graph.add_camera("sea", region="coast", scenes=scenes)
    for at in (NIGHT, NOON):
        rel = graph.relevance("sea", at)
        assert not _events(rel) & PARKING_EVENTS
        assert not {"ocr.text_ppocr", "detector.plate_haar"} & set(rel.algorithm_ids())
    if "road" in scenes:  # the excluded event is reported with the rule that excluded it
        ex = {x.subject: x for x in graph.relevance("sea", NOON).excluded}
        assert ex["event:illegal_parking"].rule_id == "seafront_no_traffic"


def test_generic_live_catalog_parking_model_not_scheduled_at_sea(raw, catalog_specs):
    # a scene-independent vendor model for illegal parking (catalog scene tag "any")
    ont = load_ontology(raw, algorithms=[*catalog_specs, {"id": "vendor.parking_any", "kind": "onnx_model",
                                                          "event_types": ["illegal_parking"], "scene_tags": ["any"]}])
    g = CityGraph(ont)
    g.add_camera("sea", region="coast", scenes={"seafront": 0.9, "road": 0.3})
    g.add_camera("street", region="downtown", scenes={"road": 0.9})
    assert "vendor.parking_any" not in g.relevance("sea", NOON).algorithm_ids()
    # the specific head outranks the generic model where the scene is known
    assert "scene.road.illegal_parking" in g.relevance("street", NOON).algorithm_ids()


def test_same_camera_on_a_road_gets_parking_with_plate_reading(graph):
    graph.add_camera("street", region="downtown", scenes={"road": 0.9})
    rel = graph.relevance("street", NOON)
    assert "scene.road.illegal_parking" in rel.algorithm_ids()
    # pulled in: the plate detector finds the plate, the text reader reads its crop
    reader = rel.get("ocr.text_ppocr").explanation
    assert "scene.road.illegal_parking" in reader.required_by
    assert reader.paths[0] == ("camera:street", "scene:road", "event:illegal_parking", "algorithm:scene.road.illegal_parking",
                               "algorithm:ocr.text_ppocr")
    assert "plate number" in reader.reasons[0]
    haar = rel.get("detector.plate_haar").explanation
    assert haar.paths[0][-2:] == ("algorithm:scene.road.illegal_parking", "algorithm:detector.plate_haar")
    assert rel.get("scene.road.illegal_parking").explanation.dependencies == ("detector.plate_haar", "ocr.text_ppocr")
    # a dependency inherits its dependent's priority and rate
    assert rel.get("detector.plate_haar").priority == rel.get("scene.road.illegal_parking").priority


def test_banner_text_needs_the_reader_but_no_plate_detector(graph):
    # a plaza has banners (text to read) but no parking: no plate detector there
    graph.add_camera("market", region="old_town", scenes={"plaza": 0.9})
    rel = graph.relevance("market", NOON)
    assert rel.get("ocr.text_ppocr").explanation.required_by == ("scene.plaza.illegal_banner",)
    assert "detector.plate_haar" not in rel.algorithm_ids()


def test_night_only_task_active_at_23_not_at_noon(graph):
    graph.add_camera("park", region="suburbs", scenes={"park": 0.9})
    night, noon = graph.relevance("park", NIGHT), graph.relevance("park", NOON)
    # intrusion_after_hours is demand-only: asked for only by the 22:00-06:00 task
    alg = "scene.park.intrusion_after_hours"
    assert alg in night.algorithm_ids() and alg not in noon.algorithm_ids()
    choice = night.get(alg)
    assert choice.explanation.governance_task_ids == ("after_hours_security",)
    assert (choice.priority, choice.fps) == (75, 2.0)
    assert ("camera:park", "region:suburbs", "region:city", "task:after_hours_security", "event:intrusion_after_hours",
            "algorithm:" + alg) in choice.explanation.paths


def test_task_scene_and_weekday_filters(graph):
    graph.add_camera("school", region="university", scenes={"school_gate": 0.8})
    graph.add_camera("lobby", region="university", scenes={"building_lobby": 0.8})
    wed_8, sat_8 = datetime(2024, 5, 1, 8, 0), datetime(2024, 5, 4, 8, 0)
    fight = "scene.school_gate.fighting"
    assert "school_safety" in graph.relevance("school", wed_8).get(fight).explanation.governance_task_ids
    assert "school_safety" not in graph.relevance("school", sat_8).get(fight).explanation.governance_task_ids
    # the task is limited to school gates: a lobby's fighting head stays at baseline
    assert graph.relevance("lobby", wed_8).get("scene.building_lobby.fighting").priority == 10


def test_task_asking_for_an_algorithm(graph):
    graph.add_camera("gate", region="suburbs", scenes={"residential_gate": 0.7})
    face = graph.relevance("gate", NOON).get("detector.face_mtcnn")
    assert face is not None and face.explanation.governance_task_ids == ("residential_access",)
    assert face.explanation.paths[0][-2:] == ("task:residential_access", "algorithm:detector.face_mtcnn")


def test_region_negative_rule_beats_governance(graph):
    graph.add_camera("harbor", region="harbor", scenes={"seafront": 0.9})
    rel = graph.relevance("harbor", NOON)
    assert "swimming_in_prohibited_area" not in _events(rel)
    assert any(x.rule_id == "harbor_no_bathing" for x in rel.excluded)


def test_weak_scene_links_are_ignored_and_hints_exclude(graph):
    graph.add_camera("c", region="downtown", scenes={"plaza": 0.8, "tunnel": 0.1},
                     hints={"exclude_events": ["drone_flying"]})
    rel = graph.relevance("c", NOON)
    assert not any(a.startswith("scene.tunnel.") for a in rel.algorithm_ids())
    assert "drone_flying" not in _events(rel)
    assert any(x.subject == "event:drone_flying" and "hints" in x.reason for x in rel.excluded)


def test_scene_monitors_only_for_primary_scene(graph):
    graph.add_camera("c", region="riverside", scenes={"river_bank": 0.7, "park": 0.3})
    ids = graph.relevance("c", NOON).algorithm_ids()
    # the runtime's readouts whose scene tags name river_bank (lakeside sums lakeside/dam/boathouse)
    assert {"imagenet.lakeside", "imagenet.pier", "imagenet.small_boat"} <= set(ids)
    assert "imagenet.park_bench" not in ids  # a park signal; park is not primary


def test_choices_sorted_and_explained(graph):
    graph.add_camera("c", region="old_town", scenes={"market_street": 0.7, "sidewalk": 0.5})
    rel = graph.relevance("c", NOON)
    keys = [(-c.priority, -c.score, c.algorithm_id) for c in rel.choices]
    assert keys == sorted(keys)
    for c in rel.choices:
        assert c.explanation.paths and all(p[-1] == "algorithm:" + c.algorithm_id for p in c.explanation.paths)
        assert c.explanation.text


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"region": "atlantis", "scenes": {"road": 1.0}}, KnowledgeGraphError, r"unknown region 'atlantis'"),  # region
        ({"region": "city", "scenes": {"beach": 1.0}}, TaxonomyError, r"unknown scene 'beach'"),  # scene
        ({"region": "city", "scenes": {"road": 1.5}}, KnowledgeGraphError, r"confidence 1.5 .* outside \[0, 1\]"),  # range
        ({"region": "city", "scenes": {"road": 1}, "hints": {"face": []}}, KnowledgeGraphError, r"unknown hint 'face'"),  # hint
    ],
)
def test_add_camera_validates(graph, kwargs, error, match):
    with pytest.raises(error, match=match):
        graph.add_camera("x", **kwargs)


def test_unknown_camera_says_how_to_register(graph):
    with pytest.raises(UnknownCameraError, match=r"unknown camera 'nope'.*add_camera"):
        graph.relevance("nope", NOON)


def test_explain_one_algorithm(graph):
    graph.add_camera("sea", region="coast", scenes={"seafront": 0.9})
    exp = graph.explain("sea", NOON, algorithm_id="scene.seafront.person_in_water")
    assert exp.governance_task_ids == ("maritime_rescue",)
    with pytest.raises(KnowledgeGraphError, match=r"'ocr\.text_ppocr' does not run on camera 'sea'"):
        graph.explain("sea", NOON, algorithm_id="ocr.text_ppocr")
    report = graph.explain("sea", NOON)
    assert report.to_dict()["camera"]["primary_scene"] == "seafront"
    assert "camera sea in region coast" in report.text()


def test_scene_hint_is_respected_as_the_primary_link(graph):
    # discovery said sidewalk; the installer typed "bus_stop": the hint leads, discovery stays beside it
    graph.add_camera("c", region="downtown", scenes={"sidewalk": 0.55, "bus_stop": 0.3}, hints={"scene": "bus_stop"})
    assert graph.camera("c").scenes[0] == ("bus_stop", 0.9) and ("sidewalk", 0.55) in graph.camera("c").scenes
    assert "scene hint 'bus_stop' respected" in graph.changes("c")[-1].reason
    with pytest.raises(TaxonomyError, match="busstop"):
        graph.add_camera("d", region="downtown", scenes={}, hints={"scene": "busstop"})
