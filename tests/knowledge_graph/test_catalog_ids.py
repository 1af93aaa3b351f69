"""The graph's algorithms are the catalog's: one list, one set of ids (issue 14's ids bullet).

Builds a real catalog (SQLite) with every algorithm ``warehouse catalog build`` registers
(scene heads from the same spec function, the real detectors and readouts from their spec
list), a few heads left without a production version as a build leaves those under F1 0.8.
"""
from __future__ import annotations

import itertools
from datetime import datetime

import pytest

from catalog import ArtifactStore, Catalog, load_taxonomy, parse_algorithm_id, scene_head_id
from knowledge_graph import CityGraph, KnowledgeGraphError
from tests.knowledge_graph.conftest import fill_catalog

TAX = load_taxonomy()
# heads a real build leaves as candidates (held-out F1 below 0.8)
NOT_PROMOTED = (scene_head_id("tunnel", "smoke"), scene_head_id("park", "stray_animal"), scene_head_id("seafront", "litter"))
TIMES = [datetime(2024, 5, d, h, 30) for d, h in itertools.product((1, 4), (2, 8, 12, 16, 21, 23))]  # Wed and Sat


@pytest.fixture(scope="module")
def catalog(catalog_specs):
    cat = Catalog.open("sqlite://", store=ArtifactStore("memory://kg-catalog-ids"))
    fill_catalog(cat, catalog_specs, without_production=NOT_PROMOTED)
    yield cat
    cat.close()


@pytest.fixture(scope="module")
def chosen(catalog):
    """Every algorithm the graph gives any camera: every scene (alone and with each other
    scene as a weaker link), every region, at 12 times over a weekday and a Saturday."""
    g = CityGraph.from_catalog(catalog)
    scenes = list(TAX.scenes)
    out: dict[str, str] = {}
    n = 0
    for region in g.ontology.regions:
        for s1 in scenes:
            for s2 in [None, *scenes]:
                if s2 == s1:
                    continue
                links = {s1: 0.8} if s2 is None else {s1: 0.6, s2: 0.35}
                cid = f"c{n}"
                n += 1
                g.add_camera(cid, region=region, scenes=links)
                for at in TIMES if s2 is None else TIMES[2:3]:
                    for c in g.relevance(cid, at).choices:
                        out.setdefault(c.algorithm_id, cid)
    for s1 in scenes:  # cameras with zones and lines drawn: the track algorithms (and their detector)
        cid = f"z-{s1}"
        g.add_camera(cid, region="city", scenes={s1: 0.8}, hints={"zones": sorted(g.ontology.zone_algorithms)})
        for at in TIMES:
            for c in g.relevance(cid, at).choices:
                out.setdefault(c.algorithm_id, cid)
    return g, out


def test_every_algorithm_the_graph_chooses_is_in_the_catalog_in_production(catalog, chosen):
    g, picked = chosen
    production = catalog.production_versions()
    registered = {a.id for a in catalog.list_algorithms()}
    assert set(g.ontology.algorithms) == registered  # nodes == catalog records, nothing else
    assert set(picked) <= registered
    assert not [a for a in picked if a not in production]
    for a in NOT_PROMOTED:
        assert a not in picked and not g.algorithm(a).production
    for a in picked:
        parse_algorithm_id(a)  # every id follows catalog.ids' rule


def test_every_production_algorithm_is_reachable_or_listed_with_its_reason(catalog, chosen):
    g, picked = chosen
    unreachable = g.index.unreachable()
    for a in catalog.production_versions():
        assert (a in picked) != (a in unreachable), (a, unreachable.get(a))
    # what is listed, and why (a readable reason per algorithm)
    assert "detector.plate_haar_16stages" in unreachable and "detector.fullbody_haar" in unreachable
    assert "outranked" in unreachable["detector.fullbody_haar"]
    assert all(len(why) > 20 for why in unreachable.values())
    # the heads left as candidates are listed for exactly that reason
    assert unreachable[NOT_PROMOTED[0]] == "the catalog holds no production version of it"


def test_unpromoted_head_is_excluded_with_reason_and_a_stand_in_covers(catalog):
    g = CityGraph.from_catalog(catalog)
    g.add_camera("sea", region="coast", scenes={"seafront": 0.9})
    rel = g.relevance("sea", datetime(2024, 5, 1, 12, 0))
    # seafront litter has no production head: the plastic-bag readout (litter evidence) covers it
    litter = [c for c in rel.choices if "litter" in c.explanation.event_types]
    assert [c.algorithm_id for c in litter] == ["imagenet.plastic_bag"]


def test_add_algorithm_and_event_type_at_run_time_journaled_and_undoable(catalog, tmp_path):
    journal = tmp_path / "g.jsonl"
    g = CityGraph.from_catalog(catalog, journal=journal)
    g.add_camera("road-1", region="downtown", scenes={"road": 0.9})
    noon = datetime(2024, 5, 1, 12, 0)
    with pytest.raises(KnowledgeGraphError, match=r"unknown scene tags \[\] / event types \['kite_flying'\].*add_event_type"):
        g.add_algorithm({"id": "scene.road.kite_flying", "kind": "classification_head", "event_types": ["kite_flying"],
                         "scene_tags": ["road"]})
    ev = g.add_event_type("kite_flying", ["road", "park"])
    alg = g.add_algorithm({"id": "scene.road.kite_flying", "kind": "classification_head", "event_types": ["kite_flying"],
                           "scene_tags": ["road"]}, reason="flywheel: new algorithm v1 promoted")
    rel = g.relevance("road-1", noon)
    assert "scene.road.kite_flying" in rel.algorithm_ids()
    assert rel.get("scene.road.kite_flying").explanation.paths[0] == (
        "camera:road-1", "scene:road", "event:kite_flying", "algorithm:scene.road.kite_flying")
    # the journal carries both to the next process
    g2 = CityGraph.from_catalog(catalog, journal=journal)
    assert "scene.road.kite_flying" in g2.relevance("road-1", noon).algorithm_ids()
    # the event cannot be undone while an algorithm detects it; the algorithm can
    with pytest.raises(KnowledgeGraphError, match="still detect"):
        g.undo(ev.change_id)
    g.undo(alg.change_id)
    assert "scene.road.kite_flying" not in g.relevance("road-1", noon).algorithm_ids()
    g.undo(ev.change_id)
    assert "kite_flying" not in g.ontology.taxonomy.events
    with pytest.raises(KnowledgeGraphError, match="already exists"):
        g.add_event_type("fire", ["road"])


def test_remove_camera_is_journaled_and_undoable(catalog):
    g = CityGraph.from_catalog(catalog)
    g.add_camera("c", region="downtown", scenes={"road": 0.9})
    g.record_rejection("c", scene_head_id("road", "pothole"), alert_id="a1")
    ch = g.remove_camera("c")
    assert "c" not in g
    with pytest.raises(KnowledgeGraphError, match="unknown camera 'c'"):
        g.relevance("c")
    g.undo(ch.change_id)
    assert g.camera("c").primary_scene == "road"
    # its learned feedback survived the removal
    assert "rejected" in g.relevance("c").get(scene_head_id("road", "pothole")).explanation.feedback[0]


def test_sync_catalog_follows_promotion_and_retirement(catalog_specs):
    from catalog import Stage

    cat = Catalog.open("sqlite://", store=ArtifactStore("memory://kg-sync"))
    try:
        fill_catalog(cat, catalog_specs, without_production=NOT_PROMOTED)
        g = CityGraph.from_catalog(cat)
        g.add_camera("t", region="downtown", scenes={"tunnel": 0.9})
        smoke = scene_head_id("tunnel", "smoke")
        assert smoke not in g.relevance("t").algorithm_ids()
        assert g.sync_catalog(cat) == []  # nothing changed: no-op
        cat.promote(smoke, 1, to=Stage.PRODUCTION)
        (change,) = g.sync_catalog(cat, reason="model-updates: promoted")
        assert change.kind == "algorithm_added" and "production" in change.reason
        assert smoke in g.relevance("t").algorithm_ids()
        cat.retire(smoke, 1)
        g.sync_catalog(cat)
        assert smoke not in g.relevance("t").algorithm_ids()
    finally:
        cat.close()
