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


def test_the_cheapest_cover_runs_a_reader_as_its_heads_cascade_only_while_that_is_cheaper():
    from knowledge_graph.evaluation.bound import _solve

    # event e: head h (1 ms, on the 20 ms backbone, needs reader r: 100 ms on every frame or
    # its cascade share) or detector d (30 ms)
    def pick(cascade_ms):
        return _solve({"h": 1.0, "r": 100.0, "d": 30.0}, needs=[{"h", "d"}], forced=set(),
                      requires={"h": {"bb", "r"}}, fixed={"bb": 20.0}, cascades={"r": {"h": cascade_ms}})

    assert pick(5.0) == ("h", "r")  # 1 + 20 + 5 < 30
    assert pick(15.0) == ("d",)  # 1 + 20 + 15 > 30
    assert _solve({"h": 1.0, "r": 100.0, "d": 30.0}, needs=[{"h", "d"}], forced={"r"}, requires={"h": {"bb", "r"}},
                  fixed={"bb": 20.0}, cascades={"r": {"h": 5.0}}) == ("h", "r")  # a task's reader: cascaded when a trigger is chosen


def test_the_cheapest_cover_has_full_recall_and_costs_no_more_than_the_graph(ontology, city, judge):
    from knowledge_graph.evaluation import cheapest_cover_selector

    g = CityGraph(ontology)
    for c in city.held_out:
        g.add_camera(c.camera_id, region=c.region, scenes={c.scene: 0.9})
    cover_sel = cheapest_cover_selector(judge)
    cover = summarize(score_cameras(judge, city.held_out, cover_sel, TIMES))
    graph = summarize(score_cameras(judge, city.held_out, graph_selector(g), TIMES))
    assert cover["recall"] == 1.0 and cover["precision"] == 1.0
    assert cover["cost_ms"] <= graph["cost_ms"] + 1e-9 and cover["compute_saved"] >= graph["compute_saved"] - 1e-9
    lobby = next(c for c in city.held_out if c.scene == "building_lobby")
    assert "detector.face_mtcnn" in cover_sel(lobby, TIMES[12])  # the residential-access task is served
    # its readers run as their heads' cascades, never on every frame: the cover's cost stays near the backbone's
    road = next(c for c in city.held_out if c.scene == "road")
    assert judge.cost(road, cover_sel(road, TIMES[12]), TIMES[12]) < judge.costs.backbone_ms + 100.0


def test_a_cost_breakdown_sums_to_the_cost_and_charges_a_shared_source_once(ontology, city, judge):
    road = next(c for c in city.held_out if c.scene == "road")
    tracks = [a for a in judge.production if judge.sources.get(a) == ("detector.coco_nanodet",)][:2]
    assert len(tracks) == 2
    sel = ["scene.road.illegal_parking", *tracks]
    parts = judge.breakdown(road, sel, TIMES[12])
    assert parts["backbone"] == judge.costs.backbone_ms and "detector.coco_nanodet" in parts
    assert sum(parts.values()) == pytest.approx(judge.cost(road, sel, TIMES[12]))
    assert parts["detector.coco_nanodet"] <= judge.costs.algorithm_ms["detector.coco_nanodet"]  # one pass, not one per track
