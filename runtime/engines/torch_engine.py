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

    def __init__(self, model_proto, device, dtype, *, channels_last: bool = False) -> None:
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
        host = {t.name: numpy_helper.to_array(t) for t in g.initializer}
        self.nodes = []
        for n in g.node:
            a = _attrs(n)
            if n.op_type == "Constant":
                arr = np.array(numpy_helper.to_array(a["value"]))
                host[n.output[0]] = arr
                ten = torch.from_numpy(arr).to(device)
                self.consts[n.output[0]] = ten.to(dtype) if ten.is_floating_point() else ten
                continue
            # constant operands read on the host now, so running the graph never syncs the
            # device (a sync inside a CUDA graph capture is an error)
            if n.op_type == "Clip":
                for key, idx in (("min", 1), ("max", 2)):
                    if len(n.input) > idx and n.input[idx] in host:
                        a[key] = float(host[n.input[idx]])
            if n.op_type == "Reshape" and n.input[1] in host:
                a["shape"] = [int(v) for v in host[n.input[1]].tolist()]
            self.nodes.append((n.op_type, list(n.input), list(n.output), a))
        if channels_last:
            for name, ten in self.consts.items():
                if ten.dim() == 4:  # conv weights: NHWC kernels (tensor cores) want them channels-last
                    self.consts[name] = ten.contiguous(memory_format=torch.channels_last)
        # drop every intermediate after its last reader: at batch 1024 keeping them all would
        # hold tens of GiB
        last_use: dict[str, int] = {}
        for i, (_, ins, _, _) in enumerate(self.nodes):
            for name in ins:
                last_use[name] = i
        keep = set(self.output_names) | set(self.consts)
        self.frees = [[] for _ in self.nodes]
        for name, i in last_use.items():
            if name not in keep:
                self.frees[i].append(name)
        self.dtype = dtype

    def run(self, env: dict) -> dict:
        F = self.torch.nn.functional
        torch = self.torch
        env = {**self.consts, **env}
        for (op, ins, outs, a), frees in zip(self.nodes, self.frees):
            x = [env[i] if i else None for i in ins]
            if op == "Conv":
                same, full = _pads2d(a.get("pads", [0, 0, 0, 0]))
                inp = x[0] if same is not None else F.pad(x[0], full)
                y = F.conv2d(inp, x[1], x[2] if len(x) > 2 else None, stride=tuple(a.get("strides", (1, 1))),
                             padding=same or 0, dilation=tuple(a.get("dilations", (1, 1))), groups=a.get("group", 1))
            elif op == "Clip":
                lo = a.get("min") if "min" in a or len(x) < 2 or x[1] is None else x[1]
                hi = a.get("max") if "max" in a or len(x) < 3 or x[2] is None else x[2]
                y = torch.clamp(x[0], lo, hi)
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
                shape = a["shape"] if "shape" in a else [int(s) for s in x[1].tolist()]
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
            for name in frees:
                env.pop(name, None)
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
        on_cuda = device.startswith("cuda")
        fp16 = bool(opts.fp16) and on_cuda
        self._dtype = torch.float16 if fp16 else torch.float32
        self._device = torch.device(device)
        self._channels_last = bool(opts.channels_last) and on_cuda
        self._sha = sha256_hex(model)
        proto = onnx.load_from_string(model)
        self._graph = _Graph(proto, self._device, self._dtype, channels_last=self._channels_last)
        self.input_names = self._graph.input_names
        self.output_names = self._graph.output_names
        inits = {t.name for t in proto.graph.initializer}
        self.input_shapes = {i.name: tuple(d.dim_value for d in i.type.tensor_type.shape.dim[1:])
                             for i in proto.graph.input if i.name not in inits}
        name = "torch-cuda" if on_cuda else "torch-cpu"
        layout = ", channels-last" if self._channels_last else ""
        self.info = EngineInfo(name, device, "fp16" if fp16 else "fp32", self._sha, detail=f"torch {torch.__version__}{layout}")

    @property
    def device(self):
        return self._device

    @property
    def dtype(self):
        return self._dtype

    def _prepare(self, t):
        torch = self._graph.torch
        t = t.to(self._device, non_blocking=True)
        if t.is_floating_point():
            t = t.to(self._dtype)
            if self._channels_last and t.dim() == 4:
                t = t.contiguous(memory_format=torch.channels_last)
        return t

    def run_torch(self, feeds: Mapping[str, object]) -> dict[str, object]:
        """Torch tensors in (any device), torch tensors out on the engine's device, its dtype.

        The device-resident path: no host copies, for callers that preprocess on the GPU.
        """
        torch = self._graph.torch
        with torch.no_grad():
            return self._graph.run({k: self._prepare(v) for k, v in feeds.items()})

    def run(self, feeds: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        torch = self._graph.torch
        outs = self.run_torch({k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in feeds.items()})
        return {k: v.float().cpu().numpy() for k, v in outs.items()}

    def cuda_graph(self, batch: int) -> "CudaGraphRunner":
        """Capture the whole graph at one batch size as a CUDA graph (one launch per batch)."""
        return CudaGraphRunner(self, batch)

    def close(self) -> None:
        self._graph = None


class CudaGraphRunner:
    """One captured CUDA graph of a ``TorchEngine`` at a fixed batch size.

    ``run(x)`` copies ``x`` (a CUDA tensor of that batch) into the captured input and replays
    the graph: the ~100 kernel launches of MobileNetV2 become one, which is what small
    batches are bound by. The outputs are the graph's own buffers, overwritten by the next
    ``run``; copy them to keep them.
    """

    def __init__(self, engine: TorchEngine, batch: int) -> None:
        torch = engine._graph.torch
        if engine.device.type != "cuda":
            raise EngineError(f"CUDA graphs need a CUDA engine; this one runs on {engine.device}")
        if len(engine.input_names) != 1:
            raise EngineError(f"CUDA graph capture supports one input; the model has {list(engine.input_names)}")
        name = engine.input_names[0]
        shape = engine.input_shapes.get(name, ())
        if not shape or any(d <= 0 for d in shape):
            raise EngineError(f"input {name!r} has dynamic non-batch dims {shape}; export with fixed HxW")
        self.batch = int(batch)
        self._name = name
        self._graph = engine._graph
        static = torch.zeros((self.batch, *shape), dtype=engine.dtype, device=engine.device)
        self._static_in = engine._prepare(static)
        side = torch.cuda.Stream(device=engine.device)
        side.wait_stream(torch.cuda.current_stream(engine.device))
        with torch.no_grad(), torch.cuda.stream(side):
            for _ in range(3):  # warm-up outside the capture: cuDNN picks its kernels here
                self._graph.run({name: self._static_in})
        torch.cuda.current_stream(engine.device).wait_stream(side)
        self._cuda_graph = torch.cuda.CUDAGraph()
        with torch.no_grad(), torch.cuda.graph(self._cuda_graph):
            self._static_out = self._graph.run({name: self._static_in})
        self.output_names = tuple(self._static_out)

    def run(self, x) -> dict[str, object]:
        if tuple(x.shape[:1]) != (self.batch,):
            raise EngineError(f"this CUDA graph was captured at batch {self.batch}; got a batch of {x.shape[0]}")
        self._static_in.copy_(x)
        self._cuda_graph.replay()
        return self._static_out


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
