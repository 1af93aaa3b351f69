"""From records to desired state: the instance the planner gets, and what each camera runs."""
from __future__ import annotations

import pytest

from warehouse.control import (
    AlgorithmRuntime,
    CameraInput,
    Choice,
    NodeView,
    RuntimeProfile,
    VersionRef,
    build_instance,
    desired_state,
    plan_city,
    version_for,
)

SHA = "ab" * 32
NODES = [NodeView("node-a" + "0" * 20, 2.0), NodeView("node-b" + "0" * 20, 2.0)]


def _algs(canary_cams=frozenset()) -> dict:
    return {
        "scene.road.smoke": AlgorithmRuntime("scene.road.smoke", True, VersionRef(3, SHA, 0.7, 0.02, 0.1),
                                             VersionRef(4, "cd" * 32, 0.6) if canary_cams else None, frozenset(canary_cams)),
        "detector.people_hog": AlgorithmRuntime("detector.people_hog", False, VersionRef(1, "ef" * 32)),
        "scene.road.unbuilt": AlgorithmRuntime("scene.road.unbuilt", True, None),  # no servable version yet
    }


def _cams(n: int) -> dict:
    return {f"c{i}": CameraInput(f"c{i}", f"synthetic://road?seed={i}") for i in range(n)}


def _choices(cams) -> dict:
    return {c: [Choice("scene.road.smoke", 90, 2.0), Choice("detector.people_hog", 50, 1.0),
                Choice("scene.road.unbuilt", 10, 1.0)] for c in cams}


def test_instance_uses_measured_costs_and_names_the_defaults():
    cams = _cams(3)
    inst = build_instance(list(cams.values()), _choices(cams), _algs(), NODES,
                          profile=RuntimeProfile(measured=True, decode_measured=True))
    assert inst["format"] == "warehouse.schedule/1"
    assert {a["id"] for a in inst["algorithms"]} == {"scene.road.smoke", "detector.people_hog"}  # unservable left out
    smoke = next(a for a in inst["algorithms"] if a["id"] == "scene.road.smoke")
    assert (smoke["head_ms"], smoke["memory_mib"]) == (0.02, 0.1)  # the catalog's cost profile
    assert inst["defaults"] == ["algorithm detector.people_hog"]  # measured nothing: says so
    assert all(0 < d["min_fps"] <= d["fps"] for d in inst["demands"])
    assert [w["node"] for w in inst["workers"]] == [n.node_id for n in NODES]
    assert build_instance(list(cams.values()), _choices(cams), _algs(), NODES)["defaults"][:3] == [
        "decode_ms", "backbone_ms", "backbone memory_mib"]  # an unmeasured profile is named as such


def test_runtime_profile_is_measured_on_this_machine(backbone_cache):
    from warehouse.training.backbone_export import ensure_backbone_onnx

    p = RuntimeProfile.measure(ensure_backbone_onnx(backbone_cache))
    assert p.measured and 0.1 < p.backbone_ms < 1000 and p.backbone_memory_mib >= 1.0


@pytest.mark.parametrize("canary, camera, expected", [
    (frozenset(), "c0", (3, False)),  # no canary: production everywhere
    (frozenset({"c1"}), "c1", (4, True)),  # a canary camera runs the canary version
    (frozenset({"c1"}), "c0", (3, False)),  # the others keep production
])
def test_version_for_canary_and_production(canary, camera, expected):
    ref, is_canary = version_for(_algs(canary)["scene.road.smoke"], camera)
    assert (ref.version, is_canary) == expected


def test_desired_state_puts_heads_and_detectors_where_the_plan_says():
    cams = _cams(4)
    algs = _algs(frozenset({"c2"}))
    inst = build_instance(list(cams.values()), _choices(cams), algs, NODES)
    plan, _ = plan_city(inst)
    d = desired_state(plan, cams, algs, NODES)
    assert set(d.cameras) == set(cams)
    assert set(d.workers) <= {n.worker_id for n in NODES}
    for cam, spec in d.cameras.items():
        [head] = spec.work.heads
        assert head.algorithm_id == "scene.road.smoke" and head.threshold in (0.7, 0.6)
        assert (head.version, head.canary) == (("4", True) if cam == "c2" else ("3", False))
        [(det, det_fps)] = spec.work.detectors  # a real detector runs in the worker's detector stage
        assert det == "detector.people_hog" and 0 < det_fps <= 1.0
        assert spec.fps == max(d_["fps"] for pc in plan["cameras"] if pc["camera"] == cam for d_ in pc["demands"])
    # a different version is a different revision: the worker is reconfigured
    d2 = desired_state(plan, cams, _algs(), NODES)
    assert d2.cameras["c2"].work.revision != d.cameras["c2"].work.revision
    assert d2.cameras["c0"].work.revision == d.cameras["c0"].work.revision


def test_a_camera_pinned_to_a_node_runs_there():
    cams = {"p": CameraInput("p", "synthetic://road", node_id=NODES[1].node_id)}
    inst = build_instance(list(cams.values()), _choices(cams), _algs(), NODES)
    plan, _ = plan_city(inst)
    assert desired_state(plan, cams, _algs(), NODES).cameras["p"].worker_id == NODES[1].worker_id


def test_what_does_not_fit_is_reported_unplaced_with_a_reason():
    cams = _cams(40)
    profile = RuntimeProfile(decode_ms=50, backbone_ms=400, measured=True)  # 900 ms/s per camera at 2 fps
    inst = build_instance(list(cams.values()), _choices(cams), _algs(), NODES[:1], profile=profile)
    plan, _ = plan_city(inst)
    d = desired_state(plan, cams, _algs(), NODES[:1], profile=profile)
    assert len(d.cameras) < 40 and d.unplaced
    assert all(isinstance(r, str) and r for r in d.unplaced.values())


def test_the_loops_caches_give_what_building_afresh_gives_through_changes():
    """The control loop keeps a scheduler.InstanceReader and a desired-state cache between re-plans;
    through each kind of change their result equals the uncached one, and unchanged cameras keep
    their specs (the same objects)."""
    import dataclasses

    from scheduler import InstanceReader

    cams, algs = _cams(6), _algs()
    choices = _choices(cams)
    reader, cache = InstanceReader(), {}
    plan, prev = plan_city(build_instance(list(cams.values()), choices, algs, NODES), reader=reader)
    last = desired_state(plan, cams, algs, NODES, cache=cache)
    steps = [
        ("choices", lambda: choices.__setitem__("c1", [Choice("scene.road.smoke", 90, 4.0)])),
        ("canary", lambda: algs.update(_algs(frozenset({"c3"})))),  # a new version on one camera
        ("zones", lambda: cams.__setitem__("c4", dataclasses.replace(cams["c4"], zones={"zones": [{"name": "z"}]}))),
        ("removed", lambda: (cams.pop("c5"), choices.pop("c5"))),
        ("promoted", lambda: algs.update(_algs())),  # the canary is gone again
        ("nothing", lambda: None),
    ]
    for name, apply in steps:
        apply()
        inst = build_instance(list(cams.values()), choices, algs, NODES)
        plan, prev = plan_city(inst, prev, reader=reader)
        got = desired_state(plan, cams, algs, NODES, cache=cache)
        want = desired_state(plan, cams, algs, NODES)
        assert got == want, name
        assert len(cache) == len(got.cameras) + 1, name  # a removed camera is forgotten
        for cam, spec in got.cameras.items():  # versions unchanged: an unchanged camera keeps the same object
            if name not in ("canary", "promoted") and cam in last.cameras and last.cameras[cam] == spec:
                assert spec is last.cameras[cam], (name, cam)
        last = got
    assert last.cameras["c3"].work.heads[0].version == "3" and "c5" not in last.cameras
