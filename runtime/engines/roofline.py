"""An ONNX model's work and memory traffic, and the roofline limit they give on a device.

The limit a backbone's images/s is compared with must not come from the engine measured:
it comes from the device's own peak FP16 matrix throughput and memory bandwidth (measured
by ``benchmarks.runtime_gpu`` in the same run) and the model's FLOPs and bytes counted here
from the ONNX graph. Pure: shapes come from ONNX shape inference at batch 1.

Counting rules (stated, since a roofline is only as good as them):
* FLOPs: ``2 x MACs`` of Conv and Gemm/MatMul; one FLOP per output element for the
  element-wise and pooling ops (MobileNetV2: ~0.6 GFLOP per 224x224 image).
* bytes, fused: what an engine that fuses every element-wise op into its producer's
  epilogue (TensorRT does; cuDNN/PyTorch eager does not) must still move: each Conv / Gemm /
  pooling node reads its activation input and writes its output once, a residual Add reads
  its second operand once; weights are read once per batch.
* bytes, unfused: every node reads all its activation inputs and writes its output.
Element size is 2 bytes (FP16) by default.

>>> cost = onnx_cost(model_bytes)                                  # doctest: +SKIP
>>> roofline_images_per_s(cost, peak_flops=989e12, bandwidth_bytes_per_s=4.8e12, batch=256)  # doctest: +SKIP
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from runtime.engines.base import EngineError

_MATMUL_OPS = {"Conv", "Gemm", "MatMul"}
_POOL_OPS = {"GlobalAveragePool", "AveragePool", "MaxPool"}
_SHAPE_ONLY = {"Flatten", "Reshape", "Identity", "Constant"}  # no traffic of their own when fused


@dataclass(frozen=True, slots=True)
class ModelCost:
    """Work and traffic of one model, per image (batch 1) plus the weights."""

    flops_per_image: float
    weight_bytes: int
    fused_activation_bytes_per_image: int
    unfused_activation_bytes_per_image: int
    bytes_per_element: int

    def bytes_per_image(self, batch: int, *, fused: bool = True) -> float:
        act = self.fused_activation_bytes_per_image if fused else self.unfused_activation_bytes_per_image
        return act + self.weight_bytes / max(1, batch)

    def as_dict(self) -> dict:
        return {"gflops_per_image": round(self.flops_per_image / 1e9, 4),
                "weight_mib": round(self.weight_bytes / 2**20, 2),
                "fused_activation_mib_per_image": round(self.fused_activation_bytes_per_image / 2**20, 3),
                "unfused_activation_mib_per_image": round(self.unfused_activation_bytes_per_image / 2**20, 3),
                "bytes_per_element": self.bytes_per_element}


def _numel(shape) -> int:
    return int(np.prod(shape)) if shape else 1


def onnx_cost(model: bytes, *, bytes_per_element: int = 2) -> ModelCost:
    """Count FLOPs and bytes of an ONNX model at batch 1 (see the module docstring's rules)."""
    import onnx
    from onnx import shape_inference

    try:
        proto = onnx.load_from_string(model)
    except Exception as exc:  # noqa: BLE001 - onnx raises DecodeError and friends
        raise EngineError(f"cannot count the model's cost: not a valid ONNX model ({exc})") from exc
    g = proto.graph
    inits = {t.name: tuple(t.dims) for t in g.initializer}
    for inp in g.input:
        if inp.name not in inits and inp.type.tensor_type.shape.dim:
            d0 = inp.type.tensor_type.shape.dim[0]
            d0.ClearField("dim_param")
            d0.dim_value = 1  # batch 1: the per-image cost
    inferred = shape_inference.infer_shapes(proto)
    shapes: dict[str, tuple[int, ...]] = {}
    for vi in (*inferred.graph.input, *inferred.graph.value_info, *inferred.graph.output):
        dims = tuple(d.dim_value for d in vi.type.tensor_type.shape.dim)
        if dims and all(d > 0 for d in dims):
            shapes[vi.name] = dims
    consts = set(inits) | {o for n in g.node if n.op_type == "Constant" for o in n.output}
    weight_elems = sum(_numel(s) for s in inits.values())
    flops = 0.0
    fused = unfused = 0
    for n in g.node:
        if n.op_type == "Constant":
            continue
        out = shapes.get(n.output[0])
        if out is None:
            raise EngineError(f"shape inference gave no shape for {n.op_type} output {n.output[0]!r}; "
                              "export the model with static non-batch dims")
        acts = [i for i in n.input if i and i not in consts]
        act_in = sum(_numel(shapes.get(i, ())) for i in acts)
        if n.op_type == "Conv":
            w = inits.get(n.input[1]) or shapes.get(n.input[1])
            k = _numel(w[1:])  # Cin/groups x kh x kw
            flops += 2.0 * _numel(out) * k
        elif n.op_type in ("Gemm", "MatMul"):
            a = shapes.get(n.input[0]) or inits.get(n.input[0])
            flops += 2.0 * _numel(out) * int(a[-1])
        else:
            flops += _numel(out)
        unfused += act_in + _numel(out)
        if n.op_type in _MATMUL_OPS or n.op_type in _POOL_OPS:
            fused += act_in + _numel(out)
        elif n.op_type == "Add" and len(acts) == 2:
            fused += _numel(out)  # the residual operand, read once inside the producer's epilogue
    b = int(bytes_per_element)
    return ModelCost(flops, weight_elems * b, fused * b, unfused * b, b)


def roofline_images_per_s(cost: ModelCost, *, peak_flops: float, bandwidth_bytes_per_s: float, batch: int,
                          fused: bool = True) -> dict:
    """The roofline limit at ``batch``: min(compute-bound, memory-bound) images/s, and which binds."""
    if peak_flops <= 0 or bandwidth_bytes_per_s <= 0:
        raise EngineError(f"roofline needs positive peaks; got peak_flops={peak_flops}, bandwidth={bandwidth_bytes_per_s}")
    compute = peak_flops / cost.flops_per_image
    memory = bandwidth_bytes_per_s / cost.bytes_per_image(batch, fused=fused)
    return {"images_per_s": min(compute, memory), "compute_bound_images_per_s": compute,
            "memory_bound_images_per_s": memory, "bound": "compute" if compute < memory else "memory",
            "arithmetic_intensity_flop_per_byte": cost.flops_per_image / cost.bytes_per_image(batch, fused=fused)}
