"""Engines: selection, registry, cache keys, and agreement of every available engine with ORT CPU."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from catalog import linear_head_onnx, read_linear_head
from runtime import Backbone
from runtime.engines import (
    EngineError,
    EngineKind,
    EngineRegistry,
    EngineUnavailableError,
    OrtEngine,
    TorchEngine,
    cuda_device_present,
    default_engine_registry,
    select_engine,
    trt_cache_key,
)

ROOT = Path(__file__).resolve().parents[3]
# float32 engines on CPU must agree to this (max abs diff on logits / embedding)
CPU_ATOL = 1e-3
# FP16 GPU engines: relative to the output's scale, plus the same top-1 class
FP16_RTOL = 3e-2


# backbone_path and sample_batch: tests/runtime/engines/conftest.py


@pytest.mark.parametrize(
    ("available", "preference", "expected"),
    [
        (["ort-cpu"], None, "ort-cpu"),  # CPU box
        (["ort-cpu", "ort-cuda"], None, "ort-cuda"),  # onnxruntime-gpu only
        (["ort-cpu", "ort-cuda", "torch-cuda"], None, "torch-cuda"),  # torch FP16 beats ORT CUDA FP32
        (["ort-cpu", "ort-tensorrt", "tensorrt", "torch-cuda"], None, "tensorrt"),  # native TRT first
        (["ort-cpu", "torch-cpu"], None, "ort-cpu"),  # torch-cpu is never picked by default
        (["ort-cpu", "ort-cuda"], ("ort-cpu", "ort-cuda"), "ort-cpu"),  # caller's preference wins
    ],
)
def test_select_engine_picks_most_preferred(available, preference, expected):
    kwargs = {} if preference is None else {"preference": preference}
    assert select_engine(available, **kwargs) == expected


@pytest.mark.parametrize("available", [[], ["torch-cpu"]])
def test_select_engine_without_candidates_names_the_fix(available):
    with pytest.raises(EngineUnavailableError, match=r"pip install .city-algorithm-warehouse\[cpu\]"):
        select_engine(available)


def test_registry_refuses_unknown_and_unavailable_engines():
    reg = EngineRegistry()
    reg.register(EngineKind("never", lambda: "no such hardware", lambda m, o: None))
    assert reg.available() == () and reg.why_unavailable() == {"never": "no such hardware"}
    with pytest.raises(EngineError, match="unknown engine 'nope'"):
        reg.create(b"", engine="nope")
    with pytest.raises(EngineUnavailableError, match="no such hardware"):
        reg.create(b"", engine="never")


def test_registry_refuses_missing_model_file(tmp_path):
    with pytest.raises(EngineError, match="does not exist"):
        default_engine_registry().create(tmp_path / "missing.onnx", engine="ort-cpu")


def test_default_registry_always_has_ort_cpu():
    assert "ort-cpu" in default_engine_registry().available()


BASE_KEY = dict(gpu_name="NVIDIA H100 80GB HBM3", trt_version="10.3.0", fp16=True, max_batch=256)


@pytest.mark.parametrize(
    "change",
    [
        {"gpu_name": "NVIDIA A10"},  # a plan is GPU-model specific
        {"trt_version": "10.4.0"},  # ... and TensorRT-version specific
        {"fp16": False},  # precision
        {"max_batch": 64},  # optimisation profile
    ],
)
def test_trt_cache_key_changes_with_every_component(change):
    sha = "ab" * 32
    assert trt_cache_key(sha, **{**BASE_KEY, **change}) != trt_cache_key(sha, **BASE_KEY)
    assert trt_cache_key("cd" * 32, **BASE_KEY) != trt_cache_key(sha, **BASE_KEY)


def test_trt_cache_key_is_file_name_safe():
    key = trt_cache_key("ab" * 32, gpu_name="NVIDIA GeForce RTX 4090 / (x)", trt_version="10.3.0", fp16=True, max_batch=8)
    assert "/" not in key and " " not in key and key.startswith("abababab")


@pytest.mark.parametrize("activation", ["sigmoid", "softmax", "none"])
def test_ort_head_matches_numpy_reference(activation):
    rng = np.random.default_rng(3)
    blob = linear_head_onnx(rng.standard_normal((1280, 5)).astype(np.float32), rng.standard_normal(5).astype(np.float32),
                            labels=list("abcde"), activation=activation)
    emb = rng.standard_normal((7, 1280)).astype(np.float32)
    got = OrtEngine(blob).run({"embedding": emb})["scores"]
    np.testing.assert_allclose(got, read_linear_head(blob).scores(emb), atol=1e-5, rtol=1e-5)


def test_backbone_on_engine_reproduces_the_verified_export(backbone_path, sample_batch):
    # the export step verified ORT against PyTorch and stored the top-1 classes it saw
    report = json.loads(backbone_path.with_name(backbone_path.stem + ".verify.json").read_text())
    bb = Backbone.load(backbone_path, engine="ort-cpu")
    logits, emb = bb.run(sample_batch)
    assert [bb.info.imagenet_labels[i] for i in logits.argmax(1)] == report["top1_on_samples"]
    assert emb.shape == (4, bb.info.embedding_dim)


def test_torch_cpu_engine_agrees_with_ort_cpu(backbone_path, sample_batch):
    pytest.importorskip("torch")
    blob = backbone_path.read_bytes()
    ref = OrtEngine(blob).run({"image": sample_batch})
    got = TorchEngine(blob, device="cpu").run({"image": sample_batch})
    for name in ("logits", "embedding"):
        assert np.abs(got[name] - ref[name]).max() < CPU_ATOL, name


def test_torch_engine_refuses_unsupported_operators():
    pytest.importorskip("torch")
    from onnx import TensorProto, helper

    node = helper.make_node("Erf", ["x"], ["y"])
    graph = helper.make_graph([node], "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1])])
    blob = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]).SerializeToString()
    with pytest.raises(EngineError, match=r"cannot run ONNX operators \['Erf'\]"):
        TorchEngine(blob, device="cpu")


def test_importing_runtime_loads_neither_torch_nor_tensorrt():
    code = "import sys, runtime, runtime.engines; runtime.engines.default_engine_registry().available(); " \
           "print('torch' in sys.modules, 'tensorrt' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    assert out.stdout.split() == ["False", "False"]


def test_torch_device_path_matches_host_path(backbone_path, sample_batch):
    torch = pytest.importorskip("torch")
    eng = TorchEngine(backbone_path.read_bytes(), device="cpu")
    host = eng.run({"image": sample_batch})
    dev = eng.run_torch({"image": torch.from_numpy(sample_batch)})
    assert set(dev) == {"logits", "embedding"} and dev["embedding"].dtype == torch.float32
    np.testing.assert_array_equal(dev["logits"].numpy(), host["logits"])


def test_cuda_graph_refuses_a_cpu_engine(backbone_path):
    pytest.importorskip("torch")
    eng = TorchEngine(backbone_path.read_bytes(), device="cpu")
    with pytest.raises(EngineError, match="CUDA graphs need a CUDA engine"):
        eng.cuda_graph(4)


# Tolerances of the GPU engines against ONNX Runtime CPU (float32), as a fraction of the
# output's largest magnitude, and the same top-1 class on every sample picture:
# FP32 allows for TF32 tensor-core convolutions (cuDNN's default in PyTorch);
FP32_RTOL = 1e-2
# FP16 (10-bit mantissa through ~50 layers) is looser. FP16_RTOL is defined at the top.
GPU_CASES = [
    ("torch-cuda", False),  # the engine the H200 run measures, in FP32 ...
    ("torch-cuda", True),  # ... and in FP16
    ("ort-cuda", False),  # onnxruntime-gpu: CUDA provider runs FP32
    ("ort-tensorrt", True),
    ("tensorrt", True),  # native TensorRT: unverified until a machine with TensorRT runs this
]


@pytest.mark.gpu
@pytest.mark.slow
@pytest.mark.parametrize(("engine", "fp16"), GPU_CASES)
def test_gpu_engine_agrees_with_ort_cpu(engine, fp16, backbone_path, sample_batch, tmp_path):
    if not cuda_device_present():
        pytest.skip("no NVIDIA GPU on this machine")
    reg = default_engine_registry()
    reason = reg.why_unavailable().get(engine)
    if reason:
        pytest.skip(f"{engine}: {reason}")
    from runtime.engines import EngineOptions

    blob = backbone_path.read_bytes()
    ref = OrtEngine(blob).run({"image": sample_batch})
    eng = reg.create(blob, engine=engine, options=EngineOptions(fp16=fp16, max_batch=8, opt_batch=4, cache_dir=str(tmp_path)))
    got = eng.run({"image": sample_batch})
    rtol = FP16_RTOL if fp16 else FP32_RTOL
    for name in ("logits", "embedding"):
        scale = float(np.abs(ref[name]).max())
        err = float(np.abs(got[name] - ref[name]).max())
        print(f"{engine} fp16={fp16} {name}: max abs err {err:.3g} = {err / scale:.2e} of scale (allowed {rtol:g})")
        assert err <= rtol * scale, name
    assert (got["logits"].argmax(1) == ref["logits"].argmax(1)).all()


@pytest.mark.gpu
@pytest.mark.slow
def test_cuda_graph_replays_the_eager_result(backbone_path, sample_batch):
    if not cuda_device_present():
        pytest.skip("no NVIDIA GPU on this machine")
    torch = pytest.importorskip("torch")
    if not torch.cuda.is_available():
        pytest.skip("torch has no CUDA")
    from runtime.engines import EngineOptions

    eng = TorchEngine(backbone_path.read_bytes(), device="cuda", options=EngineOptions(fp16=True))
    x = torch.from_numpy(sample_batch).cuda()
    eager = {k: v.float().cpu() for k, v in eng.run_torch({"image": x}).items()}
    runner = eng.cuda_graph(len(sample_batch))
    for _ in range(2):  # replays twice: the captured buffers are reused
        out = runner.run(x.to(eng.dtype))
        for name in ("logits", "embedding"):
            # same kernels replayed; allow FP16 rounding should cuDNN pick another algorithm
            scale = float(eager[name].abs().max())
            assert float((out[name].float().cpu() - eager[name]).abs().max()) <= 1e-2 * scale, name
    with pytest.raises(EngineError, match="captured at batch 4"):
        runner.run(x[:2].to(eng.dtype))
