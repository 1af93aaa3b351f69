"""The engine interface: one ONNX model, named numpy inputs in, named numpy outputs out.

Every engine (ONNX Runtime on CPU / CUDA / TensorRT providers, native TensorRT, PyTorch on
CUDA) takes the same ONNX bytes and answers ``run(feeds) -> {output_name: array}`` with
float32 outputs, so callers never know which one they got.

>>> from runtime.engines import default_engine_registry
>>> reg = default_engine_registry()
>>> "ort-cpu" in reg.available()
True
"""
from __future__ import annotations

import hashlib
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Mapping, Protocol, Sequence, runtime_checkable

import numpy as np

log = logging.getLogger(__name__)

# Fastest first. Native TensorRT (FP16) beats ORT's TensorRT provider (same kernels, more
# glue); PyTorch FP16 beats ORT CUDA FP32 on convnets; ORT CPU is always there.
DEFAULT_PREFERENCE: tuple[str, ...] = ("tensorrt", "ort-tensorrt", "torch-cuda", "ort-cuda", "ort-cpu")


# one of the two, never both: they are the same `onnxruntime` module (README "GPU")
ORT_INSTALL_HINT = "`pip install 'city-algorithm-warehouse[cpu]'` (CPU) or `pip install 'city-algorithm-warehouse[gpu]'` (NVIDIA)"


class EngineError(RuntimeError):
    """Base of every engine failure (build, run, selection)."""


class EngineUnavailableError(EngineError, ImportError):
    """The engine's library or device is missing on this machine."""


@dataclass(frozen=True, slots=True)
class EngineInfo:
    name: str  # registry name, e.g. "ort-cpu"
    device: str  # "cpu" or "cuda:0"
    precision: str  # "fp32" or "fp16"
    model_sha256: str
    detail: str = ""  # providers, TRT version, cache file...

    def __str__(self) -> str:
        return f"{self.name}[{self.device},{self.precision},{self.model_sha256[:12]}]"


@runtime_checkable
class Engine(Protocol):
    """What every engine offers. Outputs are float32 numpy arrays, whatever ran inside."""

    info: EngineInfo
    input_names: tuple[str, ...]
    output_names: tuple[str, ...]

    def run(self, feeds: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]: ...

    def close(self) -> None: ...


@dataclass(frozen=True, slots=True)
class EngineOptions:
    """Build options every engine understands (each ignores what does not apply to it)."""

    fp16: bool = True  # GPU engines only; CPU always runs fp32
    max_batch: int = 256  # TensorRT optimisation profile upper bound
    opt_batch: int = 32
    cache_dir: str = "var/cache/engines"  # TensorRT plans
    intra_op_threads: int = 0  # ORT CPU; 0 = ORT's default
    device_id: int = 0
    channels_last: bool = True  # torch CUDA engine: NHWC activations and weights


def model_bytes(model: bytes | str | os.PathLike) -> bytes:
    """ONNX model given as bytes or a path -> bytes (a clear error if the file is missing)."""
    if isinstance(model, (bytes, bytearray, memoryview)):
        return bytes(model)
    p = Path(model)
    if not p.is_file():
        raise EngineError(f"ONNX model {str(p)!r} does not exist; pass an existing .onnx path or the model's bytes")
    return p.read_bytes()


def sha256_hex(blob: bytes) -> str:
    return hashlib.sha256(blob).hexdigest()


def cuda_device_present() -> bool:
    """Cheap check for an NVIDIA GPU that imports no CUDA library (keeps worker start light)."""
    if os.environ.get("CUDA_VISIBLE_DEVICES", None) in ("", "-1"):
        return False
    return Path("/proc/driver/nvidia/version").exists() or Path("/dev/nvidia0").exists()


@dataclass(frozen=True, slots=True)
class EngineKind:
    """A registry entry: how to tell if the engine can run here, and how to build it."""

    name: str
    probe: Callable[[], str | None]  # None when available, else the reason it is not
    build: Callable[[bytes, EngineOptions], Engine]


@dataclass(slots=True)
class EngineRegistry:
    """Engines by name; passed in (no global), so tests and workers can pick their own set.

    >>> reg = EngineRegistry()
    >>> reg.names()
    ()
    """

    kinds: dict[str, EngineKind] = field(default_factory=dict)
    preference: tuple[str, ...] = DEFAULT_PREFERENCE

    def register(self, kind: EngineKind) -> None:
        self.kinds[kind.name] = kind

    def names(self) -> tuple[str, ...]:
        return tuple(self.kinds)

    def why_unavailable(self) -> dict[str, str]:
        """Engine name -> reason, for every registered engine that cannot run here."""
        out = {}
        for name, kind in self.kinds.items():
            reason = kind.probe()
            if reason is not None:
                out[name] = reason
        return out

    def available(self) -> tuple[str, ...]:
        missing = self.why_unavailable()
        return tuple(n for n in self.kinds if n not in missing)

    def create(
        self, model: bytes | str | os.PathLike, *, engine: str | None = None, options: EngineOptions | None = None
    ) -> Engine:
        """Build an engine for ``model``: the named one, or the best available here."""
        opts = options or EngineOptions()
        if engine is None:
            engine = select_engine(self.available(), preference=self.preference)
        if engine not in self.kinds:
            raise EngineError(f"unknown engine {engine!r}; registered engines are {sorted(self.kinds)}")
        reason = self.kinds[engine].probe()
        if reason is not None:
            raise EngineUnavailableError(f"engine {engine!r} cannot run here: {reason}")
        built = self.kinds[engine].build(model_bytes(model), opts)
        log.info("engine built %s", built.info)
        return built


def select_engine(available: Iterable[str], *, preference: Sequence[str] = DEFAULT_PREFERENCE) -> str:
    """Pick the most preferred engine among those available (pure; no probing).

    >>> select_engine(["ort-cpu", "ort-cuda"])
    'ort-cuda'
    """
    avail = set(available)
    for name in preference:
        if name in avail:
            return name
    raise EngineUnavailableError(
        f"no engine from the preference list {list(preference)} is available (available: {sorted(avail)}); "
        f"install ONNX Runtime for the CPU engine: {ORT_INSTALL_HINT}"
    )


def as_float32(arr: np.ndarray) -> np.ndarray:
    return arr if arr.dtype == np.float32 else arr.astype(np.float32)
