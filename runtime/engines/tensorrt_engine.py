"""Native TensorRT: an FP16 engine built from the ONNX model, cached on disk.

The plan file is keyed by the model's sha256, the GPU's name and the TensorRT version (a
plan only runs on the GPU model and TensorRT release that built it), plus precision and the
batch range. Device buffers are torch CUDA tensors, so the only extra package is
``tensorrt`` (10.x API: ``set_tensor_address`` / ``execute_async_v3``). Both are imported
only when the engine is built.

>>> trt_cache_key("ab" * 32, gpu_name="NVIDIA H100 80GB HBM3", trt_version="10.3.0", fp16=True, max_batch=256)
'abababababababab-nvidia-h100-80gb-hbm3-trt10.3.0-fp16-b1-256'
"""
from __future__ import annotations

import importlib.util
import logging
import os
import re
import tempfile
from pathlib import Path
from typing import Mapping

import numpy as np

from runtime.engines.base import EngineError, EngineInfo, EngineKind, EngineOptions, EngineUnavailableError, cuda_device_present, sha256_hex

log = logging.getLogger(__name__)


def trt_cache_key(model_sha256: str, *, gpu_name: str, trt_version: str, fp16: bool, max_batch: int, min_batch: int = 1) -> str:
    """File-name-safe cache key of a TensorRT plan (pure; tested without a GPU)."""
    gpu = re.sub(r"[^a-z0-9]+", "-", gpu_name.lower()).strip("-")
    return f"{model_sha256[:16]}-{gpu}-trt{trt_version}-{'fp16' if fp16 else 'fp32'}-b{min_batch}-{max_batch}"


def _imports():
    if importlib.util.find_spec("tensorrt") is None:
        raise EngineUnavailableError("TensorRT is not installed; `pip install tensorrt` (10.x) on a machine with an NVIDIA GPU")
    import tensorrt as trt
    import torch

    if not torch.cuda.is_available():
        raise EngineUnavailableError("TensorRT needs a CUDA device and a CUDA build of PyTorch for its buffers")
    return trt, torch


def _build_plan(trt, model: bytes, opts: EngineOptions) -> bytes:
    logger = trt.Logger(trt.Logger.WARNING)
    builder = trt.Builder(logger)
    network = builder.create_network(0)  # TRT 10: explicit batch is the only mode
    parser = trt.OnnxParser(network, logger)
    if not parser.parse(model):
        errs = "; ".join(str(parser.get_error(i)) for i in range(parser.num_errors))
        raise EngineError(f"TensorRT could not parse the ONNX model: {errs}")
    config = builder.create_builder_config()
    config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, 2 << 30)
    if opts.fp16:
        config.set_flag(trt.BuilderFlag.FP16)
    profile = builder.create_optimization_profile()
    opt_b = max(1, min(opts.opt_batch, opts.max_batch))
    for i in range(network.num_inputs):
        inp = network.get_input(i)
        rest = tuple(int(d) for d in inp.shape[1:])
        if any(d < 0 for d in rest):
            raise EngineError(f"input {inp.name!r} has dynamic non-batch dims {inp.shape}; export with fixed HxW")
        profile.set_shape(inp.name, (1, *rest), (opt_b, *rest), (opts.max_batch, *rest))
    config.add_optimization_profile(profile)
    plan = builder.build_serialized_network(network, config)
    if plan is None:
        raise EngineError("TensorRT failed to build the engine (see the TensorRT log above)")
    return bytes(plan)


class TensorRTEngine:
    """A TensorRT engine over one ONNX model; FP16 by default; dynamic batch 1..max_batch."""

    def __init__(self, model: bytes, *, options: EngineOptions | None = None) -> None:
        trt, torch = _imports()
        self._trt, self._torch = trt, torch
        opts = options or EngineOptions()
        self._opts = opts
        self._device = torch.device(f"cuda:{opts.device_id}")
        sha = sha256_hex(model)
        key = trt_cache_key(sha, gpu_name=torch.cuda.get_device_name(self._device), trt_version=trt.__version__,
                            fp16=opts.fp16, max_batch=opts.max_batch)
        cache_dir = Path(opts.cache_dir) / "tensorrt"
        cache_dir.mkdir(parents=True, exist_ok=True)
        plan_path = cache_dir / f"{key}.plan"
        if plan_path.is_file():
            plan = plan_path.read_bytes()
            log.info("tensorrt plan cache hit %s", plan_path)
        else:
            log.info("tensorrt building plan %s (takes minutes once)", plan_path)
            plan = _build_plan(trt, model, opts)
            fd, tmp = tempfile.mkstemp(dir=cache_dir, suffix=".tmp")
            with os.fdopen(fd, "wb") as f:
                f.write(plan)
            os.replace(tmp, plan_path)
        self._runtime = trt.Runtime(trt.Logger(trt.Logger.WARNING))
        self._engine = self._runtime.deserialize_cuda_engine(plan)
        if self._engine is None:
            raise EngineError(f"TensorRT could not load plan {str(plan_path)!r}; delete it to rebuild")
        self._context = self._engine.create_execution_context()
        names = [self._engine.get_tensor_name(i) for i in range(self._engine.num_io_tensors)]
        is_in = {n: self._engine.get_tensor_mode(n) == trt.TensorIOMode.INPUT for n in names}
        self.input_names = tuple(n for n in names if is_in[n])
        self.output_names = tuple(n for n in names if not is_in[n])
        self._np_dtype = {n: np.dtype(trt.nptype(self._engine.get_tensor_dtype(n))) for n in names}
        self._stream = torch.cuda.Stream(device=self._device)
        self.info = EngineInfo("tensorrt", str(self._device), "fp16" if opts.fp16 else "fp32", sha,
                               detail=f"TensorRT {trt.__version__}; plan {plan_path.name}")

    def run(self, feeds: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        torch = self._torch
        n = next(iter(feeds.values())).shape[0]
        if n > self._opts.max_batch:
            # the optimisation profile stops at max_batch: split rather than fail
            parts = [self.run({k: v[i : i + self._opts.max_batch] for k, v in feeds.items()})
                     for i in range(0, n, self._opts.max_batch)]
            return {k: np.concatenate([p[k] for p in parts]) for k in self.output_names}
        with torch.cuda.stream(self._stream):
            keep = []
            for name in self.input_names:
                arr = np.ascontiguousarray(feeds[name], dtype=self._np_dtype[name])
                t = torch.from_numpy(arr).to(self._device, non_blocking=True)
                keep.append(t)
                self._context.set_input_shape(name, tuple(arr.shape))
                self._context.set_tensor_address(name, t.data_ptr())
            outs = {}
            for name in self.output_names:
                shape = tuple(self._context.get_tensor_shape(name))
                t = torch.empty(shape, dtype=getattr(torch, str(self._np_dtype[name])), device=self._device)
                outs[name] = t
                self._context.set_tensor_address(name, t.data_ptr())
            if not self._context.execute_async_v3(self._stream.cuda_stream):
                raise EngineError(f"TensorRT execution failed for batch {n} ({self.info})")
            self._stream.synchronize()
            return {k: v.float().cpu().numpy() for k, v in outs.items()}

    def close(self) -> None:
        self._context = self._engine = self._runtime = None


def _probe() -> str | None:
    if importlib.util.find_spec("tensorrt") is None:
        return "tensorrt is not installed"
    if importlib.util.find_spec("torch") is None:
        return "PyTorch (CUDA build) is not installed; the TensorRT engine uses it for device buffers"
    if not cuda_device_present():
        return "no NVIDIA GPU on this machine"
    return None


def tensorrt_kinds() -> list[EngineKind]:
    return [EngineKind("tensorrt", _probe, lambda m, o: TensorRTEngine(m, options=o))]
