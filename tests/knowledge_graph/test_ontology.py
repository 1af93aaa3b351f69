"""Loading validates the ontology: each problem is an error naming the node and the fix."""
from __future__ import annotations

import pytest

from catalog import load_taxonomy
from knowledge_graph import OntologyError, load_ontology
from knowledge_graph.timewindow import TimeWindow


def test_bundled_ontology_loads_with_default_algorithm_set(ontology):
    tax = load_taxonomy()
    # one head per allowed (scene, event) pair, with the id the catalog registers
    for scene, event in tax.scene_event_pairs():
        alg = ontology.algorithms[f"scene.{scene}.{event}"]
        assert (alg.kind, alg.scene_tags, alg.event_types) == ("classification_head", (scene,), (event,))
    assert ontology.algorithms["ocr.text_ppocr"].depends_on == ("detector.plate_haar",)
    assert ontology.algorithms["imagenet.seashore"].scene_tags == ("seafront",)


def _dangling_dependency(raw):
    raw["dependencies"].append({"algorithms": "scene.*.traffic_jam", "requires": ["detector.vehicle_haar"]})


def _cycle(raw):
    raw["algorithms"]["detector.plate_haar"]["depends_on"] = ["ocr.text_ppocr"]


def _undetected_event(raw):
    # drop the generated heads and give dead_fish no detector
    raw["algorithm_sets"] = []


def _unknown_scene_tag(raw):
    raw["algorithms"]["detector.beach_umbrella"] = {"kind": "detector", "scene_tags": ["beach"], "objects": ["person"]}


def _task_region(raw):
    raw["governance_tasks"]["fire_safety"]["regions"] = ["atlantis"]


def _negative_event_typo(raw):
    raw["negative"][0]["never_events"].append("ilegal_parking")


def _bad_window(raw):
    raw["governance_tasks"]["after_hours_security"]["windows"] = ["25:00-06:00"]


def _region_parent(raw):
    raw["regions"]["pier_7"] = {"name": "Pier 7", "parent": "harbour"}


def _task_asks_nothing(raw):
    raw["governance_tasks"]["empty_task"] = {"department": "x", "regions": ["city"]}


def _unknown_object(raw):
    raw["algorithms"]["detector.kite"] = {"kind": "detector", "objects": ["kite"]}


@pytest.mark.parametrize(
    "mutate, match",
    [
        # a dependency on an algorithm nobody registered
        (_dangling_dependency, r"algorithm 'scene\.\w+\.traffic_jam': depends on 'detector\.vehicle_haar'.*register it"),
        # plate_haar <-> ocr.text_ppocr
        (_cycle, r"dependency cycle .*(ocr\.text_ppocr -> detector\.plate_haar|detector\.plate_haar -> ocr\.text_ppocr).*remove one"),
        # an event type that no algorithm detects
        (_undetected_event, r"event type 'dead_fish': no algorithm detects it; register one"),
        # a scene tag outside the taxonomy
        (_unknown_scene_tag, r"algorithm 'detector\.beach_umbrella': unknown scene tag 'beach'"),
        # a governance task in a region that does not exist
        (_task_region, r"governance task 'fire_safety': unknown region 'atlantis'"),
        # typo in negative knowledge, with a suggestion
        (_negative_event_typo, r"negative rule 'seafront_no_traffic': unknown event type 'ilegal_parking'.*did you mean 'illegal_parking'"),
        # a malformed time window
        (_bad_window, r"governance task 'after_hours_security': time window '25:00-06:00' has an invalid clock time"),
        # a region whose parent is missing
        (_region_parent, r"region 'pier_7': parent 'harbour' is not a region.*did you mean 'harbor'"),
        # a task that asks for nothing
        (_task_asks_nothing, r"governance task 'empty_task': asks for nothing"),
        # an object class missing from object_classes
        (_unknown_object, r"algorithm 'detector\.kite': unknown object class 'kite'"),
    ],
)
def test_validation_errors_name_node_and_fix(raw, mutate, match):
    mutate(raw)
    with pytest.raises(OntologyError, match=match):
        load_ontology(raw)


def test_all_problems_reported_at_once(raw):
    _task_region(raw)
    _unknown_scene_tag(raw)
    with pytest.raises(OntologyError) as info:
        load_ontology(raw)
    assert len(info.value.problems) == 2
    assert isinstance(info.value, ValueError)


def test_live_catalog_list_replaces_defaults():
    # what catalog.Catalog.list_algorithms() gives: objects with id/kind/event_types/scene_tags
    tax = load_taxonomy()
    records = [{"id": f"vendor.{e}", "kind": "onnx_model", "event_types": (e,), "scene_tags": ("any",)} for e in tax.events]
    records += [{"id": "detector.plate_haar", "kind": "detector", "event_types": (), "scene_tags": ("any",)},
                {"id": "ocr.text_ppocr", "kind": "ocr", "event_types": (), "scene_tags": ("any",)},
                {"id": "detector.people_hog", "kind": "detector", "event_types": (), "scene_tags": ("any",)},
                {"id": "detector.face_mtcnn", "kind": "face_detector", "event_types": (), "scene_tags": ("any",)}]
    ont = load_ontology(algorithms=records)
    assert "scene.road.smoke" not in ont.algorithms
    # "any" is the catalog's marker for a scene-independent model
    assert ont.algorithms["vendor.smoke"].scene_tags == ()


def test_live_catalog_missing_dependency_target_is_dangling():
    records = [{"id": "scene.road.illegal_parking", "kind": "classification_head", "event_types": ("illegal_parking",),
                "scene_tags": ("road",)}]
    with pytest.raises(OntologyError, match=r"algorithm 'scene\.road\.illegal_parking': depends on 'ocr\.text_ppocr'"):
        load_ontology(algorithms=records, include_default_algorithms=False)


@pytest.mark.parametrize(
    "text, inside, outside",
    [
        ("22:00-06:00", [22 * 60, 23 * 60, 0, 5 * 60 + 59], [6 * 60, 12 * 60, 21 * 60 + 59]),  # wraps midnight
        ("07:00-09:00", [7 * 60, 8 * 60 + 59], [9 * 60, 6 * 60 + 59]),  # same day, end exclusive
        ("00:00-24:00", [0, 12 * 60, 23 * 60 + 59], []),  # all day
    ],
)
def test_time_windows(text, inside, outside):
    w = TimeWindow.parse(text)
    assert all(w.contains_minute(m) for m in inside)
    assert not any(w.contains_minute(m) for m in outside)
