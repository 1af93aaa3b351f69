"""Roofline counting over ONNX graphs, and the torch preprocessing the GPU path uses (run on CPU)."""
from __future__ import annotations

import cv2
import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

from runtime import preprocess_bgr
from runtime.engines import EngineError, OrtEngine
from runtime.engines.roofline import onnx_cost, roofline_images_per_s


def _conv_model(*, clip: bool) -> bytes:
    w = onnx.numpy_helper.from_array(np.ones((4, 3, 3, 3), np.float32), "w")
    nodes = [helper.make_node("Conv", ["x", "w"], ["c"], pads=[1, 1, 1, 1])]
    if clip:
        nodes.append(helper.make_node("Relu", ["c"], ["y"]))
    g = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 3, 8, 8])],
                          [helper.make_tensor_value_info("y" if clip else "c", TensorProto.FLOAT, None)], initializer=[w])
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]).SerializeToString()


def test_conv_cost_is_counted_by_hand():
    cost = onnx_cost(_conv_model(clip=True))
    # out 4x8x8 = 256 elements, each 3*3*3 MACs -> 2*256*27 FLOPs, plus 256 for the Relu
    assert cost.flops_per_image == 2 * 256 * 27 + 256
    assert cost.weight_bytes == 108 * 2
    assert cost.fused_activation_bytes_per_image == (192 + 256) * 2  # Relu fused into the conv
    assert cost.unfused_activation_bytes_per_image == (192 + 256 + 256 + 256) * 2  # Relu reads and writes


def test_mobilenet_v2_cost_matches_its_published_size(backbone_path):
    cost = onnx_cost(backbone_path.read_bytes())
    assert 0.59e9 < cost.flops_per_image < 0.62e9  # MobileNetV2 1.0 at 224: ~300M MACs
    assert 6.5 < cost.weight_bytes / 2**20 < 7.0  # 3.5M parameters in FP16
    assert cost.fused_activation_bytes_per_image < cost.unfused_activation_bytes_per_image


@pytest.mark.parametrize(
    ("peak_flops", "bandwidth", "bound"),
    [
        (1e15, 1e9, "memory"),  # starved of bandwidth
        (1e6, 1e15, "compute"),  # starved of compute
    ],
)
def test_roofline_takes_the_binding_limit(peak_flops, bandwidth, bound):
    cost = onnx_cost(_conv_model(clip=False))
    r = roofline_images_per_s(cost, peak_flops=peak_flops, bandwidth_bytes_per_s=bandwidth, batch=64)
    assert r["bound"] == bound
    assert r["images_per_s"] == min(r["compute_bound_images_per_s"], r["memory_bound_images_per_s"])
    # bigger batches amortise the weights: never a lower memory-bound limit
    r1 = roofline_images_per_s(cost, peak_flops=peak_flops, bandwidth_bytes_per_s=bandwidth, batch=1)
    assert r1["memory_bound_images_per_s"] < r["memory_bound_images_per_s"]


def test_roofline_refuses_nonpositive_peaks():
    with pytest.raises(EngineError, match="positive peaks"):
        roofline_images_per_s(onnx_cost(_conv_model(clip=False)), peak_flops=0, bandwidth_bytes_per_s=1, batch=1)


@pytest.fixture(scope="module")
def frames() -> list[np.ndarray]:
    from skimage import data

    return [np.ascontiguousarray(cv2.resize(p, (640, 360))[:, :, ::-1])
            for p in (data.astronaut(), data.coffee(), data.chelsea(), data.rocket())]


def test_torch_preprocessing_matches_opencv_through_the_backbone(backbone_path, frames):
    torch = pytest.importorskip("torch")
    from runtime.engines.torch_preprocess import preprocess_bgr_torch

    ref = preprocess_bgr(frames)
    got = preprocess_bgr_torch(torch.from_numpy(np.stack(frames))).numpy()
    assert got.shape == ref.shape and got.dtype == np.float32
    assert np.abs(got - ref).mean() < 0.05  # area interpolation differs from INTER_AREA at edges only
    eng = OrtEngine(backbone_path.read_bytes())
    a, b = eng.run({"image": ref}), eng.run({"image": got})
    assert (a["logits"].argmax(1) == b["logits"].argmax(1)).all()
    cos = (a["embedding"] * b["embedding"]).sum(1) / np.linalg.norm(a["embedding"], axis=1) / np.linalg.norm(b["embedding"], axis=1)
    assert cos.min() > 0.98, cos


def test_jpeg_batch_decodes_to_the_frames(frames):
    pytest.importorskip("torchvision")
    from runtime.engines.torch_preprocess import decode_jpeg_batch

    blobs = [cv2.imencode(".jpg", f, [cv2.IMWRITE_JPEG_QUALITY, 95])[1].tobytes() for f in frames]
    batch = decode_jpeg_batch(blobs, device="cpu")
    rgb = np.stack([f[:, :, ::-1] for f in frames]).transpose(0, 3, 1, 2)
    assert tuple(batch.shape) == rgb.shape
    assert np.abs(batch.numpy().astype(int) - rgb).mean() < 3  # JPEG at quality 95


@pytest.mark.parametrize(
    ("shape", "match"),
    [
        ((2, 360, 640), "expected BGR uint8 frames"),  # missing the channel axis
        ((2, 360, 640, 4), "expected BGR uint8 frames"),  # BGRA
    ],
)
def test_torch_preprocessing_refuses_bad_shapes(shape, match):
    torch = pytest.importorskip("torch")
    from runtime.engines.torch_preprocess import preprocess_bgr_torch

    with pytest.raises(EngineError, match=match):
        preprocess_bgr_torch(torch.zeros(shape, dtype=torch.uint8))


def test_jpeg_batch_refuses_mixed_resolutions(frames):
    pytest.importorskip("torchvision")
    from runtime.engines.torch_preprocess import decode_jpeg_batch

    blobs = [cv2.imencode(".jpg", f)[1].tobytes() for f in (frames[0], frames[1][:100])]
    with pytest.raises(EngineError, match="JPEG 1 decodes to"):
        decode_jpeg_batch(blobs, device="cpu")
