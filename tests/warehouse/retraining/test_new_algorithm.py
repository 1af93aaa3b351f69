"""A new algorithm for an event type the taxonomy does not have, from 20 seed labels."""
from __future__ import annotations

import pytest

from catalog import ArtifactStore, Catalog, load_taxonomy
from warehouse.errors import InvalidInputError
from warehouse.framepool import FramePool, RetainedFrame
from warehouse.retraining.labeling import SimulatedLabeler
from warehouse.retraining.new_algorithm import NewAlgorithm, SeedFrame, create_algorithm
from warehouse.retraining.simulation import rare_event_pool
from warehouse.retraining.store import FlywheelStore


@pytest.fixture
def setup(tmp_path):
    sp = rare_event_pool(3000, positive_rate=0.03, dim=32, seed=4, prefix="cam-p:")
    pool = FramePool(f"sqlite:///{tmp_path}/pool.db")
    pool.add(*[RetainedFrame(f, "cam-p", i, 1_780_000_000_000 + i, e) for i, (f, e) in enumerate(zip(sp.frame_ids, sp.embeddings))])
    cat = Catalog.open(f"sqlite:///{tmp_path}/cat.db", store=ArtifactStore(str(tmp_path / "art")))
    yield sp, pool, cat
    cat.close()
    load_taxonomy().events.pop("kite_in_tree_h10", None)


def _seeds(sp, n_pos=5, n_neg=15):
    pos = [f for f, y in zip(sp.frame_ids, sp.labels) if y][:n_pos]
    neg = [f for f, y in zip(sp.frame_ids, sp.labels) if not y][:n_neg]
    return tuple(SeedFrame(f, 1) for f in pos) + tuple(SeedFrame(f, 0) for f in neg)


def test_from_twenty_labels_to_production_in_catalog_and_graph(setup, tmp_path):
    from knowledge_graph import CityGraph

    sp, pool, cat = setup
    graph = CityGraph.load(algorithms=[])
    graph.add_camera("cam-park-1", "downtown", {"park": 0.9})
    req = NewAlgorithm(name="Kite stuck in a tree", event_type="kite_in_tree_h10", scenes=("park",),
                       description="a kite caught in branches", seeds=_seeds(sp))
    lab = SimulatedLabeler(sp.truth())
    fw = FlywheelStore(f"sqlite:///{tmp_path}/fw.db")
    r = create_algorithm(req, catalog=cat, store=cat.store, pool=pool, labeler=lab, flywheel=fw, graph=graph, rounds=3,
                         budget=40, epochs=150, seed=0)
    assert r.verdict.passed, str(r.verdict)
    assert r.event_type_added and r.promoted and cat.production_version(r.algorithm_id).number == r.version
    assert r.algorithm_id == "scene.park.kite_in_tree_h10" and r.heldout_f1 >= 0.8
    assert r.labels_used == 20 + lab.labels_given and r.rounds <= 3
    assert "kite_in_tree_h10" in load_taxonomy().events
    assert [c["kind"] for c in [t.to_dict() for t in fw.list_tasks(parent_id=r.task_id)]].count("labeling") == r.rounds
    assert graph.relevance("cam-park-1").algorithm_ids() == [r.algorithm_id]  # relevance now selects it for a park camera
    lin = cat.lineage(r.algorithm_id, r.version)
    assert lin["training_run"]["dataset_version"]["stats"]["seed_labels"] == 20


@pytest.mark.parametrize(
    "kw, match",
    [
        (dict(seeds=()), "10-20"),  # no seeds
        (dict(scenes=()), "no scenes"),  # no scenes
        (dict(scenes=("moon",)), "moon"),  # unknown scene
        (dict(event_type="Kite!"), "lowercase"),  # bad id
        (dict(name=" "), "name"),  # empty name
    ],
)
def test_bad_requests_are_refused(setup, kw, match):
    sp, *_ = setup
    base = dict(name="K", event_type="kite_in_tree_h10", scenes=("park",), description="", seeds=_seeds(sp))
    with pytest.raises(Exception, match=match):
        NewAlgorithm(**{**base, **kw})


def test_seeds_need_both_labels_and_pool_frames(setup):
    sp, pool, cat = setup
    with pytest.raises(InvalidInputError, match="2 of each"):
        NewAlgorithm(name="K", event_type="kite_in_tree_h10", scenes=("park",), description="",
                     seeds=tuple(SeedFrame(f"x{i}", 1) for i in range(12)))
    req = NewAlgorithm(name="K", event_type="kite_in_tree_h10", scenes=("park",), description="",
                       seeds=_seeds(sp)[:-1] + (SeedFrame("elsewhere:1", 0),))
    with pytest.raises(InvalidInputError, match="elsewhere:1"):
        create_algorithm(req, catalog=cat, store=cat.store, pool=pool, labeler=SimulatedLabeler({}))
    assert cat.list_algorithms() == []  # nothing half-written
