"""Fixtures of the engine tests: the exported backbone and four real pictures.

``WAREHOUSE_BACKBONE_ONNX`` names an already exported backbone file (scripts/gpu_check.sh
sets it to the bundled copy: the GPU machine has neither the weights package nor the
warehouse package's dependencies); otherwise the backbone is exported once into var/cache.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from runtime import preprocess_bgr

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="session")
def backbone_path() -> Path:
    given = os.environ.get("WAREHOUSE_BACKBONE_ONNX")
    if given:
        path = Path(given)
        if not path.is_file():
            raise FileNotFoundError(f"WAREHOUSE_BACKBONE_ONNX={given!r} does not exist; run scripts/gpu_check.sh prepare")
        return path
    from warehouse.training.backbone_export import ensure_backbone_onnx

    return ensure_backbone_onnx(ROOT / "var" / "cache")


@pytest.fixture(scope="session")
def sample_batch() -> np.ndarray:
    from skimage import data

    imgs = [data.astronaut(), data.coffee(), data.chelsea(), data.rocket()]
    return preprocess_bgr([np.ascontiguousarray(im[:, :, ::-1]) for im in imgs])
