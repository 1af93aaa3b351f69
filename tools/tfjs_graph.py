"""Read a TensorFlow.js graph model (``model.json`` + weight shards) and run it with NumPy.

No TensorFlow: the graph JSON is parsed directly, the weight manifest is decoded (float32,
int32, bool; fp16 and affine uint8/uint16 quantisation), and a small NumPy interpreter
evaluates the ops with TensorFlow's own semantics (NHWC convolutions, ``half_pixel_centers``
resize, ...). The interpreter serves two jobs in :mod:`tools.convert_nanodet`: folding
constant sub-graphs (TF.js keeps ``SparseToDense`` over constants for some reshape shapes)
and giving an independent reference to check the converted ONNX graph against (the ONNX
graph runs NCHW in ONNX Runtime; a layout mistake shows as a mismatch).

>>> g = TfjsGraph.from_files("nanodet.json", ["nanodet.bin"])          # doctest: +SKIP
>>> outs = g.run({"input_1": x})                                       # doctest: +SKIP
"""
from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Sequence

import numpy as np


class TfjsGraphError(ValueError):
    """A graph model this reader cannot decode or run; the message names the node or weight."""


_DTYPES = {"float32": np.float32, "int32": np.int32, "bool": np.bool_}
_QUANT = {"float16": (np.float16, 2), "uint8": (np.uint8, 1), "uint16": (np.uint16, 2)}


def decode_weights(manifest: Sequence[Mapping[str, Any]], shards: Sequence[bytes]) -> dict[str, np.ndarray]:
    """Weights of a TF.js manifest (``weightsManifest``) from its shard bytes, in manifest order."""
    out: dict[str, np.ndarray] = {}
    for group, blob in zip(manifest, shards):
        buf = memoryview(blob)
        pos = 0
        for w in group["weights"]:
            shape = [int(d) for d in w["shape"]]
            count = int(np.prod(shape)) if shape else 1
            q = w.get("quantization")
            if q:
                if q["dtype"] not in _QUANT:
                    raise TfjsGraphError(f"weight {w['name']!r}: quantisation {q['dtype']!r} unsupported; expected {sorted(_QUANT)}")
                qt, size = _QUANT[q["dtype"]]
                raw = np.frombuffer(buf[pos:pos + count * size], dtype=np.dtype(qt).newbyteorder("<"))
                pos += count * size
                if q["dtype"] == "float16":
                    arr = raw.astype(np.float32)
                else:  # affine: value = q * scale + min
                    arr = (raw.astype(np.float32) * float(q["scale"]) + float(q["min"])).astype(np.float32)
                arr = arr.astype(_DTYPES[w["dtype"]])
            else:
                if w["dtype"] not in _DTYPES:
                    raise TfjsGraphError(f"weight {w['name']!r}: dtype {w['dtype']!r} unsupported; expected {sorted(_DTYPES)}")
                dt = np.dtype(_DTYPES[w["dtype"]]).newbyteorder("<")
                arr = np.frombuffer(buf[pos:pos + count * dt.itemsize], dtype=dt).astype(_DTYPES[w["dtype"]])
                pos += count * dt.itemsize
            if arr.size != count:
                raise TfjsGraphError(f"weight {w['name']!r} needs {count} values but the shard ended early (offset {pos})")
            out[w["name"]] = arr.reshape(shape)
        if pos != len(blob):
            raise TfjsGraphError(f"weight shard has {len(blob)} bytes but the manifest describes {pos}")
    return out


def attr_value(attr: Mapping[str, Any] | None) -> Any:
    """A TF ``AttrValue`` in TF.js JSON form as a Python value (strings are base64 there)."""
    if attr is None:
        return None
    if "s" in attr:
        return base64.b64decode(attr["s"]).decode()
    if "i" in attr:
        return int(attr["i"])
    if "f" in attr:
        return float(attr["f"])
    if "b" in attr:
        return bool(attr["b"])
    if "type" in attr:
        return attr["type"]
    if "list" in attr:
        lst = attr["list"]
        if "i" in lst:
            return [int(v) for v in lst["i"]]
        if "s" in lst:
            return [base64.b64decode(v).decode() for v in lst["s"]]
        if "f" in lst:
            return [float(v) for v in lst["f"]]
        return []
    return attr


@dataclass(frozen=True, slots=True)
class Node:
    name: str
    op: str
    inputs: tuple[str, ...]
    attrs: Mapping[str, Any]

    def attr(self, key: str, default: Any = None) -> Any:
        v = self.attrs.get(key)
        return default if v is None else attr_value(v)


def split_ref(ref: str) -> tuple[str, int]:
    """``"node:1"`` -> ("node", 1); ``"node"`` -> ("node", 0); control inputs ``^x`` are not data."""
    name, _, idx = ref.partition(":")
    return name, int(idx) if idx else 0


@dataclass(slots=True)
class TfjsGraph:
    nodes: dict[str, Node]
    consts: dict[str, np.ndarray]
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]  # node names of the signature's outputs, in signature order
    meta: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_bytes(cls, model_json: bytes, shards: Sequence[bytes]) -> "TfjsGraph":
        doc = json.loads(model_json)
        if doc.get("format") != "graph-model":
            raise TfjsGraphError(f"model format is {doc.get('format')!r}; expected a TF.js 'graph-model' (layers models differ)")
        nodes = {}
        for n in doc["modelTopology"]["node"]:
            nodes[n["name"]] = Node(n["name"], n["op"], tuple(i for i in n.get("input", ()) if not i.startswith("^")),
                                    n.get("attr", {}))
        consts = decode_weights(doc["weightsManifest"], shards)
        missing = [n for n, v in nodes.items() if v.op == "Const" and n not in consts]
        if missing:
            raise TfjsGraphError(f"constants without weights in the manifest: {missing[:5]}")
        sig = doc.get("signature", {})
        ins = tuple(split_ref(v["name"])[0] for v in sig.get("inputs", {}).values()) or tuple(
            n for n, v in nodes.items() if v.op == "Placeholder")
        outs = tuple(sorted((split_ref(v["name"])[0] for v in sig.get("outputs", {}).values()), key=_natural))
        meta = {k: doc.get(k) for k in ("generatedBy", "convertedBy", "signature")}
        return cls(nodes, consts, ins, outs, meta)

    @classmethod
    def from_files(cls, model_json: str, shards: Sequence[str]) -> "TfjsGraph":
        with open(model_json, "rb") as f:
            mj = f.read()
        blobs = []
        for p in shards:
            with open(p, "rb") as f:
                blobs.append(f.read())
        return cls.from_bytes(mj, blobs)

    def topo_order(self) -> list[str]:
        """Node names, every node after its inputs (raises on a cycle)."""
        order: list[str] = []
        state: dict[str, int] = {}
        for root in self.nodes:
            stack = [(root, False)]
            while stack:
                name, done = stack.pop()
                if done:
                    state[name] = 2
                    order.append(name)
                    continue
                if state.get(name) == 2:
                    continue
                if state.get(name) == 1:
                    raise TfjsGraphError(f"the graph has a cycle through {name!r}")
                state[name] = 1
                stack.append((name, True))
                for ref in self.nodes[name].inputs:
                    dep = split_ref(ref)[0]
                    if dep not in self.nodes:
                        raise TfjsGraphError(f"node {name!r} reads {ref!r}, which no node produces")
                    if state.get(dep) != 2:
                        stack.append((dep, False))
        return order

    def ancestors(self, names: Sequence[str]) -> set[str]:
        """``names`` and every node they read, transitively (what computing them needs)."""
        need: set[str] = set()
        stack = [split_ref(n)[0] for n in names]
        while stack:
            k = stack.pop()
            if k not in need:
                need.add(k)
                stack.extend(split_ref(r)[0] for r in self.nodes[k].inputs)
        return need

    def run(self, feeds: Mapping[str, np.ndarray], *, fetch: Sequence[str] | None = None,
            only_consts: bool = False, within: set[str] | None = None) -> dict[str, list[np.ndarray]]:
        """Evaluate with TF semantics; returns node name -> its outputs. With ``only_consts``
        every node computable from constants alone is evaluated (constant folding); with
        ``within`` only those nodes (e.g. :meth:`ancestors` of a cut below the graph's own
        post-processing) are."""
        values: dict[str, list[np.ndarray]] = {n: [v] for n, v in self.consts.items()}
        for k, v in feeds.items():
            values[k] = [np.asarray(v)]
        for name in self.topo_order():
            node = self.nodes[name]
            if name in values or node.op in ("Const", "Placeholder") or (within is not None and name not in within):
                continue
            refs = [split_ref(r) for r in node.inputs]
            if any(d not in values for d, _ in refs):
                if only_consts:
                    continue
                raise TfjsGraphError(f"node {name!r} ({node.op}) has an input nobody fed: {node.inputs}")
            fn = NUMPY_OPS.get(node.op)
            if fn is None:
                raise TfjsGraphError(f"node {name!r}: op {node.op!r} has no NumPy reference; supported: {sorted(NUMPY_OPS)}")
            values[name] = fn(node, [values[d][i] for d, i in refs])
        if fetch is None:
            return values
        return {n: values[n] for n in fetch}


def _natural(s: str) -> tuple:
    import re

    return tuple(int(t) if t.isdigit() else t for t in re.split(r"(\d+)", s))


# -- NumPy reference ops (TensorFlow semantics) --------------------------------------------------
def _pad_same(size: int, k: int, s: int, d: int) -> tuple[int, int]:
    eff = (k - 1) * d + 1
    out = -(-size // s)
    total = max(0, (out - 1) * s + eff - size)
    return total // 2, total - total // 2  # TF puts the odd pixel at the end


def _window_pads(node: Node, x: np.ndarray, kh: int, kw: int, sh: int, sw: int, dh: int, dw: int) -> list[tuple[int, int]]:
    padding = node.attr("padding", "VALID")
    if padding == "VALID":
        return [(0, 0), (0, 0)]
    if padding == "SAME":
        return [_pad_same(x.shape[1], kh, sh, dh), _pad_same(x.shape[2], kw, sw, dw)]
    if padding == "EXPLICIT":
        p = node.attr("explicit_paddings")
        return [(p[2], p[3]), (p[4], p[5])]
    raise TfjsGraphError(f"node {node.name!r}: padding {padding!r}; expected VALID, SAME or EXPLICIT")


def _nhwc(node: Node) -> None:
    fmt = node.attr("data_format", "NHWC")
    if fmt != "NHWC":
        raise TfjsGraphError(f"node {node.name!r}: data_format {fmt!r}; only NHWC is supported")


def _conv(node: Node, x: np.ndarray, w: np.ndarray, *, depthwise: bool) -> np.ndarray:
    _nhwc(node)
    _, sh, sw, _ = node.attr("strides", [1, 1, 1, 1])
    _, dh, dw, _ = node.attr("dilations", [1, 1, 1, 1])
    kh, kw = w.shape[:2]
    (pt, pb), (pl, pr) = _window_pads(node, x, kh, kw, sh, sw, dh, dw)
    xp = np.pad(x.astype(np.float32), [(0, 0), (pt, pb), (pl, pr), (0, 0)])
    n, hp, wp, c = xp.shape
    oh, ow = (hp - (kh - 1) * dh - 1) // sh + 1, (wp - (kw - 1) * dw - 1) // sw + 1
    cols = np.empty((n, oh, ow, kh, kw, c), np.float32)
    for i in range(kh):
        for j in range(kw):
            cols[:, :, :, i, j, :] = xp[:, i * dh:i * dh + (oh - 1) * sh + 1:sh, j * dw:j * dw + (ow - 1) * sw + 1:sw, :]
    if depthwise:  # w: [kh, kw, c, mult] -> out channel c*mult + m
        out = np.einsum("nyxijc,ijcm->nyxcm", cols, w.astype(np.float32)).reshape(n, oh, ow, -1)
    else:
        out = np.tensordot(cols, w.astype(np.float32), axes=([3, 4, 5], [0, 1, 2]))
    return out.astype(np.float32)


def _fused(node: Node, y: np.ndarray, extra: list[np.ndarray]) -> np.ndarray:
    ops = node.attr("fused_ops", [])
    for op in ops:
        if op == "BiasAdd":
            y = y + extra.pop(0)
        elif op in ACTIVATIONS:
            y = ACTIVATIONS[op](y, node.attr("leakyrelu_alpha", 0.2))
        else:
            raise TfjsGraphError(f"node {node.name!r}: fused op {op!r} unsupported; expected BiasAdd and {sorted(ACTIVATIONS)}")
    return y


ACTIVATIONS: dict[str, Callable[[np.ndarray, float], np.ndarray]] = {
    "Relu": lambda x, a: np.maximum(x, 0),
    "Relu6": lambda x, a: np.clip(x, 0, 6),
    "LeakyRelu": lambda x, a: np.where(x >= 0, x, x * a).astype(x.dtype),
    "Sigmoid": lambda x, a: (1.0 / (1.0 + np.exp(-x))).astype(x.dtype),
    "Elu": lambda x, a: np.where(x > 0, x, np.expm1(np.minimum(x, 0))).astype(x.dtype),
    "Tanh": lambda x, a: np.tanh(x),
}


def _max_pool(node: Node, x: np.ndarray) -> np.ndarray:
    _nhwc(node)
    _, kh, kw, _ = node.attr("ksize")
    _, sh, sw, _ = node.attr("strides")
    (pt, pb), (pl, pr) = _window_pads(node, x, kh, kw, sh, sw, 1, 1)
    xp = np.pad(x, [(0, 0), (pt, pb), (pl, pr), (0, 0)], constant_values=-np.inf)
    oh, ow = (xp.shape[1] - kh) // sh + 1, (xp.shape[2] - kw) // sw + 1
    out = np.full((x.shape[0], oh, ow, x.shape[3]), -np.inf, np.float32)
    for i in range(kh):
        for j in range(kw):
            out = np.maximum(out, xp[:, i:i + (oh - 1) * sh + 1:sh, j:j + (ow - 1) * sw + 1:sw, :])
    return out


def _resize_bilinear(node: Node, x: np.ndarray, size: np.ndarray) -> np.ndarray:
    half = node.attr("half_pixel_centers", False)
    if node.attr("align_corners", False):
        raise TfjsGraphError(f"node {node.name!r}: align_corners=True is not supported")
    oh, ow = (int(v) for v in size)

    def weights(out_n: int, in_n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        scale = in_n / out_n
        o = np.arange(out_n, dtype=np.float64)
        src = (o + 0.5) * scale - 0.5 if half else o * scale
        lo_f = np.floor(src)
        lo = np.maximum(lo_f, 0).astype(np.int64)
        hi = np.minimum(np.ceil(src), in_n - 1).astype(np.int64)
        return lo, hi, (src - lo_f).astype(np.float32)

    ylo, yhi, yl = weights(oh, x.shape[1])
    xlo, xhi, xl = weights(ow, x.shape[2])
    top = x[:, ylo][:, :, xlo] * (1 - xl)[None, None, :, None] + x[:, ylo][:, :, xhi] * xl[None, None, :, None]
    bot = x[:, yhi][:, :, xlo] * (1 - xl)[None, None, :, None] + x[:, yhi][:, :, xhi] * xl[None, None, :, None]
    return (top * (1 - yl)[None, :, None, None] + bot * yl[None, :, None, None]).astype(np.float32)


def _sparse_to_dense(node: Node, idx: np.ndarray, shape: np.ndarray, vals: np.ndarray, default: np.ndarray) -> np.ndarray:
    out = np.full(tuple(int(s) for s in np.atleast_1d(shape)), default, dtype=np.asarray(default).dtype)
    rows = np.asarray(idx).reshape(-1, max(out.ndim, 1))
    v = np.broadcast_to(vals, (len(rows),))
    for k, i in enumerate(rows):
        out[tuple(int(t) for t in i)] = v[k]
    return out


def _split_v(node: Node, x: np.ndarray, sizes: np.ndarray, axis: np.ndarray) -> list[np.ndarray]:
    sizes = [int(s) for s in sizes]
    ax = int(axis)
    if -1 in sizes:
        sizes[sizes.index(-1)] = x.shape[ax] - (sum(sizes) + 1)
    return list(np.split(x, np.cumsum(sizes)[:-1], axis=ax))


def _strided_slice(node: Node, x: np.ndarray, begin: np.ndarray, end: np.ndarray, strides: np.ndarray) -> np.ndarray:
    masks = ("begin_mask", "end_mask", "ellipsis_mask", "new_axis_mask", "shrink_axis_mask")
    if any(int(node.attr(m, 0) or 0) for m in masks):
        raise TfjsGraphError(f"node {node.name!r}: StridedSlice with masks {[m for m in masks if node.attr(m, 0)]}; only plain slices are supported")
    return np.asarray(x)[tuple(slice(int(b), int(e), int(s)) for b, e, s in zip(begin, end, strides))]


def _pad(node: Node, x: np.ndarray, pads: np.ndarray, value: np.ndarray | float = 0.0) -> np.ndarray:
    return np.pad(x, [tuple(int(v) for v in p) for p in pads], constant_values=np.asarray(value).item())


NUMPY_OPS: dict[str, Callable[[Node, list[np.ndarray]], list[np.ndarray]]] = {
    "Identity": lambda n, a: [a[0]],
    "Add": lambda n, a: [np.add(a[0], a[1])],
    "AddV2": lambda n, a: [np.add(a[0], a[1])],
    "BiasAdd": lambda n, a: [np.add(a[0], a[1])],
    "Sub": lambda n, a: [np.subtract(a[0], a[1])],
    "Mul": lambda n, a: [np.multiply(a[0], a[1])],
    "RealDiv": lambda n, a: [np.divide(a[0], a[1]).astype(a[0].dtype)],
    "Maximum": lambda n, a: [np.maximum(a[0], a[1])],
    "Minimum": lambda n, a: [np.minimum(a[0], a[1])],
    "Transpose": lambda n, a: [np.transpose(a[0], [int(p) for p in a[1]])],
    "Reshape": lambda n, a: [np.reshape(a[0], [int(s) for s in a[1]])],
    "ConcatV2": lambda n, a: [np.concatenate(a[:-1], axis=int(a[-1]))],
    "Pad": lambda n, a: [_pad(n, a[0], a[1])],
    "PadV2": lambda n, a: [_pad(n, a[0], a[1], a[2])],
    "SplitV": lambda n, a: _split_v(n, *a),
    "Conv2D": lambda n, a: [_conv(n, a[0], a[1], depthwise=False)],
    "DepthwiseConv2dNative": lambda n, a: [_conv(n, a[0], a[1], depthwise=True)],
    "_FusedConv2D": lambda n, a: [_fused(n, _conv(n, a[0], a[1], depthwise=False), list(a[2:]))],
    "FusedDepthwiseConv2dNative": lambda n, a: [_fused(n, _conv(n, a[0], a[1], depthwise=True), list(a[2:]))],
    "MaxPool": lambda n, a: [_max_pool(n, a[0])],
    "ResizeBilinear": lambda n, a: [_resize_bilinear(n, a[0], a[1])],
    "SparseToDense": lambda n, a: [_sparse_to_dense(n, *a)],
    "Shape": lambda n, a: [np.array(np.shape(a[0]), {"DT_INT64": np.int64}.get(n.attr("out_type"), np.int32))],
    "StridedSlice": lambda n, a: [_strided_slice(n, *a)],
    "Cast": lambda n, a: [a[0].astype({"DT_FLOAT": np.float32, "DT_INT32": np.int32, "DT_INT64": np.int64}[n.attr("DstT")])],
    **{op: (lambda f: (lambda n, a: [f(a[0], n.attr("alpha", 0.2))]))(f) for op, f in ACTIVATIONS.items()},
}
