from __future__ import annotations

import numpy as np
import pytest

from catalog import AlgorithmSpec, ArtifactStore, Catalog, Stage, linear_head_onnx
from warehouse.bus import SqliteBus
from warehouse.bus.events import parse_event
from warehouse.retraining.canary import (
    CanaryObservation,
    choose_canary_cameras,
    decide_canary,
    should_roll_back,
)
from warehouse.retraining.promotion import (
    PromotionError,
    canary_cameras,
    promote,
    rollback,
    start_canary,
    stop_canary,
)

A = "scene.road.smoke"


@pytest.fixture
def cat(tmp_path):
    c = Catalog.open(f"sqlite:///{tmp_path}/cat.db", store=ArtifactStore(str(tmp_path / "art")))
    c.register_algorithm(AlgorithmSpec(id=A, name="Smoke", event_types=("smoke",), scene_tags=("road",)))
    for i in range(4):
        sha = c.store.put_bytes(linear_head_onnx(np.full((4, 1), i, np.float32), np.zeros(1, np.float32), labels=["smoke"]))
        c.add_version(A, artifact_sha256=sha)
    yield c
    c.close()


@pytest.fixture
def bus(tmp_path):
    b = SqliteBus(str(tmp_path / "bus.db"))
    yield b
    b.close()


def _events(bus):
    c = bus.consumer("model-updates", group="t")
    return [parse_event("model-updates", r.value) for r in c.poll(timeout_s=0.5)]


def test_promote_canary_rollback_write_the_catalog_then_publish(cat, bus):
    promote(cat, bus, A, 1, actor="alice", reason="first")
    start_canary(cat, bus, A, 2, ["cam-2", "cam-1", "cam-2"], actor="policy")
    assert cat.get_version(A, 2).stage is Stage.CANARY and canary_cameras(cat, A) == {2: ["cam-1", "cam-2"]}
    promote(cat, bus, A, 2, actor="policy", reason="canary precise")
    assert cat.production_version(A).number == 2 and canary_cameras(cat, A) == {}
    ev = rollback(cat, bus, A, actor="policy", reason="precision fell")
    assert (ev.version, ev.previous_version, cat.production_version(A).number) == (1, 2, 1)
    start_canary(cat, bus, A, 3, ["cam-9"], actor="policy")
    stop_canary(cat, bus, A, 3, actor="policy", reason="worse")
    assert cat.get_version(A, 3).stage is Stage.RETIRED
    got = _events(bus)
    assert [(e.action, e.version, e.stage) for e in got] == [
        ("promoted", 1, "production"), ("canary_started", 2, "canary"), ("promoted", 2, "production"),
        ("rolled_back", 1, "production"), ("canary_started", 3, "canary"), ("canary_stopped", 3, "retired")]
    assert got[1].canary_cameras == ("cam-1", "cam-2") and len({e.event_id for e in got}) == len(got)
    assert cat.version_metadata(A, 1)["promotion"]["action"] == "rolled_back"


def test_second_rollback_never_returns_to_the_version_rolled_back_from(cat, bus):
    for v in (1, 2, 3):
        promote(cat, bus, A, v, actor="a", reason="r")
    rollback(cat, bus, A, actor="a", reason="v3 bad")  # -> v2
    assert rollback(cat, bus, A, actor="a", reason="v2 bad").version == 1  # not back to v3


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda c: promote(c, None, A, 1, actor="", reason="r"), "actor"),  # nobody decided
        (lambda c: start_canary(c, None, A, 2, [], actor="a"), "non-empty"),  # no cameras
        (lambda c: stop_canary(c, None, A, 2, actor="a", reason="r"), "not canary"),  # candidate, not canary
        (lambda c: rollback(c, None, A, actor="a", reason="r"), "no production"),  # nothing in production
    ],
)
def test_refusals_name_the_fix(cat, call, match):
    with pytest.raises(PromotionError, match=match):
        call(cat)


def test_choose_canary_cameras_is_stable_seeded_and_leaves_production_somewhere():
    cams = [f"c{i}" for i in range(20)]
    a = choose_canary_cameras(cams, 0.1, seed=1)
    assert len(a) == 2 and a == choose_canary_cameras(list(reversed(cams)), 0.1, seed=1)
    assert choose_canary_cameras(cams, 0.1, seed=2) != a
    assert len(choose_canary_cameras(["x", "y"], 1.0, seed=0)) == 1 and choose_canary_cameras([], 0.5, seed=0) == []
    with pytest.raises(ValueError, match="fraction"):
        choose_canary_cameras(cams, 0, seed=0)


@pytest.mark.parametrize(
    "obs, action",
    [
        (dict(frames_compared=500, agreements=480, canary_confirmed=30, canary_rejected=1, production_confirmed=30, production_rejected=8), "promote"),
        (dict(frames_compared=50, agreements=50, canary_confirmed=30, canary_rejected=1, production_confirmed=30, production_rejected=8), "keep"),  # too few frames
        (dict(frames_compared=500, agreements=480, canary_confirmed=3, canary_rejected=0, production_confirmed=30, production_rejected=8), "keep"),  # too few verdicts
        (dict(frames_compared=500, agreements=480, canary_confirmed=20, canary_rejected=10, production_confirmed=30, production_rejected=5), "rollback"),  # less precise
        (dict(frames_compared=500, agreements=400, canary_confirmed=20, canary_rejected=0, production_confirmed=30, production_rejected=5,
              confirmed_missed_by_canary=10), "rollback"),  # loses confirmed events
        (dict(frames_compared=500, agreements=100, canary_confirmed=20, canary_rejected=0, production_confirmed=20, production_rejected=5), "keep"),  # disagree: reviewer
    ],
)
def test_decide_canary(obs, action):
    assert decide_canary(CanaryObservation(**obs)).action == action


def test_canary_observation_refuses_bad_counts():
    with pytest.raises(ValueError, match="agreements"):
        CanaryObservation(10, 11, 0, 0, 0, 0)


@pytest.mark.parametrize(
    "conf, rej, pred, expect",
    [(8, 4, 0.9, True), (3, 2, 0.9, False), (18, 2, 0.9, False), (10, 10, None, False)],  # worse; too few; equal; no predecessor
)
def test_should_roll_back(conf, rej, pred, expect):
    assert should_roll_back(promoted_confirmed=conf, promoted_rejected=rej, predecessor_precision=pred) is expect


def test_event_types_added_at_run_time_survive_reopen(tmp_path):
    from catalog import load_taxonomy

    url = f"sqlite:///{tmp_path}/c.db"
    with Catalog.open(url, store=ArtifactStore(str(tmp_path / "a"))) as c:
        assert c.add_event_type("fallen_tree_h10", name="Fallen tree", scenes=["road", "park"]) is True
        assert c.add_event_type("fallen_tree_h10", name="Fallen tree", scenes=["park", "road"]) is False
        with pytest.raises(Exception, match="scenes"):
            c.add_event_type("fallen_tree_h10", name="x", scenes=["road"])
    load_taxonomy().events.pop("fallen_tree_h10")  # as a fresh process would see it
    with Catalog.open(url, store=ArtifactStore(str(tmp_path / "a"))):
        assert load_taxonomy().require_event("fallen_tree_h10").scenes == ("road", "park")
