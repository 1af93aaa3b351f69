"""Engines behind one interface: ONNX Runtime (CPU/CUDA/TensorRT providers), native TensorRT,
PyTorch. Chosen by what the machine has.

>>> from runtime.engines import default_engine_registry
>>> reg = default_engine_registry()
>>> eng = reg.create("var/cache/backbone/mobilenet_v2-b0353104-onnx1.onnx")   # doctest: +SKIP
>>> eng.info.name                                                               # doctest: +SKIP
'ort-cpu'
"""
from runtime.engines._requirements import require_onnxruntime

require_onnxruntime()  # the serving path's one hard engine: fail at import with the fix

from runtime.engines.base import (  # noqa: E402 - after the clear ImportError above
    DEFAULT_PREFERENCE,
    Engine,
    EngineError,
    EngineInfo,
    EngineKind,
    EngineOptions,
    EngineRegistry,
    EngineUnavailableError,
    cuda_device_present,
    select_engine,
)
from runtime.engines.ort import OrtEngine  # noqa: E402
from runtime.engines.tensorrt_engine import TensorRTEngine, trt_cache_key  # noqa: E402
from runtime.engines.torch_engine import CudaGraphRunner, TorchCudaEngine, TorchEngine  # noqa: E402


def default_engine_registry() -> EngineRegistry:
    """A fresh registry with every engine this package knows (availability is probed lazily)."""
    from runtime.engines.ort import ort_kinds
    from runtime.engines.tensorrt_engine import tensorrt_kinds
    from runtime.engines.torch_engine import torch_kinds

    reg = EngineRegistry()
    for kind in (*ort_kinds(), *tensorrt_kinds(), *torch_kinds()):
        reg.register(kind)
    return reg


__all__ = [
    "CudaGraphRunner",
    "DEFAULT_PREFERENCE",
    "Engine",
    "EngineError",
    "EngineInfo",
    "EngineKind",
    "EngineOptions",
    "EngineRegistry",
    "EngineUnavailableError",
    "OrtEngine",
    "TensorRTEngine",
    "TorchCudaEngine",
    "TorchEngine",
    "cuda_device_present",
    "default_engine_registry",
    "select_engine",
    "trt_cache_key",
]
