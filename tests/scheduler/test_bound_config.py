"""The configuration (Lagrangian) bound: a valid upper bound, tighter than the LP where min_fps binds."""
from __future__ import annotations

import json

import pytest
from hypothesis import given, settings

from scheduler import bounds, generate, plan
from scheduler._model import compile_instance
from scheduler.bound_config import _best, _subproblems, config_bound, config_bound_details
from tests.scheduler.exact import exact_optimum
from tests.scheduler.strategies import instances


@settings(max_examples=60, deadline=None, derandomize=True)
@given(instances(max_cameras=4, max_workers=3))
def test_property_config_bound_is_above_the_exact_optimum(inst):
    best = exact_optimum(inst)
    if best is None:  # a job fits nowhere, or HiGHS ran out of time
        return
    cfg = config_bound(inst)
    assert cfg >= best - 1e-6 * max(1.0, best)
    assert plan(inst).objective <= best + 1e-6 * max(1.0, best)


@settings(max_examples=60, deadline=None)
@given(instances(max_cameras=8, max_workers=4, jobs=False))
def test_property_config_bound_above_every_plan(inst):
    assert plan(inst).objective <= config_bound(inst) + 1e-6


@settings(max_examples=30, deadline=None, derandomize=True)
@given(instances(max_cameras=4, max_workers=2))
def test_property_bounds_best_is_the_smaller_and_above_the_optimum(inst):
    best = exact_optimum(inst)
    if best is None:
        return
    report = bounds(inst)
    assert report.best == min(report.lp, report.config) and report.best <= report.lp
    assert report.best >= best - 1e-6 * max(1.0, best)


def _brute_best(inst, cam, lam: float, phi, fixed: float, steps: int = 240) -> float:
    """The camera's Lagrangian subproblem by brute force: every rate on a fine grid (plus the
    demands' own values), each demand off or at any rate in its window on a grid."""
    algs = {a.id: a for a in inst.algorithms}
    frame = cam.decode_ms + cam.backbone_ms
    top = max(d.fps for d in cam.demands)
    rates = sorted({top * i / steps for i in range(1, steps + 1)} | {d.fps for d in cam.demands} |
                   {d.min_fps for d in cam.demands})
    best = 0.0
    for r in rates:
        total = -lam * frame * r - fixed
        for d, charge in zip(cam.demands, phi):
            if d.min_fps > r:
                continue
            hi = min(d.fps, r)
            fs = [d.min_fps + (hi - d.min_fps) * i / 16 for i in range(17)]
            total += max([0.0] + [(d.priority / d.fps - lam * algs[d.algorithm].head_ms) * f - charge for f in fs])
        best = max(best, total)
    return best


@pytest.mark.parametrize("lam, charge", [(0.0, 0.0), (0.004, 0.0), (0.02, 0.0), (0.08, 0.0), (0.0, 0.3),
                                         (0.01, 0.1), (0.02, 0.6)])
def test_camera_subproblem_is_solved_exactly(lam, charge):
    """The breakpoints (each demand's fps and min_fps) suffice, also with a fixed charge per
    granted demand and per running camera (the priced memory shares): no rate or grant on a
    fine grid does better, and the value found is what its configuration earns."""
    import numpy as np

    inst = generate("load200", n_cameras=25, seed=2)
    m = compile_instance(inst)
    rng = np.random.default_rng(7)
    phi = charge * rng.random(m.n_d)
    fixed = 2 * charge * rng.random(m.n_cams)
    net, value, compute, rate, _ = _best(_subproblems(m), lam, phi, fixed)
    for c, cam in enumerate(inst.cameras):
        s, e = int(m.start[c]), int(m.end[c])
        brute = _brute_best(inst, cam, lam, phi[s:e], float(fixed[c]))
        assert net[c] == pytest.approx(brute, rel=1e-9, abs=1e-9)
        assert (net[c] == 0) == (rate[c] == 0)
        if charge == 0:
            assert net[c] == pytest.approx(value[c] - lam * compute[c], rel=1e-9, abs=1e-9)


def test_config_bound_is_tighter_where_min_fps_binds():
    """load200: the LP may run a demand below its min_fps, the configuration bound may not."""
    inst = generate("load200", n_cameras=200, seed=5)
    report = bounds(inst)
    p = plan(inst).objective
    assert p <= report.config + 1e-6
    assert report.config <= report.lp * (1 - 0.02)  # the LP is over 2 % looser here
    assert 1 - p / report.best <= 0.01
    details = config_bound_details(inst)
    assert details["master"] <= details["bound"] + 1e-6 and len(details["prices"]) >= 1


def test_cli_bound_prints_both(tmp_path):
    from typer.testing import CliRunner

    from warehouse.cli import app

    path = tmp_path / "i.json"
    path.write_text(json.dumps(generate("load200", n_cameras=60, seed=1).to_json()))
    res = CliRunner().invoke(app, ["schedule", "bound", str(path), "--json"])
    assert res.exit_code == 0, res.output
    doc = json.loads(res.output)
    assert doc["bound"] == min(doc["lp_bound"], doc["config_bound"]) and doc["bound_kind"] == "config"
    res = CliRunner().invoke(app, ["schedule", "bound", str(path)])
    assert res.exit_code == 0 and "lp relaxation" in res.output and "configuration bound" in res.output
    assert res.output.startswith(f"bound {doc['bound']:.6f}")


def test_memory_shares_tighten_the_bound_where_memory_is_short():
    """memory_bound, 30 cameras on one worker: few cameras share an algorithm, so pricing the
    memory shares cuts the bound far below the LP, and it stays above the exact optimum."""
    inst = generate("memory_bound", n_cameras=30, seed=0)
    with_memory = config_bound(inst)
    without = config_bound_details(inst, memory=False)["bound"]
    best = exact_optimum(inst)
    assert best is not None and best <= with_memory + 1e-6 * best
    assert with_memory <= 0.85 * without and with_memory <= 0.85 * bounds(inst).lp
