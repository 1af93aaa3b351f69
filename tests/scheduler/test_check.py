"""check: each rule, broken on purpose, is reported by name; a good plan has no violation."""
from __future__ import annotations

import copy

import pytest

from scheduler import PlanResult, check, plan, tiny


def broken(mutate):
    inst = tiny()
    d = copy.deepcopy(plan(inst).to_json())
    mutate(d)
    return check(inst, PlanResult.from_json(d))


def cam(d, cid):
    return next(c for c in d["cameras"] if c["camera"] == cid)


def test_our_plan_is_clean():
    report = check(tiny(), plan(tiny()))
    assert report.ok and report.granted == 5 and report.unserved == 0
    assert {u.worker for u in report.usage} == {"w0", "w1"}
    assert all(u.compute_ms_per_s <= u.compute_limit and u.memory_mib <= u.memory_limit for u in report.usage)


@pytest.mark.parametrize("mutate, rule, match", [
    # a camera on two workers
    (lambda d: d["cameras"].append(copy.deepcopy(cam(d, "c0")) | {"worker": "w1"}), "one_worker", "placed 2 times"),
    # c1 is pinned to n1 (w1)
    (lambda d: cam(d, "c1").update(worker="w0"), "node_pin", "pinned to node 'n1'"),
    # camera fps must be the highest granted fps
    (lambda d: cam(d, "c0").update(fps=4.0), "camera_fps", "highest granted fps is 5"),
    # granted above desired / below min
    (lambda d: [cam(d, "c0")["demands"][0].update(fps=6.0), cam(d, "c0").update(fps=6.0)], "fps_range",
     "expected min_fps=1 <= fps <= 5"),
    (lambda d: cam(d, "c0")["demands"][0].update(fps=0.5), "fps_range", "granted fps=0.5"),
    # a demand neither granted nor unserved
    (lambda d: cam(d, "c0")["demands"].pop(), "accounted", "neither granted nor listed as unserved"),
    # unserved without a reason / also granted
    (lambda d: d["unserved"].append({"camera": "c0", "algorithm": "fire", "reason": " "}), "accounted",
     "without a reason"),
    (lambda d: d["unserved"].append({"camera": "c0", "algorithm": "fire", "reason": "x"}), "accounted",
     "both granted and listed"),
    # unknown ids
    (lambda d: cam(d, "c0").update(worker="w9"), "unknown", "worker 'w9'"),
    (lambda d: cam(d, "c0")["demands"].append({"algorithm": "litter", "fps": 1.0}), "unknown",
     "granted but not demanded"),
    # the job must be placed, once
    (lambda d: d.update(jobs=[]), "job_placed", "not placed"),
    (lambda d: d["jobs"].append(dict(d["jobs"][0])), "job_placed", "placed 2 times"),
    # capacity: every camera and the job on w1 (200 ms/s): 182.5 + 50
    (lambda d: [c.update(worker="w1") for c in d["cameras"] + d["jobs"]], "compute", "uses 232.500 ms/s of 200"),
    # claimed objective
    (lambda d: d.update(objective=99.0), "objective", "claims objective 99"),
])
def test_each_rule(mutate, rule, match):
    report = broken(mutate)
    assert not report.ok
    hits = [v for v in report.violations if v.rule == rule]
    assert hits and any(match in str(v) for v in hits), [str(v) for v in report.violations]


def test_memory_limit_counts_backbone_distinct_algorithms_and_jobs():
    inst = tiny()
    small = inst.replace(workers=(inst.workers[0], inst.workers[1].__class__("w1", "n1", 1000.0, 150.0)))
    d = plan(inst).to_json()
    for c in d["cameras"] + d["jobs"]:
        c["worker"] = "w1"
    report = check(small, PlanResult.from_json(d))
    # backbone 64 + fire 16 + smoke 8 + litter 32 + job 100 = 220 > 150
    assert [str(v) for v in report.violations if v.rule == "memory"] == [
        "[memory] worker w1: uses 220.000 MiB of 150 (backbone + 3 distinct algorithms + jobs)"]


def test_distinct_memory_counts_an_algorithm_once_per_worker():
    inst = tiny()
    # c0 (fire, smoke) and c2 (fire, litter) on w0: fire counted once
    d = plan(inst).to_json()
    on_w0 = {c["camera"] for c in d["cameras"] if c["worker"] == "w0"}
    report = check(inst, PlanResult.from_json(d))
    w0 = next(u for u in report.usage if u.worker == "w0")
    algs = {g["algorithm"] for c in d["cameras"] if c["worker"] == "w0" for g in c["demands"]}
    jobs = sum(inst.job(j["job"]).memory_mib for j in d["jobs"] if j["worker"] == "w0")
    expected = (64.0 if on_w0 else 0.0) + sum(inst.algorithm(a).memory_mib for a in algs) + jobs
    assert w0.memory_mib == pytest.approx(expected)
