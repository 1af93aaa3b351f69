"""Learning from operators: rejections pause, undo restores, misses add, the journal persists."""
from __future__ import annotations

from datetime import datetime

import pytest

from knowledge_graph import CityGraph, KnowledgeGraphError, UnknownCameraError, UnknownChangeError

NOON = datetime(2024, 5, 1, 12, 0)
LITTER = "scene.seafront.litter"


@pytest.fixture()
def sea(graph) -> CityGraph:
    graph.add_camera("sea", region="coast", scenes={"seafront": 0.9})
    return graph


def test_rejections_lower_then_pause_then_undo_restores(sea):
    policy = sea.ontology.feedback
    base = sea.relevance("sea", NOON).get(LITTER).score
    changes = []
    for i in range(20):
        changes.append(sea.record_rejection("sea", LITTER, alert_id=f"a{i}"))
        if sea.is_paused("sea", LITTER):
            break
    n = len(changes)
    # paused exactly when the policy says so, not before
    assert policy.paused(0, n) and not policy.paused(0, n - 1) and n >= policy.min_rejections_to_pause
    assert changes[-1].effect == f"paused {LITTER} on sea"
    assert "rejected alert" in changes[-1].reason
    rel = sea.relevance("sea", NOON)
    assert LITTER not in rel.algorithm_ids()
    assert any(x.subject == "algorithm:" + LITTER and "paused" in x.reason for x in rel.excluded)
    # one step back: running again, with lowered relevance and the feedback in its explanation
    sea.undo(changes[-1].change_id)
    back = sea.relevance("sea", NOON).get(LITTER)
    assert back is not None and back.score < base
    assert "rejected" in back.explanation.feedback[0]
    for ch in changes[:-1]:
        sea.undo(ch.change_id)
    assert sea.relevance("sea", NOON).get(LITTER).score == pytest.approx(base)


def test_confirmations_keep_it_running(sea):
    for i in range(4):
        sea.record_confirmation("sea", LITTER, alert_id=f"ok{i}")
    for i in range(4):
        sea.record_rejection("sea", LITTER, alert_id=f"bad{i}")
    assert not sea.is_paused("sea", LITTER)


def test_same_alert_counts_once(sea):
    a = sea.record_rejection("sea", LITTER, alert_id="dup")
    b = sea.record_rejection("sea", LITTER, alert_id="dup")
    assert a.change_id == b.change_id
    assert len([c for c in sea.changes("sea") if c.kind == "rejection"]) == 1


def test_pausing_a_dependency_leaves_it_out_and_its_dependents_run_without_it(graph):
    graph.add_camera("street", region="downtown", scenes={"road": 0.9})
    for i in range(10):
        graph.record_rejection("street", "ocr.text_ppocr", alert_id=f"p{i}")
    rel = graph.relevance("street", NOON)
    # the parking head still detects parking (recall), without the plate text on its alerts
    assert "ocr.text_ppocr" not in rel.algorithm_ids() and "scene.road.illegal_parking" in rel.algorithm_ids()
    assert "detector.plate_haar" in rel.algorithm_ids()
    assert any("runs without ocr.text_ppocr" in n and "paused" in n for n in rel.get("scene.road.illegal_parking").explanation.feedback)
    assert any(x.subject == "algorithm:ocr.text_ppocr" and "paused" in x.reason for x in rel.excluded)


def test_miss_adds_an_algorithm_and_undo_removes_it(sea):
    # no seafront head for illegal parking, and negative knowledge excludes it: an
    # inspector's miss report is evidence that overrides it, for this camera only
    assert "illegal_parking" not in {e for c in sea.relevance("sea", NOON).choices for e in c.explanation.event_types}
    ch = sea.record_miss("sea", "illegal_parking", miss_id="m1", at=NOON)
    assert ch.kind == "miss_added" and "no algorithm of this camera covers it" in ch.reason
    rel = sea.relevance("sea", NOON)
    added = rel.get(ch.algorithm_id)
    assert added is not None and ("camera:sea", "miss:m1", "event:illegal_parking", "algorithm:" + ch.algorithm_id) in added.explanation.paths
    sea.undo(ch.change_id)
    assert ch.algorithm_id not in sea.relevance("sea", NOON).algorithm_ids()


def test_miss_of_covered_event_changes_nothing(sea):
    before = sea.relevance("sea", NOON).algorithm_ids()
    ch = sea.record_miss("sea", "litter", miss_id="m2", at=NOON)
    assert ch.kind == "miss_covered" and ch.algorithm_id == LITTER
    assert sea.relevance("sea", NOON).algorithm_ids() == before


def test_miss_on_paused_algorithm_resumes_it(sea):
    for i in range(10):
        sea.record_rejection("sea", LITTER, alert_id=f"a{i}")
    assert sea.is_paused("sea", LITTER)
    ch = sea.record_miss("sea", "litter", miss_id="m3", at=NOON)
    assert ch.kind == "miss_added" and "resumed" in ch.effect
    assert not sea.is_paused("sea", LITTER) and LITTER in sea.relevance("sea", NOON).algorithm_ids()
    sea.undo(ch.change_id)
    assert sea.is_paused("sea", LITTER)


def test_journal_survives_reload(ontology, tmp_path):
    path = tmp_path / "graph.jsonl"
    g = CityGraph(ontology, journal=path, fsync=False)
    g.add_camera("sea", region="coast", scenes={"seafront": 0.9})
    g.add_camera("street", region="downtown", scenes={"road": 0.8})
    for i in range(10):
        g.record_rejection("sea", LITTER, alert_id=f"a{i}")
    miss = g.record_miss("street", "boat_in_restricted_zone", miss_id="m9", at=NOON)
    undone = g.record_rejection("sea", "scene.seafront.dead_fish", alert_id="x")
    g.undo(undone.change_id)
    expected = {c: g.relevance(c, NOON).to_dict() for c in ("sea", "street")}
    g.close()

    again = CityGraph(ontology, journal=path, fsync=False)
    assert {c: again.relevance(c, NOON).to_dict() for c in ("sea", "street")} == expected
    assert again.is_paused("sea", LITTER)
    assert miss.algorithm_id in again.relevance("street", NOON).algorithm_ids()
    # new changes continue the sequence and can undo old ones
    later = again.undo(miss.change_id)
    assert later.seq > miss.seq
    with pytest.raises(UnknownChangeError, match="already undone"):
        again.undo(undone.change_id)


def test_journal_skips_torn_last_line(ontology, tmp_path):
    path = tmp_path / "graph.jsonl"
    g = CityGraph(ontology, journal=path, fsync=False)
    g.add_camera("sea", region="coast", scenes={"seafront": 0.9})
    g.close()
    with path.open("ab") as f:
        f.write(b'{"change_id": "c9", "kind": "rejec')  # crash mid-append
    assert "sea" in CityGraph(ontology, journal=path, fsync=False)


def test_undo_camera_registration(graph):
    first = graph.add_camera("c", region="coast", scenes={"seafront": 0.9})
    second = graph.add_camera("c", region="coast", scenes={"river_bank": 0.9}, reason="scene discovery re-run")
    assert graph.camera("c").primary_scene == "river_bank"
    graph.undo(second.change_id)
    assert graph.camera("c").primary_scene == "seafront"
    graph.undo(first.change_id)
    assert "c" not in graph


@pytest.mark.parametrize(
    "call, error, match",
    [
        (lambda g: g.record_rejection("ghost", LITTER, "a"), UnknownCameraError, r"unknown camera 'ghost'"),  # camera
        (lambda g: g.record_rejection("sea", "scene.sea.litter", "a"), KnowledgeGraphError, r"unknown algorithm 'scene\.sea\.litter'"),  # algorithm
        (lambda g: g.record_miss("sea", "litterr", "m"), ValueError, r"unknown event type 'litterr'"),  # event type
        (lambda g: g.undo("c-nope"), UnknownChangeError, r"unknown change id 'c-nope'"),  # change id
    ],
)
def test_feedback_input_errors(sea, call, error, match):
    with pytest.raises(error, match=match):
        call(sea)


def test_networkx_view_links_cameras(sea):
    sea.record_miss("sea", "illegal_parking", miss_id="m1", at=NOON)
    g = sea.networkx()
    assert g.edges["camera:sea", "scene:seafront"]["confidence"] == 0.9
    assert g.has_edge("camera:sea", "region:coast")
    assert any(d.get("rel") == "added_after_miss" for _, _, d in g.out_edges("camera:sea", data=True))


def test_a_missed_demand_only_event_reaches_same_scene_neighbours_in_the_region(graph):
    # intrusion_after_hours is watched only while a task asks; a miss means the task is missing
    for cid, region in (("p1", "suburbs"), ("p2", "suburbs"), ("p3", "downtown")):
        graph.add_camera(cid, region=region, scenes={"parking_lot": 0.9})
    graph.add_camera("park", region="suburbs", scenes={"park": 0.9})
    ch = graph.record_miss("p1", "intrusion_after_hours", miss_id="m1", at=NOON)
    assert ch.kind == "miss_added"
    added = [c for c in graph.changes("p2") if c.kind == "miss_added"]
    assert len(added) == 1 and "neighbour camera p1" in added[0].reason
    assert "scene.parking_lot.intrusion_after_hours" in graph.relevance("p2", NOON).algorithm_ids()
    # other regions and other scenes are not told
    assert not [c for c in graph.changes("p3") + graph.changes("park") if c.kind == "miss_added"]
    graph.undo(added[0].change_id)
    assert "scene.parking_lot.intrusion_after_hours" not in graph.relevance("p2", NOON).algorithm_ids()
