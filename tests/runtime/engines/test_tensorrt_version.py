"""TensorRT version dispatch: 10.x weakly typed FP16, 11.x strongly typed, anything else refused.

These tests never import TensorRT (it is not installed here, and the dispatch is ours, not
TensorRT's). ``trt_build_mode`` reads only ``__version__`` and the presence of two enum
members, so stand-in namespaces carry exactly those; the last test injects such a stand-in
into ``sys.modules`` to check that ``TensorRTEngine`` turns an unsupported release into its
own ``EngineUnavailableError`` before any CUDA or TensorRT call. A real build on a GPU with
TensorRT is still needed to verify the engine itself (BENCHMARKS.md says so).
"""
from __future__ import annotations

import importlib.machinery
import types
from types import SimpleNamespace as NS

import pytest

from runtime.engines import EngineUnavailableError, TensorRTEngine
from runtime.engines.tensorrt_engine import SUPPORTED_TRT, trt_build_mode


def fake_trt(version: str, *, fp16_flag: bool, strongly_typed_flag: bool = True) -> NS:
    return NS(
        __version__=version,
        BuilderFlag=NS(FP16=0) if fp16_flag else NS(),
        NetworkDefinitionCreationFlag=NS(STRONGLY_TYPED=1) if strongly_typed_flag else NS(),
    )


@pytest.mark.parametrize(
    ("version", "fp16_flag", "strong_flag", "fp16", "expected"),
    [
        # (strongly_typed, fp16_flag, fp16_graph, network flags)
        ("10.3.0", True, False, True, (False, True, False, 0)),  # 10.0-10.11: weak FP16 only
        ("10.13.2", True, True, True, (False, True, False, 0)),  # 10.12+: weak FP16 still works
        ("10.3.0", True, False, False, (False, False, False, 0)),  # FP32 on 10.x: no flags
        ("11.0.0", False, True, True, (True, False, True, 2)),  # 11.x: FP16 lives in the graph
        ("11.4.1", False, False, True, (True, False, True, 0)),  # 11.x without the (ignored) flag
        ("11.0.0", False, True, False, (True, False, False, 2)),  # FP32 on 11.x: strongly typed
    ],
)
def test_build_mode_follows_the_release(version, fp16_flag, strong_flag, fp16, expected):
    trt = fake_trt(version, fp16_flag=fp16_flag, strongly_typed_flag=strong_flag)
    mode = trt_build_mode(trt, fp16=fp16)
    assert (mode.strongly_typed, mode.fp16_flag, mode.fp16_graph, mode.network_flags(trt)) == expected
    assert mode.version == version


@pytest.mark.parametrize(
    "version",
    [
        "8.6.1",  # too old: pre-10 binding API
        "9.3.0",
        "12.0.0",  # newer than the code was written for
        "garbage",  # unparseable
    ],
)
def test_unsupported_release_names_version_and_range(version):
    with pytest.raises(EngineUnavailableError, match=rf"TensorRT {version} is not supported.*tensorrt>=10,<12"):
        trt_build_mode(fake_trt(version, fp16_flag=True), fp16=True)


def test_release_without_any_fp16_path_is_refused_for_fp16_only():
    trt = fake_trt("10.1.0", fp16_flag=False, strongly_typed_flag=False)
    with pytest.raises(EngineUnavailableError, match="neither BuilderFlag.FP16 nor .*STRONGLY_TYPED"):
        trt_build_mode(trt, fp16=True)
    assert trt_build_mode(trt, fp16=False).fp16_flag is False


def test_supported_range_is_the_documented_one():
    assert SUPPORTED_TRT == ">=10,<12"


def test_engine_refuses_unsupported_tensorrt_before_cuda(monkeypatch):
    mod = types.ModuleType("tensorrt")
    mod.__spec__ = importlib.machinery.ModuleSpec("tensorrt", None)
    mod.__version__ = "9.2.0"
    monkeypatch.setitem(__import__("sys").modules, "tensorrt", mod)
    with pytest.raises(EngineUnavailableError, match=r"TensorRT 9\.2\.0 is not supported.*pip install 'tensorrt>=10,<11'"):
        TensorRTEngine(b"not used")
