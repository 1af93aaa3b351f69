"""The usage examples in the scheduler's docstrings run as written."""
from __future__ import annotations

import doctest
import importlib
import sys

import pytest

MODULES = ["scheduler", "scheduler.instance", "scheduler.result", "scheduler.check", "scheduler.planner", "scheduler.planning",
           "scheduler.drift", "scheduler.bound", "scheduler.baselines", "scheduler.families", "scheduler.plan", "scheduler.incremental", "scheduler._slots", "scheduler._diff"]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    importlib.import_module(name)
    # sys.modules, not the attribute: scheduler.plan / scheduler.check are also function names
    result = doctest.testmod(sys.modules[name])
    assert result.failed == 0 and result.attempted > 0
