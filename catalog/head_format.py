"""The on-disk format of a *linear head*: a tiny ONNX graph over the shared embedding.

A head maps the backbone's pooled embedding ``[N, D]`` to per-label scores ``[N, K]``:
``scores = activation(embedding @ weights + bias)``. Keeping heads as ONNX means a user can
import one like any other model, while the runtime can read the weights back out and fuse
hundreds of heads into one matrix product.

>>> import numpy as np
>>> blob = linear_head_onnx(np.zeros((4, 2), np.float32), np.zeros(2, np.float32), labels=["a", "b"])
>>> head = read_linear_head(blob)
>>> head.weights.shape, head.labels
((4, 2), ('a', 'b'))
"""
from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np

from catalog.errors import HeadFormatError

EMBEDDING_INPUT = "embedding"
SCORES_OUTPUT = "scores"
_ACTIVATIONS = ("sigmoid", "softmax", "none")


@dataclass(frozen=True, slots=True)
class LinearHead:
    weights: np.ndarray  # [D, K] float32
    bias: np.ndarray  # [K] float32
    labels: tuple[str, ...]
    activation: str

    def scores(self, embedding: np.ndarray) -> np.ndarray:
        """Reference implementation (numpy) of what the ONNX graph computes."""
        z = embedding.astype(np.float32, copy=False) @ self.weights + self.bias
        return apply_activation(z, self.activation)


def apply_activation(z: np.ndarray, activation: str) -> np.ndarray:
    if activation == "sigmoid":
        return 1.0 / (1.0 + np.exp(-np.clip(z, -60.0, 60.0)))
    if activation == "softmax":
        e = np.exp(z - z.max(axis=-1, keepdims=True))
        return e / e.sum(axis=-1, keepdims=True)
    return z


def linear_head_onnx(
    weights: np.ndarray, bias: np.ndarray, *, labels: list[str] | tuple[str, ...], activation: str = "sigmoid"
) -> bytes:
    """Serialize a linear head to ONNX bytes (opset 17)."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    w = np.asarray(weights, dtype=np.float32)
    b = np.asarray(bias, dtype=np.float32).reshape(-1)
    if w.ndim != 2:
        raise HeadFormatError(f"head weights must be 2-D [D, K], got shape {w.shape}; reshape to [embedding_dim, labels]")
    if b.shape[0] != w.shape[1]:
        raise HeadFormatError(f"head bias has {b.shape[0]} values but weights have {w.shape[1]} outputs; they must match")
    if len(labels) != w.shape[1]:
        raise HeadFormatError(f"head has {w.shape[1]} outputs but {len(labels)} labels {list(labels)!r}; give one label per output")
    if activation not in _ACTIVATIONS:
        raise HeadFormatError(f"unknown head activation {activation!r}; use one of {_ACTIVATIONS}")
    nodes = [helper.make_node("Gemm", [EMBEDDING_INPUT, "W", "B"], ["logits" if activation != "none" else SCORES_OUTPUT])]
    if activation == "sigmoid":
        nodes.append(helper.make_node("Sigmoid", ["logits"], [SCORES_OUTPUT]))
    elif activation == "softmax":
        nodes.append(helper.make_node("Softmax", ["logits"], [SCORES_OUTPUT], axis=-1))
    graph = helper.make_graph(
        nodes,
        "linear_head",
        [helper.make_tensor_value_info(EMBEDDING_INPUT, TensorProto.FLOAT, ["N", w.shape[0]])],
        [helper.make_tensor_value_info(SCORES_OUTPUT, TensorProto.FLOAT, ["N", w.shape[1]])],
        initializer=[numpy_helper.from_array(w, "W"), numpy_helper.from_array(b, "B")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="city-warehouse")
    model.ir_version = 8
    for k, v in {"head_kind": "linear", "activation": activation, "labels": json.dumps(list(labels))}.items():
        entry = model.metadata_props.add()
        entry.key, entry.value = k, v
    onnx.checker.check_model(model)
    return model.SerializeToString()


def read_linear_head(blob: bytes) -> LinearHead:
    """Read weights back out of :func:`linear_head_onnx` bytes, refusing anything else."""
    import onnx
    from onnx import numpy_helper

    try:
        model = onnx.load_from_string(blob)
    except Exception as exc:  # onnx raises DecodeError and others
        raise HeadFormatError(f"head artifact is not a valid ONNX model ({exc}); re-export it with linear_head_onnx") from exc
    meta = {p.key: p.value for p in model.metadata_props}
    if meta.get("head_kind") != "linear":
        raise HeadFormatError(
            f"ONNX model has head_kind={meta.get('head_kind')!r}, not 'linear'; it can run as a generic ONNX model "
            "but cannot be fused into the head bank"
        )
    inits = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}
    if "W" not in inits or "B" not in inits:
        raise HeadFormatError("linear head lacks its W/B initializers; re-export it with linear_head_onnx")
    return LinearHead(
        weights=inits["W"].astype(np.float32),
        bias=inits["B"].astype(np.float32),
        labels=tuple(json.loads(meta.get("labels", "[]"))),
        activation=meta.get("activation", "sigmoid"),
    )
