"""PyTorch engine: runs the same ONNX graph with torch ops, on CUDA (FP16) or CPU (FP32).

No converter package is needed: a small interpreter walks the ONNX graph (the operators our
backbone and heads use, listed in ``SUPPORTED_OPS``) and calls ``torch.nn.functional``.
torch is imported only when this engine is built, so a CPU worker never loads it.

>>> eng = TorchEngine(onnx_bytes, device="cuda", options=EngineOptions(fp16=True))   # doctest: +SKIP
"""
from __future__ import annotations

import logging
from typing import Mapping

import numpy as np

from runtime.engines._requirements import module_present
from runtime.engines.base import EngineError, EngineInfo, EngineKind, EngineOptions, EngineUnavailableError, cuda_device_present, sha256_hex

log = logging.getLogger(__name__)

SUPPORTED_OPS = frozenset({
    "Add", "AveragePool", "Clip", "Concat", "Constant", "Conv", "Div", "Flatten", "Gemm", "GlobalAveragePool",
    "Identity", "MatMul", "MaxPool", "Mul", "Relu", "Reshape", "Sigmoid", "Softmax", "Sub",
})


def _torch():
    if not module_present("torch"):
        raise EngineUnavailableError("PyTorch is not installed; `pip install torch` (a CUDA build for the GPU engine)")
    import torch

    return torch


def _attrs(node) -> dict:
    from onnx import helper

    return {a.name: helper.get_attribute_value(a) for a in node.attribute}


def _pads2d(pads):
    # ONNX pads = [top, left, bottom, right]; F.pad wants (left, right, top, bottom)
    t, l, b, r = pads
    return (t, l) if (t, l) == (b, r) else None, (l, r, t, b)


class _Graph:
    """The ONNX graph as a list of closures over torch tensors (built once, run many times)."""

    def __init__(self, model_proto, device, dtype) -> None:
        from onnx import numpy_helper

        torch = _torch()
        self.torch = torch
        g = model_proto.graph
        unsupported = sorted({n.op_type for n in g.node} - SUPPORTED_OPS)
        if unsupported:
            raise EngineError(
                f"the torch engine cannot run ONNX operators {unsupported}; supported are {sorted(SUPPORTED_OPS)}. "
                "Use an ONNX Runtime or TensorRT engine for this model"
            )
        inits = {t.name for t in g.initializer}
        self.consts: dict[str, object] = {}
        for t in g.initializer:
            arr = numpy_helper.to_array(t)
            ten = torch.from_numpy(arr.copy()).to(device)
            self.consts[t.name] = ten.to(dtype) if ten.is_floating_point() else ten
        self.input_names = tuple(i.name for i in g.input if i.name not in inits)
        self.output_names = tuple(o.name for o in g.output)
        self.nodes = []
        for n in g.node:
            a = _attrs(n)
            if n.op_type == "Constant":
                arr = numpy_helper.to_array(a["value"])
                ten = torch.from_numpy(np.array(arr)).to(device)
                self.consts[n.output[0]] = ten.to(dtype) if ten.is_floating_point() else ten
                continue
            self.nodes.append((n.op_type, list(n.input), list(n.output), a))
        self.dtype = dtype

    def run(self, env: dict) -> dict:
        F = self.torch.nn.functional
        torch = self.torch
        env = {**self.consts, **env}
        for op, ins, outs, a in self.nodes:
            x = [env[i] if i else None for i in ins]
            if op == "Conv":
                same, full = _pads2d(a.get("pads", [0, 0, 0, 0]))
                inp = x[0] if same is not None else F.pad(x[0], full)
                y = F.conv2d(inp, x[1], x[2] if len(x) > 2 else None, stride=tuple(a.get("strides", (1, 1))),
                             padding=same or 0, dilation=tuple(a.get("dilations", (1, 1))), groups=a.get("group", 1))
            elif op == "Clip":
                lo = x[1] if len(x) > 1 and x[1] is not None else a.get("min")
                hi = x[2] if len(x) > 2 and x[2] is not None else a.get("max")
                y = torch.clamp(x[0], None if lo is None else float(lo), None if hi is None else float(hi))
            elif op == "Relu":
                y = F.relu(x[0])
            elif op == "Sigmoid":
                y = torch.sigmoid(x[0])
            elif op == "Softmax":
                y = torch.softmax(x[0], dim=a.get("axis", -1))
            elif op in ("Add", "Sub", "Mul", "Div"):
                y = {"Add": torch.add, "Sub": torch.sub, "Mul": torch.mul, "Div": torch.div}[op](x[0], x[1])
            elif op == "MatMul":
                y = torch.matmul(x[0], x[1])
            elif op == "Gemm":
                A = x[0].t() if a.get("transA", 0) else x[0]
                B = x[1].t() if a.get("transB", 0) else x[1]
                y = a.get("alpha", 1.0) * (A @ B)
                if len(x) > 2 and x[2] is not None:
                    y = y + a.get("beta", 1.0) * x[2]
            elif op == "GlobalAveragePool":
                y = x[0].mean(dim=tuple(range(2, x[0].dim())), keepdim=True)
            elif op == "Flatten":
                ax = a.get("axis", 1)
                y = x[0].reshape(int(np.prod(x[0].shape[:ax])) if ax > 0 else 1, -1)
            elif op == "Reshape":
                shape = [int(s) for s in x[1].tolist()]
                shape = [x[0].shape[i] if s == 0 else s for i, s in enumerate(shape)]
                y = x[0].reshape(shape)
            elif op == "Concat":
                y = torch.cat(x, dim=a["axis"])
            elif op == "Identity":
                y = x[0]
            elif op in ("MaxPool", "AveragePool"):
                same, full = _pads2d(a.get("pads", [0, 0, 0, 0]))
                inp = x[0] if same is not None else F.pad(x[0], full)
                pool = F.max_pool2d if op == "MaxPool" else F.avg_pool2d
                y = pool(inp, tuple(a["kernel_shape"]), stride=tuple(a.get("strides", (1, 1))), padding=same or 0)
            else:  # pragma: no cover - SUPPORTED_OPS is checked at build
                raise EngineError(f"operator {op} slipped past the support check")
            env[outs[0]] = y
        return {name: env[name] for name in self.output_names}


class TorchEngine:
    """The ONNX model run by PyTorch. ``device="cuda"`` uses FP16 when ``options.fp16``."""

    def __init__(self, model: bytes, *, device: str = "cuda", options: EngineOptions | None = None) -> None:
        import onnx

        torch = _torch()
        opts = options or EngineOptions()
        if device.startswith("cuda"):
            if not torch.cuda.is_available():
                raise EngineUnavailableError("torch.cuda.is_available() is False; install a CUDA build of PyTorch or use ort-cpu")
            device = f"cuda:{opts.device_id}"
            torch.backends.cudnn.benchmark = True  # fixed shapes per batch size: let cuDNN pick kernels
        fp16 = bool(opts.fp16) and device.startswith("cuda")
        self._dtype = torch.float16 if fp16 else torch.float32
        self._device = torch.device(device)
        self._sha = sha256_hex(model)
        self._graph = _Graph(onnx.load_from_string(model), self._device, self._dtype)
        self.input_names = self._graph.input_names
        self.output_names = self._graph.output_names
        name = "torch-cuda" if device.startswith("cuda") else "torch-cpu"
        self.info = EngineInfo(name, device, "fp16" if fp16 else "fp32", self._sha, detail=f"torch {torch.__version__}")

    def run(self, feeds: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        torch = self._graph.torch
        with torch.inference_mode():
            env = {}
            for k, v in feeds.items():
                t = torch.from_numpy(np.ascontiguousarray(v)).to(self._device, non_blocking=True)
                env[k] = t.to(self._dtype) if t.is_floating_point() else t
            outs = self._graph.run(env)
            return {k: v.float().cpu().numpy() for k, v in outs.items()}

    def close(self) -> None:
        self._graph = None


def _probe_cuda() -> str | None:
    if not module_present("torch"):
        return "PyTorch is not installed"
    if not cuda_device_present():
        return "no NVIDIA GPU on this machine"
    return None


def _probe_cpu() -> str | None:
    return None if module_present("torch") else "PyTorch is not installed"


def torch_kinds() -> list[EngineKind]:
    # torch-cpu exists to check the torch path against ORT on machines without a GPU; it is
    # not in the default preference list (ORT CPU is faster and lighter there).
    return [
        EngineKind("torch-cuda", _probe_cuda, lambda m, o: TorchEngine(m, device="cuda", options=o)),
        EngineKind("torch-cpu", _probe_cpu, lambda m, o: TorchEngine(m, device="cpu", options=o)),
    ]


TorchCudaEngine = TorchEngine  # the name the issue uses
