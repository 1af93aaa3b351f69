"""Builders shared by the catalog tests."""
from __future__ import annotations

import numpy as np
import sqlalchemy as sa

from catalog import AlgorithmSpec, Catalog, linear_head_onnx


def make_spec(algorithm_id: str = "seafront.person_in_water", **overrides: object) -> AlgorithmSpec:
    fields: dict = {
        "id": algorithm_id,
        "name": "Person in water",
        "event_types": ("person_in_water",),
        "scene_tags": ("seafront",),
        "labels": ("person_in_water",),
        "owner": "harbor-team",
    }
    fields.update(overrides)
    return AlgorithmSpec(**fields)


def head_bytes(seed: int = 0, dim: int = 8, labels: tuple[str, ...] = ("person_in_water",)) -> bytes:
    rng = np.random.default_rng(seed)
    return linear_head_onnx(
        rng.normal(size=(dim, len(labels))).astype(np.float32), np.zeros(len(labels), np.float32), labels=list(labels)
    )



def row_counts(catalog: Catalog) -> dict[str, int]:
    """Rows per catalog table: a failed operation must leave these unchanged."""
    engine = catalog._engine
    names = [n for n in sa.inspect(engine).get_table_names() if n.startswith("catalog_") and n != "catalog_alembic_version"]
    with engine.connect() as conn:
        return {n: conn.execute(sa.text(f"SELECT COUNT(*) FROM {n}")).scalar_one() for n in names}


def image_classifier_onnx(
    *, classes: int = 4, channels: int = 3, hw: tuple[int, int] = (32, 32), input_name: str = "image",
    dynamic_label_dim: bool = False, reshape_to: list[int] | None = None, two_outputs: bool = False, seed: int = 0,
) -> bytes:  # fmt: skip
    """A tiny real image classifier: GlobalAveragePool -> Flatten -> Gemm -> Softmax.

    ``dynamic_label_dim`` makes the scores ``[N, K]`` with K computed from the input's shape
    (channels + 1), so only running the model reveals it; ``reshape_to`` adds an output
    ``aux`` whose Reshape fails at run time.
    """
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(seed)
    w = rng.normal(size=(classes, channels)).astype(np.float32)
    b = np.zeros(classes, np.float32)
    nodes = [
        helper.make_node("GlobalAveragePool", [input_name], ["pooled"]),
        helper.make_node("Flatten", ["pooled"], ["flat"], axis=1),
    ]
    inits = [numpy_helper.from_array(w, "W"), numpy_helper.from_array(b, "B")]
    nodes += [
        helper.make_node("Gemm", ["flat", "W", "B"], ["logits"], transB=1),
        helper.make_node("Softmax", ["logits"], ["probs" if dynamic_label_dim else "scores"], axis=-1),
    ]
    if dynamic_label_dim:
        inits += [numpy_helper.from_array(np.array([v], np.int64), n) for n, v in (("minus1", -1), ("one", 1), ("two", 2))]
        nodes += [
            helper.make_node("Shape", [input_name], ["in_shape"]),
            helper.make_node("Slice", ["in_shape", "one", "two"], ["c"]),
            helper.make_node("Add", ["c", "one"], ["k"]),
            helper.make_node("Concat", ["minus1", "k"], ["target"], axis=0),
            helper.make_node("Reshape", ["probs", "target"], ["scores"]),
        ]
    dims = ["N", "K"] if dynamic_label_dim else ["N", classes]
    outputs = [helper.make_tensor_value_info("scores", TensorProto.FLOAT, dims)]
    if two_outputs:
        outputs.append(helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["N", classes]))
    if reshape_to is not None:
        # an extra output whose Reshape only fails at run time (its size depends on the batch)
        inits.append(numpy_helper.from_array(np.array(reshape_to, np.int64), "target_shape"))
        nodes.append(helper.make_node("Reshape", ["flat", "target_shape"], ["aux"]))
        outputs.append(helper.make_tensor_value_info("aux", TensorProto.FLOAT, ["M", reshape_to[-1]]))
    graph = helper.make_graph(
        nodes,
        "tiny_classifier",
        [helper.make_tensor_value_info(input_name, TensorProto.FLOAT, ["N", channels, hw[0], hw[1]])],
        outputs,
        initializer=inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    return model.SerializeToString()
