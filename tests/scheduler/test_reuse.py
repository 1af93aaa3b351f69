"""Reading an instance again and again (what the control loop does on every change): the reader's
result equals ``Instance.from_json`` whatever changed, refuses what it refuses, and keeps the
records of what did not change; an incremental plan's camera rows equal rows built afresh."""
from __future__ import annotations

import copy

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scheduler import Instance, InstanceError, InstanceReader, generate, plan
from scheduler.planner import rows_of
from tests.scheduler.strategies import instances

EDITS = ("fps", "priority", "drop_demand", "drop_camera", "add_camera", "repin", "backbone", "camera_cost", "nothing")


def _edit(doc: dict, kind: str, i: int) -> dict:
    doc = copy.deepcopy(doc)
    cams, dems = doc["cameras"], doc.get("demands", [])
    if kind == "fps" and dems:
        d = dems[i % len(dems)]
        d["fps"] = d["fps"] + 1.0
    elif kind == "priority" and dems:
        dems[i % len(dems)]["priority"] *= 2.0
    elif kind == "drop_demand" and dems:
        dems.pop(i % len(dems))
    elif kind == "drop_camera" and cams:
        gone = cams.pop(i % len(cams))["id"]
        doc["demands"] = [d for d in dems if d["camera"] != gone]
    elif kind == "add_camera" and doc["algorithms"]:
        cams.append({"id": f"new{i}", "decode_ms": 1.0, "backbone_ms": 4.0})
        dems.append({"camera": f"new{i}", "algorithm": doc["algorithms"][0]["id"], "priority": 1.0, "fps": 5.0, "min_fps": 1.0})
    elif kind == "repin" and cams:
        cams[i % len(cams)]["node"] = "n1"
    elif kind == "backbone":
        doc["backbone"]["memory_mib"] += 1.0
    elif kind == "camera_cost" and cams:
        cams[i % len(cams)]["backbone_ms"] += 0.5
    return doc


@settings(max_examples=60, deadline=None)
@given(instances(max_cameras=8), st.lists(st.sampled_from(EDITS), min_size=1, max_size=6))
def test_reader_equals_from_json_through_a_chain_of_edits(inst, kinds):
    reader, doc = InstanceReader(), inst.to_json()
    assert reader.read(doc) == Instance.from_json(doc)
    for i, kind in enumerate(kinds):
        before = reader.read(doc)
        doc = _edit(doc, kind, i)
        got = reader.read(doc)
        assert got == Instance.from_json(doc)
        old = {c.id: c for c in before.cameras}
        for c in got.cameras:  # an unchanged camera keeps its record; a changed one does not
            same = c.id in old and old[c.id] == c
            assert (c is old.get(c.id)) == same


def test_unchanged_records_are_reused_and_changed_ones_validated():
    doc = generate("heterogeneous", n_cameras=50, seed=3).to_json()
    reader = InstanceReader()
    reader.read(doc)
    again = copy.deepcopy(doc)
    assert reader.read(again) == Instance.from_json(doc) and reader.reused == len(doc["demands"]) + len(doc["cameras"])
    bad = copy.deepcopy(doc)
    bad["demands"][0]["min_fps"] = bad["demands"][0]["fps"] * 2  # was valid at the last read
    with pytest.raises(InstanceError, match="min_fps"):
        reader.read(bad)
    extra = copy.deepcopy(doc)
    extra["cameras"][0]["colour"] = "red"  # an unknown key on an otherwise unchanged camera
    with pytest.raises(InstanceError, match="unknown field"):
        reader.read(extra)
    swapped = copy.deepcopy(doc)
    d = swapped["demands"][1]
    d["cost"] = d.pop("min_fps")  # same values, one key renamed
    with pytest.raises(InstanceError, match="missing field"):
        reader.read(swapped)
    orphan = copy.deepcopy(doc)
    orphan["demands"].append({**orphan["demands"][0], "camera": "nowhere"})
    with pytest.raises(InstanceError, match="'nowhere' is not in 'cameras'"):
        reader.read(orphan)
    assert reader.read(doc) == Instance.from_json(doc)  # a refused read left the reader usable


def test_incremental_plan_rows_equal_rows_built_afresh():
    inst = generate("heterogeneous", n_cameras=120, seed=4)
    p = plan(inst)
    assert p.to_json()["cameras"]  # the memo fills on this read
    for i in range(5):
        c = inst.cameras[i]
        inst = inst.replace(cameras=(c.__class__(c.id, c.decode_ms, c.backbone_ms * 2, c.node, c.demands, c.cost_source),)
                            + inst.cameras[:i] + inst.cameras[i + 1:])
        q = plan(inst, previous=p)
        fresh, _ = rows_of(q._state.outputs)  # no memo
        assert tuple(q.cameras) == tuple(fresh)
        kept = {a.camera: a for a in p.cameras}
        assert sum(a is kept.get(a.camera) for a in q.cameras) >= len(q.cameras) - 8  # most rows are the last plan's objects
        p = q
