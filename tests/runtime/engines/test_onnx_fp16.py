"""FP16 graph conversion (what TensorRT 11's strongly typed build parses), checked on ORT CPU."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

from runtime.engines import EngineError, OrtEngine
from runtime.engines.onnx_fp16 import FP16_MAX, convert_to_fp16

ROOT = Path(__file__).resolve().parents[3]
FP16_RTOL = 3e-2  # same tolerance as the FP16 GPU engines (test_engines.py)


def _float_types(proto) -> set[int]:
    g = proto.graph
    types = {t.data_type for t in g.initializer}
    types |= {vi.type.tensor_type.elem_type for vi in (*g.input, *g.output)}
    return types


def test_backbone_fp16_graph_agrees_with_fp32(backbone_path, sample_batch):
    blob = backbone_path.read_bytes()
    fp16 = convert_to_fp16(blob)
    proto = onnx.load_from_string(fp16)
    assert TensorProto.FLOAT not in _float_types(proto)
    assert len(fp16) < 0.6 * len(blob)  # weights halved
    ref = OrtEngine(blob).run({"image": sample_batch})
    got = OrtEngine(fp16).run({"image": sample_batch.astype(np.float16)})
    for name in ("logits", "embedding"):
        assert got[name].dtype == np.float32  # engines always hand back float32
        assert np.abs(got[name] - ref[name]).max() <= FP16_RTOL * float(np.abs(ref[name]).max()), name
    assert (got["logits"].argmax(1) == ref["logits"].argmax(1)).all()
    meta = {m.key: m.value for m in proto.metadata_props}
    assert meta["precision"] == "fp16" and "imagenet_labels" in meta  # existing metadata kept


def test_weights_beyond_fp16_range_are_clamped_not_inf():
    w = np.array([[1e6], [-1e6]], np.float32)
    g = helper.make_graph(
        [helper.make_node("MatMul", ["x", "w"], ["y"])], "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 2])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 1])],
        initializer=[onnx.numpy_helper.from_array(w, "w")],
    )
    proto = onnx.load_from_string(convert_to_fp16(helper.make_model(g).SerializeToString()))
    got = onnx.numpy_helper.to_array(proto.graph.initializer[0])
    assert got.dtype == np.float16 and np.isfinite(got).all()
    assert got.ravel().tolist() == [FP16_MAX, -FP16_MAX]


def test_cast_to_float_and_int_tensors():
    g = helper.make_graph(
        [helper.make_node("Cast", ["x"], ["xf"], to=TensorProto.FLOAT),
         helper.make_node("Reshape", ["xf", "shape"], ["y"])], "g",
        [helper.make_tensor_value_info("x", TensorProto.INT32, [2, 2])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [4])],
        initializer=[onnx.numpy_helper.from_array(np.array([4], np.int64), "shape")],
    )
    proto = onnx.load_from_string(convert_to_fp16(helper.make_model(g).SerializeToString()))
    assert proto.graph.node[0].attribute[0].i == TensorProto.FLOAT16  # Cast retargeted
    assert proto.graph.initializer[0].data_type == TensorProto.INT64  # shapes untouched
    out = OrtEngine(proto.SerializeToString()).run({"x": np.arange(4, dtype=np.int32).reshape(2, 2)})["y"]
    assert out.tolist() == [0.0, 1.0, 2.0, 3.0]


@pytest.mark.parametrize(
    ("blob", "match"),
    [
        (b"not an onnx model", "not a valid ONNX model"),  # garbage bytes
        (helper.make_model(helper.make_graph(
            [helper.make_node("RandomNormal", [], ["y"], shape=[1])], "g", [],
            [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1])])).SerializeToString(),
         r"operators \['RandomNormal'\]"),  # op whose FP16 form needs care
    ],
)
def test_refusals_name_the_problem(blob, match):
    with pytest.raises(EngineError, match=match):
        convert_to_fp16(blob)
