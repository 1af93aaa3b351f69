"""The usage examples in the robust-head modules' docstrings run and stay true."""
from __future__ import annotations

import doctest
import importlib

import pytest


@pytest.mark.parametrize("module", ["warehouse.training.calibration", "warehouse.training.false_alarms", "warehouse.training.real_frames",
                                    "warehouse.training.real_pool", "warehouse.training.camera_flywheel", "warehouse.training.camera_loop",
                                    "catalog.synthetic.composite"])  # fmt: skip
def test_docstring_examples(module):
    result = doctest.testmod(importlib.import_module(module), optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0
