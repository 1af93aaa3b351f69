"""Convert an ONNX graph to FP16 for engines that take precision from the graph.

TensorRT 11 builds strongly typed networks only: a tensor's type in the ONNX graph is the
type it runs in, so FP16 means an FP16 graph. This converts every float32 tensor of the
graph (initializers, ``Constant`` values, inputs, outputs, ``value_info``, ``Cast`` targets)
to float16, clamping weights to FP16's finite range. Inputs and outputs become float16 too;
the engines cast host arrays to the engine's input type and return float32, so callers see
no change. Integer tensors (shapes, indices) are left alone.

Only ``onnx`` is needed (no converter package). Ops whose float attributes must match
their input type are handled here; a graph with an op listed in ``UNSUPPORTED_OPS`` is
refused with the op's name, since its FP16 form needs per-op care.

>>> from onnx import TensorProto, helper
>>> g = helper.make_graph([helper.make_node("Relu", ["x"], ["y"])], "g",
...                       [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])],
...                       [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1])])
>>> blob = convert_to_fp16(helper.make_model(g).SerializeToString())
>>> import onnx; onnx.load_from_string(blob).graph.input[0].type.tensor_type.elem_type == TensorProto.FLOAT16
True
"""
from __future__ import annotations

import logging

import numpy as np

from runtime.engines.base import EngineError

log = logging.getLogger(__name__)

FP16_MAX = float(np.finfo(np.float16).max)
# ops whose FP16 form is not a plain retyping (float attributes tied to the input type,
# or numerics that overflow in FP16 without care); refused rather than silently wrong
UNSUPPORTED_OPS = frozenset({"RandomNormal", "RandomUniform", "RandomNormalLike", "RandomUniformLike", "EyeLike",
                             "ConstantOfShape", "Loop", "If", "Scan"})


def _to_fp16_tensor(t):
    from onnx import TensorProto, numpy_helper

    if t.data_type != TensorProto.FLOAT:
        return None
    arr = numpy_helper.to_array(t)
    finite = np.isfinite(arr)
    clipped = np.where(finite, np.clip(arr, -FP16_MAX, FP16_MAX), arr)  # keep inf/nan as they were
    return numpy_helper.from_array(clipped.astype(np.float16), t.name)


def _retype(value_infos) -> int:
    from onnx import TensorProto

    n = 0
    for vi in value_infos:
        tt = vi.type.tensor_type
        if tt.elem_type == TensorProto.FLOAT:
            tt.elem_type = TensorProto.FLOAT16
            n += 1
    return n


def convert_to_fp16(model: bytes) -> bytes:
    """ONNX model bytes (float32) -> the same graph in float16 (bytes). Pure: no device needed."""
    import onnx
    from onnx import TensorProto, helper

    try:
        proto = onnx.load_from_string(model)
    except Exception as exc:  # noqa: BLE001 - onnx raises DecodeError and friends
        raise EngineError(f"cannot convert to FP16: the model bytes are not a valid ONNX model ({exc})") from exc
    g = proto.graph
    bad = sorted({n.op_type for n in g.node} & UNSUPPORTED_OPS)
    if bad:
        raise EngineError(f"cannot convert to FP16: operators {bad} need per-op care; build this model with fp16=False")
    for i, t in enumerate(g.initializer):
        new = _to_fp16_tensor(t)
        if new is not None:
            g.initializer[i].CopyFrom(new)
    for node in g.node:
        for a in node.attribute:
            if a.type == onnx.AttributeProto.TENSOR and a.t.data_type == TensorProto.FLOAT:
                a.t.CopyFrom(_to_fp16_tensor(a.t))
            elif node.op_type == "Cast" and a.name == "to" and a.i == TensorProto.FLOAT:
                a.i = TensorProto.FLOAT16
    _retype(g.input)
    _retype(g.output)
    # value_info may hold float32 shapes from an earlier inference: retype, then re-infer
    _retype(g.value_info)
    helper.set_model_props(proto, {**{m.key: m.value for m in proto.metadata_props}, "precision": "fp16"})
    try:
        onnx.checker.check_model(proto)
    except Exception as exc:  # noqa: BLE001
        raise EngineError(f"the FP16 graph fails the ONNX checker: {exc}") from exc
    log.info("onnx graph converted to fp16 (%d initializers)", len(g.initializer))
    return proto.SerializeToString()
