"""runtime: streams, sampling and gating, engines, batching, shared backbone + heads, events.

The serving path runs on ONNX Runtime (and TensorRT / CUDA where present); torch is never
imported here at import time, so a worker starts light.
"""
from runtime.backbone import Backbone, BackboneError, BackboneInfo, preprocess_bgr

__all__ = ["Backbone", "BackboneError", "BackboneInfo", "preprocess_bgr"]
