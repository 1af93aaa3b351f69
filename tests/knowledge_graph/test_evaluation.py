"""The measurement itself: the synthetic city's truth, the metrics, the baselines, self-evolution.

Costs here are fixed numbers (a detector 100x a head); the benchmark measures real ones.
"""
from __future__ import annotations

import pytest

from catalog import load_taxonomy
from knowledge_graph import CityGraph
from knowledge_graph.evaluation import (
    CostModel,
    Judge,
    OperatorModel,
    build_city,
    evaluation_times,
    every_selector,
    graph_selector,
    hint_selector,
    score_camera,
    score_cameras,
    simulate_recovery,
    summarize,
    undo_all,
)

TAX = load_taxonomy()
TIMES = evaluation_times()


@pytest.fixture(scope="module")
def city():
    return build_city(cameras_per_scene=2, seed=3)


@pytest.fixture()
def judge(ontology):
    costs = CostModel({a: (100.0 if n.kind in ("detector", "ocr", "face_detector") else 1.0) for a, n in ontology.algorithms.items()}, 20.0)
    return Judge(CityGraph(ontology).index, costs)


def test_city_truth_follows_the_generator_and_the_region(city):
    assert build_city(cameras_per_scene=2, seed=3) == city  # deterministic
    assert {c.scene for c in city.cameras} == set(TAX.scenes) and len(city.held_out) == len(TAX.scenes)
    for c in city.cameras:
        assert c.event_ids <= {e for e, ev in TAX.events.items() if c.scene in ev.scenes}
        if c.region == "harbor":  # no beach in the harbor: nobody swims there
            assert "swimming_in_prohibited_area" not in c.event_ids
    rare = [e for c in city.cameras for e in c.events if e.rare]
    assert rare and all(e.rate_per_day < 0.1 for e in rare)
    night = [e for c in city.cameras for e in c.events if e.event == "intrusion_after_hours"]
    assert night and all(e.occurs_at_hour(23) and not e.occurs_at_hour(12) for e in night)


def test_true_scenes_give_full_recall_and_beat_every_algorithm_on_precision_and_cost(ontology, city, judge):
    g = CityGraph(ontology)
    for c in city.held_out:
        g.add_camera(c.camera_id, region=c.region, scenes={c.scene: 0.9})
    graph = summarize(score_cameras(judge, city.held_out, graph_selector(g), TIMES))
    every = summarize(score_cameras(judge, city.held_out, every_selector(judge), TIMES))
    assert graph["recall"] == 1.0 and graph["rare_recall"] == 1.0
    assert every["recall"] == 1.0 and every["compute_saved"] == 0.0
    assert graph["precision"] > 0.9 > every["precision"]
    assert graph["compute_saved"] > 0.5


def test_a_wrong_scene_loses_recall_and_a_budget_cuts_a_selection(ontology, city, judge):
    cam = next(c for c in city.held_out if c.scene == "road")
    g = CityGraph(ontology)
    g.add_camera(cam.camera_id, region=cam.region, scenes={"seafront": 0.9})
    s = score_camera(judge, cam, graph_selector(g), TIMES)
    assert s.recall < 0.5 and "vehicle_breakdown" in s.missed and s.precision < 0.5
    cut = score_camera(judge, cam, every_selector(judge), TIMES, budget=lambda c, at: 200.0)
    assert cut.cost_ms <= 200.0 + 1e-9 and cut.recall < 1.0


def test_hint_baseline_links_only_the_typed_scene(ontology, city, judge):
    cams = city.held_out
    sel = hint_selector(CityGraph(ontology), cams)
    for c in cams:
        s = score_camera(judge, c, sel, TIMES[:2])
        if c.hint_scene is None:
            assert s.selected == 0 and s.recall == 0.0


def test_a_mislinked_camera_recovers_from_operator_feedback_and_every_change_undoes(ontology, city, judge):
    cam = next(c for c in city.held_out if c.scene == "road")
    g = CityGraph(ontology)
    g.add_camera(cam.camera_id, region=cam.region, scenes={"intersection": 0.75})
    initial = g.relevance(cam.camera_id, TIMES[12]).algorithm_ids()
    r = simulate_recovery(g, Judge(g.index, judge.costs), cam, prior="intersection", times=TIMES, operator=OperatorModel(), seed=1)
    assert r.recovered and r.recall >= 0.98 and r.precision >= 0.9
    assert g.camera(cam.camera_id).primary_scene == "road"
    assert any(ch.kind == "scene_revised" for ch in r.changes) and r.explained()
    undo_all(g, r.changes)
    assert g.relevance(cam.camera_id, TIMES[12]).algorithm_ids() == initial
