"""The import-time check for ONNX Runtime, kept free of numpy and the engines themselves."""
from __future__ import annotations

import importlib.util

ORT_MISSING = (
    "ONNX Runtime is not installed, and the runtime package serves every model with it. "
    "Install exactly one variant (both provide the module `onnxruntime`, so never both): "
    "`pip install 'city-algorithm-warehouse[cpu]'` for CPUs, or `pip install 'city-algorithm-warehouse[gpu]'` "
    "on NVIDIA machines (from a checkout: `pip install -e '.[cpu]'` / `pip install -e '.[gpu]'`)."
)


def module_present(name: str) -> bool:
    """True when module ``name`` can be found, without importing it (a worker starts light)."""
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):  # a broken install or a None placeholder in sys.modules
        return False


def onnxruntime_present() -> bool:
    return module_present("onnxruntime")


def require_onnxruntime() -> None:
    """Raise ``ImportError`` naming the ``pip install '...[cpu]'`` / ``[gpu]`` fix when ORT is missing."""
    if not onnxruntime_present():
        raise ImportError(ORT_MISSING, name="onnxruntime")
