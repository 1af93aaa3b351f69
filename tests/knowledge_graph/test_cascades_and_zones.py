"""Evidence readers as a cascade, and the track algorithms a camera's drawn zones ask for (issues 13 and 15)."""
from __future__ import annotations

from datetime import datetime

import pytest

from knowledge_graph import CityGraph, KnowledgeGraphError, evidence_cascades
from knowledge_graph.evaluation import CostModel, Judge, build_city

NOON = datetime(2024, 5, 1, 12, 30)  # a Wednesday
ROAD_ZONES = ["lane", "no_parking", "no_pedestrian"]


def _rel(graph: CityGraph, scene: str, zones=None, region: str = "suburbs"):
    graph.add_camera("c", region=region, scenes={scene: 0.9}, hints={"zones": zones} if zones else None)
    return graph.relevance("c", NOON)


def test_plate_reading_runs_only_where_the_parking_head_fires(graph):
    rel = _rel(graph, "road")
    for reader in ("detector.plate_haar", "ocr.text_ppocr"):
        ch = rel.get(reader)
        assert ch is not None and ch.cascaded  # pulled in only as evidence: a cascade
        assert "scene.road.illegal_parking" in ch.explanation.triggered_by
        assert "runs only while" in ch.explanation.text
    head = rel.get("scene.road.illegal_parking")
    assert not head.cascaded and not [c for c in rel.choices if c.algorithm_id.startswith("track.")]  # no zones: no tracks


def test_the_banner_reader_is_triggered_by_the_banner_head_alone(graph):
    rel = _rel(graph, "market_street", region="old_town")
    ocr = rel.get("ocr.text_ppocr")
    assert "scene.market_street.illegal_banner" in ocr.explanation.triggered_by
    # the plate detector is started by the vehicle heads, never by the banner head
    plates = rel.get("detector.plate_haar").explanation.triggered_by
    assert "scene.market_street.illegal_parking" in plates and "scene.market_street.illegal_banner" not in plates


@pytest.mark.parametrize(
    ("zone", "track", "head"),
    [
        ("no_parking", "track.illegal_parking", "scene.road.illegal_parking"),
        ("lane", "track.wrong_way", "scene.road.wrong_way_driving"),
        ("no_pedestrian", "track.pedestrian_on_road", "scene.road.pedestrian_on_motorway"),
    ],
)
def test_a_drawn_zone_makes_the_graph_choose_the_track_algorithm_woken_by_the_head(graph, zone, track, head):
    rel = _rel(graph, "road", [zone])
    ch = rel.get(track)
    assert ch is not None, rel.algorithm_ids()
    assert ch.explanation.triggered_by == (head,)  # a wake-up cascade: the cheap head wakes the tracker
    assert rel.get(head) is not None and "wakes " + track in rel.get(head).explanation.text
    assert ("camera:c", f"zone:{zone}", f"algorithm:{track}") in ch.explanation.paths
    g = graph.networkx(["c"])
    for path in ch.explanation.paths:  # every path walks real edges of the graph
        assert all(g.has_edge(u, v) or g.has_edge(v, u) for u, v in zip(path, path[1:])), path
    assert ch.explanation.event_types == rel.get(head).explanation.event_types


def test_vtest_like_road_camera_gets_every_track_algorithm_its_zones_ask_for(graph):
    rel = _rel(graph, "road", [*ROAD_ZONES, "crowd"], region="university")
    tracks = sorted(a for a in rel.algorithm_ids() if a.startswith("track."))
    assert tracks == ["track.crowd_gathering", "track.illegal_parking", "track.pedestrian_on_road", "track.wrong_way"]
    # crowd gathering is no road event: the drawn crowd zone is the request, and no head wakes it
    crowd = rel.get("track.crowd_gathering")
    assert not crowd.cascaded and crowd.explanation.paths == (("camera:c", "zone:crowd", "algorithm:track.crowd_gathering"),)
    assert "detector.coco_nanodet" not in rel.algorithm_ids()  # the track hub runs it: not a second time


def test_an_intrusion_zone_asks_for_intrusion_but_loitering_only_where_it_can_happen(graph):
    park = _rel(graph, "park", ["intrusion"])  # intrusion is demand-only: no task at noon, the zone asks
    assert park.get("track.zone_intrusion") is not None and park.get("track.loitering") is None
    # the park's intrusion head (watched only on demand) is selected all day to wake the tracker
    assert park.get("track.zone_intrusion").explanation.triggered_by == ("scene.park.intrusion_after_hours",)
    assert park.get("scene.park.intrusion_after_hours") is not None
    graph.remove_camera("c")
    lobby = _rel(graph, "building_lobby", ["intrusion"], region="downtown")
    assert lobby.get("track.loitering") is not None  # loitering can happen in a lobby: the zone serves it there


def test_unknown_zone_kind_is_refused_with_the_valid_kinds(graph):
    with pytest.raises(KnowledgeGraphError, match=r"zone kinds \['no_parkng'\].*'no_parking'"):
        graph.add_camera("c", region="suburbs", scenes={"road": 0.9}, hints={"zones": ["no_parkng"]})


def test_zones_survive_a_journal_reload(ontology, tmp_path):
    path = tmp_path / "j.jsonl"
    g = CityGraph(ontology, journal=path, fsync=False)
    g.add_camera("c", region="suburbs", scenes={"road": 0.9}, hints={"zones": ["no_parking"]})
    g.close()
    again = CityGraph(ontology, journal=path, fsync=False)
    assert again.camera("c").zones == frozenset({"no_parking"})
    assert "track.illegal_parking" in again.relevance("c", NOON).algorithm_ids()
    again.close()


def test_zones_edited_in_place_keep_the_scene_links_and_feedback_and_undo(graph):
    graph.add_camera("c", region="suburbs", scenes={"road": 0.9})
    graph.record_rejection("c", "scene.road.pothole", alert_id="a-1")
    assert graph.set_camera_zones("c", []) is None  # nothing changed: no change recorded
    change = graph.set_camera_zones("c", ["no_parking"])
    rel = graph.relevance("c", NOON)
    assert "track.illegal_parking" in rel.algorithm_ids() and graph.camera("c").scenes == (("road", 0.9),)
    assert "1 rejected" in rel.get("scene.road.pothole").explanation.text  # learned feedback kept
    assert "zones [] -> ['no_parking']" in change.reason
    graph.undo(change.change_id)
    assert graph.camera("c").zones == frozenset() and "track.illegal_parking" not in graph.relevance("c", NOON).algorithm_ids()


def test_the_runtime_cascade_rules_match_the_graphs_triggers(graph):
    """The stage's rule (runtime.Cascade from evidence_cascades) starts each cascaded choice by
    exactly the algorithms the graph names as its triggers."""
    from runtime import Cascade

    rules = {a: Cascade.of(r) for a, r in evidence_cascades().items()}
    assert rules["ocr.text_ppocr"].triggers[0].crop_from == "detector.plate_haar"
    assert rules["track.illegal_parking"].hold_s == graph.ontology.wake_hold_s == 300
    for scene, zones in (("road", ROAD_ZONES), ("market_street", None), ("bus_stop", ["no_parking", "crowd"])):
        rel = _rel(graph, scene, zones, region="old_town")
        ids = rel.algorithm_ids()
        for ch in rel.choices:
            if ch.cascaded:
                assert set(rules[ch.algorithm_id].triggers_on(ids)) == set(ch.explanation.triggered_by), ch.algorithm_id
        graph.remove_camera("c")


def test_plate_and_text_readers_reread_as_the_ontology_says_and_the_people_counter_at_the_runtimes_default(graph):
    import dataclasses

    from runtime import Cascade

    rules = {a: Cascade.of(r) for a, r in evidence_cascades().items()}
    assert rules["ocr.text_ppocr"].reread_s == rules["detector.plate_haar"].reread_s == 60.0  # a parked car's plate
    default = {f.name: f.default for f in dataclasses.fields(Cascade)}["reread_s"]
    assert rules["detector.people_hog"].reread_s == default == CostModel.reread_s  # one default, both sides


@pytest.mark.parametrize(
    ("deps", "match"),
    [
        ([{"algorithms": "scene.*.x", "requires": ["ocr.text_ppocr"], "cascade": True, "reread_s": -1}], r"reread_s=-1"),
        ([{"algorithms": "scene.*.x", "requires": ["ocr.text_ppocr"], "reread_s": 60}], r"reread_s needs cascade: true"),
        ([{"algorithms": "scene.*.x", "requires": ["ocr.text_ppocr"], "cascade": True, "reread_s": 60},
          {"algorithms": "scene.*.y", "requires": ["ocr.text_ppocr"], "cascade": True}], r"reader ocr.text_ppocr: some of"),
    ],
)
def test_a_bad_reread_is_refused_naming_the_value(tmp_path, deps, match):
    import yaml

    from knowledge_graph import read_ontology_yaml

    raw = read_ontology_yaml()
    raw["dependencies"] = deps
    path = tmp_path / "o.yaml"
    path.write_text(yaml.safe_dump(raw))
    with pytest.raises(KnowledgeGraphError, match=match):
        evidence_cascades(path)


# -- the cost model the benchmark uses -----------------------------------------------------
MS = {"ocr.text_ppocr": 1000.0, "detector.plate_haar": 100.0, "detector.coco_nanodet": 50.0, "detector.face_mtcnn": 60.0}


@pytest.fixture(scope="module")
def road_city():
    return build_city(cameras_per_scene=2, scenes=["road"], zone_share=1.0)


@pytest.mark.parametrize(
    ("false_fire_share", "reader_runs_at_most"),
    [
        (0.0, 0.05),  # only real parking events start the readers
        (0.01, 0.1),  # each trigger also fires falsely on 1% of frames
    ],
)
def test_a_cascaded_reader_costs_its_cost_times_the_share_of_frames_its_triggers_fire(graph, road_city, false_fire_share,
                                                                                       reader_runs_at_most):
    cam = road_city.cameras[0]
    graph.add_camera(cam.camera_id, region=cam.region, scenes={"road": 0.9})
    costs = CostModel(MS, backbone_ms=5.0, false_fire_share=false_fire_share)
    judge = Judge(graph.index, costs)
    sel = graph.relevance(cam.camera_id, NOON).algorithm_ids()
    share = judge.shares(cam, sel, NOON)
    assert share["scene.road.fire"] == 1.0 and 0.0 < share["ocr.text_ppocr"] <= reader_runs_at_most
    always_on = costs.of(sel, judge.kinds)
    assert always_on >= 1100.0  # the former model: the readers on every frame
    expected = always_on - 1000.0 * (1 - share["ocr.text_ppocr"]) - 100.0 * (1 - share["detector.plate_haar"])
    assert judge.cost(cam, sel, NOON) == pytest.approx(expected)
    # the every-algorithm set is costed by the same model, its readers a cascade too
    every = judge.every_cost(cam, NOON)
    assert every < costs.of(judge.production, judge.kinds) and judge.cost(cam, sel, NOON) < every


def test_track_algorithms_share_one_nanodet_pass_and_are_woken_by_their_heads(graph, road_city):
    cam = road_city.cameras[1]
    assert set(ROAD_ZONES) <= set(cam.zones)
    graph.add_camera(cam.camera_id, region=cam.region, scenes={"road": 0.9}, hints={"zones": list(cam.zones)})
    judge = Judge(graph.index, CostModel(MS, backbone_ms=5.0, false_fire_share=0.0))
    sel = graph.relevance(cam.camera_id, NOON).algorithm_ids()
    tracks = [a for a in sel if a.startswith("track.")]
    assert len(tracks) == 3
    share = judge.shares(cam, sel, NOON)
    assert all(0.0 < share[t] < 1.0 for t in tracks)  # awake only after their heads fired
    base = judge.cost(cam, [a for a in sel if not a.startswith("track.")], NOON)
    union = 1.0
    for t in tracks:
        union *= 1.0 - share[t]
    assert judge.cost(cam, sel, NOON) == pytest.approx(base + 50.0 * (1.0 - union))  # NanoDet once, where any runs


def test_the_crowd_rule_also_pays_its_people_counter(graph, road_city):
    """track.crowd_gathering runs on NanoDet (shared by every track algorithm) and MoveNet (the hub's
    people counter): the cost model charges each source once, on the frames any of its algorithms runs."""
    cam = road_city.cameras[1]
    graph.add_camera(cam.camera_id, region=cam.region, scenes={"road": 0.9}, hints={"zones": [*ROAD_ZONES, "crowd"]})
    assert graph.index.shared_sources_of("track.crowd_gathering") == ("detector.coco_nanodet", "detector.movenet_people")
    assert graph.index.shared_sources_of("track.wrong_way") == ("detector.coco_nanodet",)
    judge = Judge(graph.index, CostModel({**MS, "detector.movenet_people": 80.0}, backbone_ms=5.0, false_fire_share=0.0))
    sel = graph.relevance(cam.camera_id, NOON).algorithm_ids()
    assert "track.crowd_gathering" in sel
    without = [a for a in sel if a != "track.crowd_gathering"]
    share = judge.shares(cam, sel, NOON)["track.crowd_gathering"]
    assert share == 1.0  # no head wakes it on a road: it runs on every frame, and so does NanoDet
    idle = 1.0  # share of frames on which no other track algorithm runs (NanoDet paid for the rest already)
    for t, s in judge.shares(cam, without, NOON).items():
        idle *= (1.0 - s) if t.startswith("track.") else 1.0
    assert judge.cost(cam, sel, NOON) == pytest.approx(judge.cost(cam, without, NOON) + 80.0 + 50.0 * idle)
    graph.remove_camera(cam.camera_id)


def test_a_reader_that_rereads_less_often_costs_less_in_the_cost_model(graph, road_city):
    cam = road_city.cameras[0]
    graph.add_camera(cam.camera_id, region=cam.region, scenes={"road": 0.9})
    judge = Judge(graph.index, CostModel(MS, backbone_ms=5.0, false_fire_share=0.0))
    sel = graph.relevance(cam.camera_id, NOON).algorithm_ids()
    trig = judge.triggers("ocr.text_ppocr", sel)
    assert judge.rules["ocr.text_ppocr"][2] == 60.0 and trig
    every_10s, every_60s = (judge.run_share(cam, trig, NOON, 0.0, r) for r in (10.0, 60.0))
    assert 0.0 < every_60s < every_10s  # a parked car read 1 + 300/60 times, not 1 + 300/10
    assert judge.shares(cam, sel, NOON)["ocr.text_ppocr"] == pytest.approx(every_60s)
