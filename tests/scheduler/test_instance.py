"""warehouse.schedule/1 and warehouse.plan/1: round trips and errors that name the value and the fix."""
from __future__ import annotations

import copy

import pytest
from hypothesis import given, settings

from scheduler import Instance, InstanceError, PlanFormatError, PlanResult, SchedulerError, plan, tiny
from tests.scheduler.strategies import instances


def doc():
    return tiny().to_json()


@settings(max_examples=60, deadline=None)
@given(instances())
def test_property_json_round_trip(inst):
    again = Instance.from_json(inst.to_json())
    assert again == inst
    p = plan(inst)
    assert PlanResult.from_json(p.to_json()) == p


def _edit(path, value):
    d = doc()
    target = d
    for key in path[:-1]:
        target = target[key]
    if value is _DROP:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return d


_DROP = object()


@pytest.mark.parametrize("path, value, match", [
    (("format",), "warehouse.schedule/2", r"format='warehouse.schedule/2'; expected 'warehouse.schedule/1'"),
    (("workers",), _DROP, r"missing field\(s\) \['workers'\]"),
    (("extra",), 1, r"unknown field\(s\) \['extra'\]"),
    (("workers", 0, "compute_ms_per_s"), 0, r"worker 'w0': compute_ms_per_s=0; expected > 0"),
    (("workers", 0, "memory_mib"), float("nan"), r"memory_mib=nan; expected a finite number"),
    (("workers", 1, "id"), "w0", r"duplicate worker id 'w0'"),
    (("cameras", 0, "decode_ms"), -1, r"camera 'c0': decode_ms=-1; expected >= 0"),
    (("cameras", 0, "node"), "", r"node=''; expected a non-empty string"),
    (("algorithms", 0, "head_ms"), "fast", r"algorithm 'fire': head_ms='fast'"),
    (("algorithms", 0, "cost_source"), "guess", r"cost_source='guess'; expected one of"),
    (("demands", 0, "priority"), 0, r"demand c0/fire: priority=0; expected > 0"),
    (("demands", 0, "min_fps"), 9, r"min_fps=9.0 > fps=5.0; expected 0 < min_fps <= fps"),
    (("demands", 0, "camera"), "ghost", r"camera 'ghost' is not in 'cameras'"),
    (("demands", 0, "algorithm"), "ghost", r"algorithm 'ghost' is not in 'algorithms'"),
    (("demands", 1, "algorithm"), "fire", r"algorithm 'fire' is demanded twice"),
    (("jobs", 0, "memory_mib"), True, r"job 'train-1': memory_mib=True"),
    (("defaults",), "all", r"defaults='all'; expected a JSON list"),
])
def test_instance_errors_name_the_field_value_and_fix(path, value, match):
    with pytest.raises(InstanceError, match=match) as info:
        Instance.from_json(_edit(path, value))
    assert isinstance(info.value, ValueError) and isinstance(info.value, SchedulerError)


@pytest.mark.parametrize("mutate, match", [
    (lambda p: p.update(format="x"), r"format='x'"),
    (lambda p: p["cameras"][0].pop("worker"), r"malformed record \(KeyError"),
    (lambda p: p["cameras"][0].update(fps="fast"), r"fps='fast'; expected a finite number"),
    (lambda p: p.update(migrations=-1), r"migrations=-1"),
    (lambda p: p.update(surprise=1), r"unknown field\(s\) \['surprise'\]"),
])
def test_plan_format_errors(mutate, match):
    d = copy.deepcopy(plan(tiny()).to_json())
    mutate(d)
    with pytest.raises(PlanFormatError, match=match):
        PlanResult.from_json(d)


def test_defaults_are_reported_where_used():
    d = doc()
    d["algorithms"][0]["cost_source"] = "default"  # fire
    d["defaults"] = ["decode_ms", "algorithm litter"]
    inst = Instance.from_json(d)
    assert set(inst.defaults) == {"algorithm fire", "decode_ms", "algorithm litter"}
    assert Instance.from_json(inst.to_json()) == inst
    from scheduler import check

    used = check(inst, plan(inst)).defaults_used
    assert {"algorithm fire", "decode_ms", "algorithm litter"} <= set(used)


def test_replace_keeps_validation():
    inst = tiny()
    cams = inst.cameras + (inst.cameras[0],)
    with pytest.raises(InstanceError, match="duplicate camera id 'c0'"):
        inst.replace(cameras=cams)
    with pytest.raises(InstanceError, match=r"unknown fields \['cams'\]"):
        inst.replace(cams=())


def test_to_placements_gives_the_runtime_plan():
    from scheduler import Plan, Worker

    p = plan(tiny())
    old = p.to_placements([Worker("w0", compute_fps=100, memory_mib=512), Worker("w1", compute_fps=50, memory_mib=256)])
    assert isinstance(old, Plan)
    assert {(a.camera_id, a.algorithm_id, a.fps) for a in old.assignments_on("w0") + old.assignments_on("w1")} == {
        (c.camera, g.algorithm, g.fps) for c in p.cameras for g in c.demands}
    assert old.worker_of("c1") == "w1"
