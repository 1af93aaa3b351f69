"""Loading validates the ontology: each problem is an error naming the node and the fix."""
from __future__ import annotations

from datetime import datetime

import pytest

from catalog import load_taxonomy, readout_id, scene_head_id
from knowledge_graph import CityGraph, OntologyError, catalog_gaps, load_ontology
from knowledge_graph.timewindow import TimeWindow

NOON = datetime(2024, 5, 1, 12, 0)


def test_algorithm_nodes_are_the_catalog_records(ontology, catalog_specs):
    # exactly the catalog's ids: no algorithm of the graph's own
    assert set(ontology.algorithms) == {s.id for s in catalog_specs}
    tax = load_taxonomy()
    for scene, event in tax.scene_event_pairs():
        alg = ontology.algorithms[scene_head_id(scene, event)]
        assert (alg.kind, alg.scene_tags, alg.event_types) == ("classification_head", (scene,), (event,))
    # readouts are the runtime's 25 readout classes, with their ids and scene tags
    from runtime.detectors import CITY_READOUT_CLASSES

    readouts = {a for a, n in ontology.algorithms.items() if n.kind == "imagenet_readout"}
    assert readouts == {readout_id(c.slug) for c in CITY_READOUT_CLASSES}
    assert ontology.algorithms[readout_id("seashore")].scene_tags == ("seafront",)
    # a detector's objects come from its catalog labels
    assert ontology.algorithms["detector.people_hog"].objects == ("person",)


def test_algorithms_are_required():
    with pytest.raises(OntologyError, match=r"come from the catalog.*catalog\.list_algorithms"):
        load_ontology(algorithms=None)


def test_yaml_listing_algorithms_is_refused(raw, catalog_specs):
    raw["algorithms"] = {"detector.kite": {"kind": "detector"}}
    with pytest.raises(OntologyError, match=r"unknown key\(s\) \['algorithms'\].*come from the catalog"):
        load_ontology(raw, algorithms=catalog_specs)


def _cycle(raw):
    raw["dependencies"].append({"algorithms": "detector.plate_haar", "requires": ["ocr.text_ppocr"]})
    raw["dependencies"].append({"algorithms": "ocr.text_ppocr", "requires": ["detector.plate_haar"]})


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


def _no_requires(raw):
    raw["dependencies"].append({"algorithms": "scene.*.fire", "requires": []})


@pytest.mark.parametrize(
    "mutate, match",
    [
        # plate_haar <-> ocr.text_ppocr
        (_cycle, r"dependency cycle .*(ocr\.text_ppocr -> detector\.plate_haar|detector\.plate_haar -> ocr\.text_ppocr).*remove one"),
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
        # a dependency rule that requires nothing
        (_no_requires, r"dependency 'scene\.\*\.fire': `requires` is empty"),
    ],
)
def test_validation_errors_name_node_and_fix(raw, catalog_specs, mutate, match):
    mutate(raw)
    with pytest.raises(OntologyError, match=match):
        load_ontology(raw, algorithms=catalog_specs)


@pytest.mark.parametrize(
    "record, match",
    [
        # a scene tag outside the taxonomy
        ({"id": "detector.beach_umbrella", "kind": "detector", "scene_tags": ["beach"]}, r"'detector\.beach_umbrella': unknown scene tag 'beach'"),
        # an object class missing from object_classes
        ({"id": "detector.kite", "kind": "detector", "objects": ["kite"]}, r"'detector\.kite': unknown object class 'kite'"),
    ],
)
def test_bad_catalog_record_is_a_problem(catalog_specs, record, match):
    with pytest.raises(OntologyError, match=match):
        load_ontology(algorithms=[*catalog_specs, record])


def test_all_problems_reported_at_once(raw, catalog_specs):
    _task_region(raw)
    _task_asks_nothing(raw)
    with pytest.raises(OntologyError) as info:
        load_ontology(raw, algorithms=catalog_specs)
    assert len(info.value.problems) == 2
    assert isinstance(info.value, ValueError)


def test_partial_catalog_loads_and_reports_its_gaps():
    # a catalog being filled: one parking head, no OCR, no plate detector
    records = [{"id": "scene.road.illegal_parking", "kind": "classification_head", "event_types": ("illegal_parking",),
                "scene_tags": ("road",)}]
    ont = load_ontology(algorithms=records)
    gaps = catalog_gaps(ont)
    assert any("'scene.road.illegal_parking': depends on 'ocr.text_ppocr', which the catalog does not hold" in g for g in gaps)
    assert any(g.startswith("event type 'dead_fish': no algorithm with a production version") for g in gaps)
    # relevance never chooses what the catalog lacks: the head runs without its plate evidence, and says so
    g = CityGraph(ont)
    g.add_camera("street", region="downtown", scenes={"road": 0.9})
    rel = g.relevance("street", NOON)
    assert rel.algorithm_ids() == ["scene.road.illegal_parking"]
    notes = rel.get("scene.road.illegal_parking").explanation.feedback
    assert any(n.startswith("runs without ocr.text_ppocr") and "the catalog does not hold it" in n for n in notes)
    assert {x.subject for x in rel.excluded} >= {"algorithm:ocr.text_ppocr", "algorithm:detector.plate_haar"}


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


def test_a_partial_catalog_is_quiet_but_a_mistyped_dependency_pattern_warns(raw, catalog_specs, caplog):
    import logging

    road_only = [s for s in catalog_specs if s.id.startswith("scene.road.")][:5]
    with caplog.at_level(logging.WARNING, logger="knowledge_graph.validate"):
        load_ontology(raw, algorithms=road_only)  # many rules' algorithms are simply not built yet
    assert not [r for r in caplog.records if "dependency patterns" in r.getMessage()]
    raw["dependencies"].append({"algorithms": "scene.*.ilegal_parking", "requires": ["detector.plate_haar"]})
    with caplog.at_level(logging.WARNING, logger="knowledge_graph.validate"):
        load_ontology(raw, algorithms=road_only)
    (warned,) = [r.getMessage() for r in caplog.records if "dependency patterns" in r.getMessage()]
    assert "scene.*.ilegal_parking" in warned and "scene.*.illegal_parking" not in warned
