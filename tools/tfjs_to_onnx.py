"""Convert a TensorFlow.js graph model to ONNX with the ``onnx`` package alone (no TensorFlow).

Every TF tensor becomes an ONNX tensor with the *same* shape and values, so the TF graph's
own layout is kept: ops that TF runs in NHWC (``Conv2D``, ``DepthwiseConv2dNative``, their
``_Fused*`` forms, ``MaxPool``, ``ResizeBilinear``) are emitted as ``Transpose(NHWC->NCHW)
-> op -> Transpose(NCHW->NHWC)`` with the filters turned from HWIO to OIHW (depthwise
``[kh, kw, c, m]`` -> ``[c*m, 1, kh, kw]``, ``group=c``). Then two rewrites make the graph
lean: a convolution followed by an ``Add``/``BiasAdd`` of a per-channel constant takes it as
its bias (what TF.js's ``_FusedConv2D`` does), and chains of transposes are composed, those
that compose to the identity removed. Graphs exported through ONNX -> TF (onnx-tf, like
NanoDet's) run NCHW between convolutions, so nearly every transpose cancels.

Constant sub-graphs are folded with the NumPy interpreter of :mod:`tools.tfjs_graph`, which
also supplies the static shapes (``ResizeBilinear`` sizes, ``SAME`` padding).

>>> model = tfjs_to_onnx(graph, output_names={"Identity": "cls_pred_stride8"})   # doctest: +SKIP
"""
from __future__ import annotations

import logging
from typing import Any, Mapping

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from tools.tfjs_graph import ACTIVATIONS, Node, TfjsGraph, TfjsGraphError, _pad_same, split_ref

log = logging.getLogger(__name__)

OPSET = 17
IR_VERSION = 8  # readable by every ONNX Runtime >= 1.10 and TensorRT 8.6+
_BINARY = {"Add": "Add", "AddV2": "Add", "BiasAdd": "Add", "Sub": "Sub", "Mul": "Mul", "RealDiv": "Div",
           "Maximum": "Max", "Minimum": "Min"}
_CONVS = ("Conv2D", "DepthwiseConv2dNative", "_FusedConv2D", "FusedDepthwiseConv2dNative")
_TO_NCHW, _TO_NHWC = [0, 3, 1, 2], [0, 2, 3, 1]
_ONNX_DTYPE = {np.dtype(np.float32): TensorProto.FLOAT, np.dtype(np.int32): TensorProto.INT32,
               np.dtype(np.int64): TensorProto.INT64, np.dtype(np.bool_): TensorProto.BOOL}


class _Emitter:
    def __init__(self, graph: TfjsGraph, consts: Mapping[str, np.ndarray], shapes: Mapping[str, tuple[int, ...]]) -> None:
        self.g, self.consts, self.shapes = graph, consts, shapes
        self.nodes: list[onnx.NodeProto] = []
        self.inits: dict[str, TensorProto] = {}
        self.alias: dict[str, str] = {}  # TF ref -> ONNX tensor name
        self._n = 0

    def tensor(self, ref: str) -> str:
        """ONNX tensor name of a TF input ref (a constant becomes an initializer on first use)."""
        name, idx = split_ref(ref)
        key = name if idx == 0 else f"{name}:{idx}"
        if key in self.alias:
            return self.alias[key]
        if name in self.consts:
            arr = self.consts[name]
            if arr.dtype == np.int32:  # TF.js stores int64 constants as int32; ONNX index inputs want int64
                arr = arr.astype(np.int64) if self.g.nodes[name].attr("dtype") == "DT_INT64" else arr
            return self.init(arr, name)
        return key

    def init(self, arr: np.ndarray, hint: str) -> str:
        name = hint
        while name in self.inits:
            self._n += 1
            name = f"{hint}__{self._n}"
        self.inits[name] = numpy_helper.from_array(np.ascontiguousarray(arr), name)
        return name

    def const_value(self, ref: str, who: Node) -> np.ndarray:
        name, _ = split_ref(ref)
        if name not in self.consts:
            raise TfjsGraphError(f"node {who.name!r} ({who.op}) needs {ref!r} to be a constant, but it is computed at run time")
        return self.consts[name]

    def emit(self, op: str, inputs: list[str], outputs: list[str] | None = None, *, hint: str, **attrs: Any) -> list[str]:
        if outputs is None:
            self._n += 1
            outputs = [f"{hint}__{op}{self._n}"]
        self.nodes.append(helper.make_node(op, inputs, outputs, name=f"{hint}__{op}{len(self.nodes)}", **attrs))
        return outputs

    def shape(self, ref: str) -> tuple[int, ...]:
        name, idx = split_ref(ref)
        return self.shapes[name if idx == 0 else f"{name}:{idx}"]


def _bias_fusions(graph: TfjsGraph, consts: Mapping[str, np.ndarray], consumers: Mapping[str, list[str]]) -> dict[str, str]:
    """conv node -> the Add node whose per-channel constant becomes the conv's bias."""
    out = {}
    for name, node in graph.nodes.items():
        if node.op not in ("Conv2D", "DepthwiseConv2dNative") or len(consumers.get(name, ())) != 1:
            continue
        add = graph.nodes[consumers[name][0]]
        if add.op not in ("Add", "AddV2", "BiasAdd") or len(add.inputs) != 2:
            continue
        other = [r for r in add.inputs if split_ref(r)[0] != name]
        if len(other) != 1 or split_ref(other[0])[0] not in consts:
            continue
        bias = consts[split_ref(other[0])[0]]
        w = consts.get(split_ref(node.inputs[1])[0])
        if w is None or bias.ndim != 1:
            continue
        c_out = w.shape[3] if node.op == "Conv2D" else w.shape[2] * w.shape[3]
        if bias.shape[0] == c_out:
            out[name] = add.name
    return out


def _conv(e: _Emitter, node: Node, out_name: str, bias_ref: str | None) -> None:
    x, w_ref = node.inputs[0], node.inputs[1]
    w = e.const_value(w_ref, node).astype(np.float32)
    depthwise = node.op in ("DepthwiseConv2dNative", "FusedDepthwiseConv2dNative")
    kh, kw, cin, cm = w.shape
    if depthwise:
        w_oihw, group = w.reshape(kh, kw, cin * cm).transpose(2, 0, 1)[:, None], cin
    else:
        w_oihw, group = w.transpose(3, 2, 0, 1), 1
    fmt = node.attr("data_format", "NHWC")
    if fmt != "NHWC":
        raise TfjsGraphError(f"node {node.name!r}: data_format {fmt!r}; only NHWC is supported")
    _, sh, sw, _ = node.attr("strides", [1, 1, 1, 1])
    _, dh, dw, _ = node.attr("dilations", [1, 1, 1, 1])
    padding = node.attr("padding", "VALID")
    _, ih, iw, _ = e.shape(x)
    if padding == "VALID":
        pads = [0, 0, 0, 0]
    elif padding == "SAME":
        (pt, pb), (pl, pr) = _pad_same(ih, kh, sh, dh), _pad_same(iw, kw, sw, dw)
        pads = [pt, pl, pb, pr]
    elif padding == "EXPLICIT":
        p = node.attr("explicit_paddings")
        pads = [p[2], p[4], p[3], p[5]]
    else:
        raise TfjsGraphError(f"node {node.name!r}: padding {padding!r}; expected VALID, SAME or EXPLICIT")
    extra = [e.tensor(r) for r in node.inputs[2:]]
    fused = list(node.attr("fused_ops", []))
    ins = [e.emit("Transpose", [e.tensor(x)], hint=node.name, perm=_TO_NCHW)[0], e.init(w_oihw, f"{node.name}/weights_oihw")]
    if bias_ref is not None:
        ins.append(e.tensor(bias_ref))
    elif fused[:1] == ["BiasAdd"]:
        ins.append(extra.pop(0))
        fused.pop(0)
    y = e.emit("Conv", ins, hint=node.name, kernel_shape=[kh, kw], strides=[sh, sw], dilations=[dh, dw], pads=pads,
               group=group)[0]
    for op in fused:
        y = _activation(e, node, op, y)
    e.emit("Transpose", [y], [out_name], hint=node.name, perm=_TO_NHWC)


def _activation(e: _Emitter, node: Node, op: str, x: str) -> str:
    if op not in ACTIVATIONS:
        raise TfjsGraphError(f"node {node.name!r}: activation {op!r} unsupported; expected one of {sorted(ACTIVATIONS)}")
    if op == "Relu6":
        lo, hi = e.init(np.array(0, np.float32), "relu6_min"), e.init(np.array(6, np.float32), "relu6_max")
        return e.emit("Clip", [x, lo, hi], hint=node.name)[0]
    if op == "LeakyRelu":
        alpha = node.attr("leakyrelu_alpha", None) if node.op in _CONVS else node.attr("alpha", 0.2)
        return e.emit("LeakyRelu", [x], hint=node.name, alpha=float(0.2 if alpha is None else alpha))[0]
    if op == "Elu":
        return e.emit("Elu", [x], hint=node.name, alpha=1.0)[0]
    return e.emit(op, [x], hint=node.name)[0]


def _nhwc_wrapped(e: _Emitter, node: Node, out: str, op: str, extra_inputs: list[str], **attrs: Any) -> None:
    t = e.emit("Transpose", [e.tensor(node.inputs[0])], hint=node.name, perm=_TO_NCHW)[0]
    y = e.emit(op, [t, *extra_inputs], hint=node.name, **attrs)[0]
    e.emit("Transpose", [y], [out], hint=node.name, perm=_TO_NHWC)


def _emit_node(e: _Emitter, node: Node, bias_of: Mapping[str, str], fused_add: Mapping[str, str], dynamic_batch: bool) -> None:
    op, name = node.op, node.name
    if name in fused_add:  # this Add is the bias of a conv emitted under this node's name
        return
    if op in _CONVS:
        add = bias_of.get(name)
        bias_ref = None
        if add is not None:
            bias_ref = next(r for r in e.g.nodes[add].inputs if split_ref(r)[0] != name)
        _conv(e, node, add or name, bias_ref)
        return
    ins = node.inputs
    if op == "Identity":
        e.alias[name] = e.tensor(ins[0])
    elif op in _BINARY:
        e.emit(_BINARY[op], [e.tensor(ins[0]), e.tensor(ins[1])], [name], hint=name)
    elif op in ACTIVATIONS:
        y = _activation(e, node, op, e.tensor(ins[0]))
        e.alias[name] = y
    elif op == "Transpose":
        perm = [int(p) for p in e.const_value(ins[1], node)]
        e.emit("Transpose", [e.tensor(ins[0])], [name], hint=name, perm=perm)
    elif op == "Reshape":
        shape = [int(s) for s in e.const_value(ins[1], node)]
        if dynamic_batch and shape and shape[0] == 1 and e.shape(ins[0])[0] == 1:
            shape[0] = 0  # ONNX: copy the batch dimension from the input
        e.emit("Reshape", [e.tensor(ins[0]), e.init(np.array(shape, np.int64), f"{name}/shape")], [name], hint=name)
    elif op == "ConcatV2":
        axis = int(e.const_value(ins[-1], node))
        e.emit("Concat", [e.tensor(r) for r in ins[:-1]], [name], hint=name, axis=axis)
    elif op in ("Pad", "PadV2"):
        p = np.asarray(e.const_value(ins[1], node), np.int64)
        pads = e.init(np.concatenate([p[:, 0], p[:, 1]]), f"{name}/pads")
        value = np.asarray(e.const_value(ins[2], node) if op == "PadV2" else 0, np.float32)
        if op == "PadV2" and not np.isfinite(value):
            value = np.asarray(np.finfo(np.float32).min if value < 0 else np.finfo(np.float32).max, np.float32)
        e.emit("Pad", [e.tensor(ins[0]), pads, e.init(value.reshape(()), f"{name}/value")], [name], hint=name, mode="constant")
    elif op == "SplitV":
        sizes = [int(s) for s in e.const_value(ins[1], node)]
        axis = int(e.const_value(ins[2], node))
        if -1 in sizes:
            sizes[sizes.index(-1)] = e.shape(ins[0])[axis] - (sum(sizes) + 1)
        outs = [name] + [f"{name}:{i}" for i in range(1, len(sizes))]
        e.emit("Split", [e.tensor(ins[0]), e.init(np.array(sizes, np.int64), f"{name}/sizes")], outs, hint=name, axis=axis)
    elif op == "MaxPool":
        _, kh, kw, _ = node.attr("ksize")
        _, sh, sw, _ = node.attr("strides")
        padding = node.attr("padding", "VALID")
        if padding not in ("VALID", "SAME"):
            raise TfjsGraphError(f"node {name!r}: MaxPool padding {padding!r}; expected VALID or SAME")
        _, ih, iw, _ = e.shape(ins[0])
        (pt, pb), (pl, pr) = ((0, 0), (0, 0)) if padding == "VALID" else (_pad_same(ih, kh, sh, 1), _pad_same(iw, kw, sw, 1))
        _nhwc_wrapped(e, node, name, "MaxPool", [], kernel_shape=[kh, kw], strides=[sh, sw], pads=[pt, pl, pb, pr])
    elif op == "ResizeBilinear":
        if node.attr("align_corners", False):
            raise TfjsGraphError(f"node {name!r}: ResizeBilinear with align_corners=True is not supported")
        oh, ow = (int(v) for v in e.const_value(ins[1], node))
        _, ih, iw, _ = e.shape(ins[0])
        scales = e.init(np.array([1, 1, oh / ih, ow / iw], np.float32), f"{name}/scales")
        mode = "half_pixel" if node.attr("half_pixel_centers", False) else "asymmetric"
        _nhwc_wrapped(e, node, name, "Resize", ["", scales], mode="linear", coordinate_transformation_mode=mode)
    elif op == "Cast":
        to = {"DT_FLOAT": TensorProto.FLOAT, "DT_INT32": TensorProto.INT32, "DT_INT64": TensorProto.INT64}[node.attr("DstT")]
        e.emit("Cast", [e.tensor(ins[0])], [name], hint=name, to=to)
    else:
        raise TfjsGraphError(f"node {name!r}: op {op!r} has no ONNX mapping; supported: "
                             f"{sorted({*_BINARY, *ACTIVATIONS, *_CONVS, 'Identity', 'Transpose', 'Reshape', 'ConcatV2', 'Pad', 'PadV2', 'SplitV', 'MaxPool', 'ResizeBilinear', 'Cast'})}")


def _simplify_transposes(nodes: list[onnx.NodeProto], keep: set[str]) -> list[onnx.NodeProto]:
    """Compose Transpose chains; drop identities and nodes nobody reads (``keep``: graph outputs)."""
    changed = True
    while changed:
        changed = False
        producer = {o: n for n in nodes for o in n.output}
        rename: dict[str, str] = {}
        for n in nodes:
            if n.op_type != "Transpose":
                continue
            src = producer.get(n.input[0])
            perm = list(helper.get_attribute_value(next(a for a in n.attribute if a.name == "perm")))
            if src is not None and src.op_type == "Transpose":
                p0 = list(helper.get_attribute_value(next(a for a in src.attribute if a.name == "perm")))
                perm = [p0[i] for i in perm]
                n.input[0] = src.input[0]
                del n.attribute[:]
                n.attribute.append(helper.make_attribute("perm", perm))
                changed = True
            if perm == sorted(perm) and n.output[0] not in keep:
                rename[n.output[0]] = n.input[0]
        if rename:
            changed = True
            nodes = [n for n in nodes if not (n.op_type == "Transpose" and n.output[0] in rename)]
            for n in nodes:
                for i, name in enumerate(n.input):
                    while name in rename:
                        name = rename[name]
                    n.input[i] = name
        used = {i for n in nodes for i in n.input} | keep
        alive = [n for n in nodes if any(o in used for o in n.output)]
        if len(alive) != len(nodes):
            changed = True
            nodes = alive
    return nodes


def _shape_only(graph: TfjsGraph, folded: Mapping[str, Any], within: set[str] | None) -> set[str]:
    """Nodes whose value depends on tensor shapes alone (``Shape`` and what computes from it and
    constants): folded at the traced input shape, which is how a resize's size becomes a scale."""
    out: set[str] = set()
    for name in graph.topo_order():
        node = graph.nodes[name]
        if (within is not None and name not in within) or name in folded or node.op in ("Const", "Placeholder"):
            continue
        deps = [split_ref(r)[0] for r in node.inputs]
        if node.op == "Shape" or (deps and all(d in folded or d in out for d in deps)):
            out.add(name)
    return out


def tfjs_to_onnx(graph: TfjsGraph, *, output_names: Mapping[str, str] | None = None, input_name: str = "input",
                 dynamic_batch: bool = True, graph_name: str = "tfjs_graph", doc: str = "",
                 outputs: tuple[str, ...] | None = None, trace_shape: tuple[int, ...] | None = None) -> onnx.ModelProto:
    """The ONNX model of a one-input TF.js graph (see the module doc). ``output_names`` renames
    the outputs (TF node name -> ONNX output name); ``outputs`` cuts the graph at these nodes
    instead of the signature's (e.g. below a post-processing the project does itself);
    ``dynamic_batch`` makes the first input dimension symbolic ``N`` (reshapes that fix it at 1
    copy it instead); an input with unknown sizes (``-1``) is traced at ``trace_shape`` and those
    sizes stay symbolic in the ONNX (with the outputs' spatial sizes)."""
    if len(graph.inputs) != 1:
        raise TfjsGraphError(f"graph has inputs {graph.inputs}; this converter handles one input")
    in_node = graph.nodes[graph.inputs[0]]
    declared = [int(d.get("size", -1)) for d in in_node.attrs["shape"]["shape"]["dim"]]
    in_shape = list(trace_shape) if trace_shape else declared
    if any(d < 1 for d in in_shape) or len(in_shape) != len(declared) or any(0 < a != b for a, b in zip(declared, in_shape)):
        raise TfjsGraphError(f"input {in_node.name!r} has shape {declared}; give trace_shape with every size known "
                             f"(and the known ones kept) for the shape pass, not {trace_shape}")
    free = [i for i, d in enumerate(declared) if d < 1]
    out_nodes = tuple(outputs) if outputs else graph.outputs
    within = graph.ancestors(out_nodes) if outputs else None
    folded = {k: v[0] for k, v in graph.run({}, only_consts=True, within=within).items()}
    probe = graph.run({in_node.name: np.zeros(in_shape, np.float32)}, within=within)
    folded.update({k: probe[k][0] for k in _shape_only(graph, folded, within)})
    shapes = {}
    for k, v in probe.items():
        for i, arr in enumerate(v):
            shapes[k if i == 0 else f"{k}:{i}"] = tuple(np.shape(arr))
    consts = {k: np.asarray(v) for k, v in folded.items()}
    consumers: dict[str, list[str]] = {}
    for n in graph.nodes.values():
        if within is not None and n.name not in within:
            continue
        for r in n.inputs:
            consumers.setdefault(split_ref(r)[0], []).append(n.name)
    bias_of = _bias_fusions(graph, consts, consumers)
    e = _Emitter(graph, consts, shapes)
    e.alias[in_node.name] = input_name
    for name in graph.topo_order():
        node = graph.nodes[name]
        if name in consts or node.op in ("Const", "Placeholder") or (within is not None and name not in within):
            continue
        _emit_node(e, node, bias_of, {a: c for c, a in bias_of.items()}, dynamic_batch)
    names = dict(output_names or {n: n for n in out_nodes})
    outputs = []
    for tf_name in out_nodes:
        src = e.tensor(tf_name)
        out = names.get(tf_name, tf_name)
        e.nodes.append(helper.make_node("Identity", [src], [out], name=f"{out}__out"))
        dims: list = list(shapes[tf_name])
        if free and len(dims) == 4:
            dims[1:3] = [f"{out}_h", f"{out}_w"]
        if dynamic_batch:
            dims[0] = "N"
        outputs.append(helper.make_tensor_value_info(out, TensorProto.FLOAT, dims))
    nodes = _simplify_transposes(e.nodes, {o.name for o in outputs})
    used = {i for n in nodes for i in n.input}
    inits = [t for name, t in e.inits.items() if name in used]
    spatial = iter(("H", "W", "D"))
    in_dims: list = [next(spatial) if i in free and i > 0 else d for i, d in enumerate(in_shape)]
    if dynamic_batch:
        in_dims[0] = "N"
    x = helper.make_tensor_value_info(input_name, TensorProto.FLOAT, in_dims)
    model = helper.make_model(helper.make_graph(nodes, graph_name, [x], outputs, inits, doc_string=doc),
                              opset_imports=[helper.make_opsetid("", OPSET)], producer_name="city-algorithm-warehouse/tools.tfjs_to_onnx",
                              producer_version="1")
    model.ir_version = IR_VERSION
    onnx.checker.check_model(model)
    log.info("converted %s: %d TF nodes -> %d ONNX nodes, %d initializers", graph_name, len(graph.nodes), len(nodes), len(inits))
    return model
