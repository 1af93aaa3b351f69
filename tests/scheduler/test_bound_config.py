"""The configuration (Lagrangian) bound: a valid upper bound, tighter than the LP where min_fps binds."""
from __future__ import annotations

import pytest
from hypothesis import given, settings

from scheduler import generate, lp_bound, plan
from scheduler.bound_config import config_bound, config_bound_details
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
