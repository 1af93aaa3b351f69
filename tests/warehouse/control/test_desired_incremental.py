"""The control plane's re-plan after a change goes through the scheduler's fast incremental
path: the instance is rebuilt from the records (JSON) on every tick, plan_city derives it from
the previous plan's instance, and only what must move moves."""
from __future__ import annotations


import pytest

import scheduler
from warehouse.control import (
    AlgorithmRuntime,
    CameraInput,
    Choice,
    NodeView,
    RuntimeProfile,
    VersionRef,
    build_instance,
    plan_city,
)

SHA = "ab" * 32
NODES = [NodeView("node-a" + "0" * 20, 2.0), NodeView("node-b" + "0" * 20, 2.0), NodeView("node-c" + "0" * 20, 1.0)]
ALGS = ("scene.road.smoke", "scene.road.fire", "scene.road.litter", "scene.road.flood")


def _algs(smoke_ms: float = 0.5) -> dict:
    out = {a: AlgorithmRuntime(a, True, VersionRef(1, SHA, 0.5, 0.3 + 0.1 * i, 2.0 + i)) for i, a in enumerate(ALGS)}
    out["scene.road.smoke"] = AlgorithmRuntime("scene.road.smoke", True, VersionRef(1, SHA, 0.5, smoke_ms, 2.0))
    return out


def _cams(n: int) -> dict:
    return {f"c{i:03d}": CameraInput(f"c{i:03d}", f"synthetic://road?seed={i}") for i in range(n)}


def _choices(cams) -> dict:
    return {c: [Choice(a, 10.0 + (i * 7 + j * 13) % 90, (1.0, 2.0, 5.0)[(i + j) % 3])
                for j, a in enumerate(ALGS) if (i + j) % 4 != 3]
            for c in cams for i in [int(c[1:])]}


def _instance(cams, algs, nodes, profile):
    return build_instance(list(cams.values()), _choices(cams), algs, nodes, profile=profile)


def _valid(inst_json, plan_json):
    report = scheduler.check(scheduler.Instance.from_json(inst_json), scheduler.PlanResult.from_json(plan_json))
    assert report.ok, [str(v) for v in report.violations]
    return report


def _workers(plan_json) -> dict:
    return {c["camera"]: c["worker"] for c in plan_json["cameras"]}


@pytest.mark.parametrize("backbone_ms", [0.5, 60.0])  # loose capacity, then short (rates lowered, some unserved)
def test_replan_after_a_camera_change_takes_the_fast_incremental_path(backbone_ms):
    profile = RuntimeProfile(backbone_ms=backbone_ms, measured=True, decode_measured=True)
    cams, algs = _cams(200), _algs()
    inst1 = _instance(cams, algs, NODES, profile)
    json1, p1 = plan_city(inst1)
    _valid(inst1, json1)

    # a camera added: the instance is rebuilt from the records, as the control loop does every tick
    more = {**cams, "c999": CameraInput("c999", "synthetic://road?seed=999")}
    inst2 = _instance(more, algs, NODES, profile)
    json2, p2 = plan_city(inst2, p1)
    _valid(inst2, json2)
    assert p2._state.head is p1._state.head  # the fast path: the previous plan's state patched, not recompiled
    assert json2["migrations"] == 0
    before, after = _workers(json1), _workers(json2)
    assert all(after.get(c, w) == w for c, w in before.items())  # nobody else moved
    full = scheduler.plan(scheduler.Instance.from_json(inst2))
    assert p2.objective >= 0.98 * full.objective
    if backbone_ms == 0.5:  # everything fits at full rate: the incremental plan is as good as a full one
        assert "c999" in after and not json2["unserved"]
        assert p2.objective == pytest.approx(full.objective, rel=1e-9)

    # a camera removed and an algorithm's measured cost changed: fast path again, still valid
    del more["c000"]
    inst3 = _instance(more, _algs(smoke_ms=0.55), NODES, profile)
    json3, p3 = plan_city(inst3, p2)
    _valid(inst3, json3)
    assert p3._state.head is p1._state.head
    assert "c000" not in _workers(json3)
    assert json3["migrations"] <= 0.1 * len(json2["cameras"])

    # nothing changed: the same plan
    json4, p4 = plan_city(inst3, p3)
    assert sorted(map(str, json4["cameras"])) == sorted(map(str, json3["cameras"])) and json4["migrations"] == 0


def test_a_lost_node_moves_only_its_cameras():
    profile = RuntimeProfile(backbone_ms=20.0, measured=True, decode_measured=True)
    cams, algs = _cams(60), _algs()
    inst1 = _instance(cams, algs, NODES, profile)
    json1, p1 = plan_city(inst1)
    lost = NODES[2]
    inst2 = _instance(cams, algs, NODES[:2], profile)
    json2, p2 = plan_city(inst2, p1)
    _valid(inst2, json2)
    before, after = _workers(json1), _workers(json2)
    on_lost = {c for c, w in before.items() if w == lost.worker_id}
    assert on_lost and lost.worker_id not in after.values()
    assert all(after[c] == w for c, w in before.items() if c not in on_lost and c in after)
    assert json2["migrations"] <= len(on_lost)
    placed_or_why = set(after) | {u["camera"] for u in json2["unserved"]}
    assert on_lost <= placed_or_why  # placed elsewhere or reported unserved with why


def test_when_the_drift_policy_asks_the_replan_is_made_against_the_whole_instance(monkeypatch):
    profile = RuntimeProfile(backbone_ms=60.0, measured=True, decode_measured=True)
    cams, algs = _cams(40), _algs()
    json1, p1 = plan_city(_instance(cams, algs, NODES, profile))
    monkeypatch.setattr(scheduler, "needs_full_replan", lambda plan, instance, policy=None: True)
    inst2 = _instance({**cams, "c999": CameraInput("c999", "synthetic://road?seed=999")}, algs, NODES, profile)
    json2, p2 = plan_city(inst2, p1)
    _valid(inst2, json2)
    assert p2._state.head is not p1._state.head  # re-priced on the whole instance: a new chain
    assert p2.migrations == json2["migrations"] <= 0.1 * len(json1["cameras"])


def test_the_loop_gets_the_fast_plan_now_and_the_full_re_plan_from_the_background(monkeypatch):
    from warehouse.control.desired import instance_digest
    from warehouse.control.replan import BackgroundReplan

    profile = RuntimeProfile(backbone_ms=60.0, measured=True, decode_measured=True)
    cams, algs = _cams(40), _algs()
    json1, p1 = plan_city(_instance(cams, algs, NODES, profile))
    monkeypatch.setattr(scheduler, "needs_full_replan", lambda plan, instance, policy=None: True)
    bg = BackgroundReplan()
    inst2 = _instance({**cams, "c999": CameraInput("c999", "synthetic://road?seed=999")}, algs, NODES, profile)
    json2, p2 = plan_city(inst2, p1, background=bg)
    assert p2._state.head is p1._state.head  # returned at once: the incremental chain goes on
    assert bg.submitted == 1
    bg._thread.join(30)
    full = bg.take(instance_digest(inst2))
    assert full is not None and full._state.head is not p1._state.head  # re-priced on the whole instance
    _valid(inst2, full.to_json())
    assert full.objective >= 0.98 * p2.objective
    # a result made for an instance that has changed since is dropped, never applied
    bg.submit(scheduler.Instance.from_json(inst2), p2, key="old")
    bg._thread.join(30)
    assert bg.take("new") is None and bg.dropped == 1 and bg.take("old") is None
