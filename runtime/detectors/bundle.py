"""Rebuild a real detector from its catalog artifact (a small JSON "bundle").

A model version has one artifact; OCR needs two ONNX files and MTCNN three, so the version's
artifact is a JSON bundle naming the content hashes of its files (stored next to it in the
same content-addressed store) and the configuration:

    {"format": "warehouse.detector-bundle/1", "detector": "mtcnn",
     "files": {"pnet.onnx": "<sha256>", "rnet.onnx": "<sha256>", "onet.onnx": "<sha256>"},
     "config": {"min_face_px": 20, ...}}

``fetch`` maps a sha256 to bytes (e.g. ``ArtifactStore.get_bytes``, which verifies the hash).

>>> det = detector_from_bundle(catalog.load_artifact("detector.face_mtcnn", 1), store.get_bytes)  # doctest: +SKIP
"""
from __future__ import annotations

import functools
import json
from typing import Any, Callable, Sequence

from runtime.detectors.base import Detector, DetectorError

BUNDLE_FORMAT = "warehouse.detector-bundle/1"
BUNDLE_KINDS = ("ppocr", "mtcnn", "hog", "haar", "imagenet_readout", "nanodet", "movenet", "city")


def make_bundle(detector: str, *, files: dict[str, str], config: dict[str, Any]) -> bytes:
    """The bundle JSON (sorted keys, so equal content gives equal bytes and the same sha256)."""
    if detector not in BUNDLE_KINDS:
        raise DetectorError(f"bundle detector {detector!r} is unknown; use one of {list(BUNDLE_KINDS)}")
    doc = {"format": BUNDLE_FORMAT, "detector": detector, "files": dict(files), "config": dict(config)}
    return json.dumps(doc, sort_keys=True, separators=(",", ":")).encode()


def read_bundle(data: bytes | dict) -> dict[str, Any]:
    doc = data if isinstance(data, dict) else json.loads(bytes(data).decode())
    if not isinstance(doc, dict) or doc.get("format") != BUNDLE_FORMAT or doc.get("detector") not in BUNDLE_KINDS:
        got = doc.get("format") if isinstance(doc, dict) else type(doc).__name__
        raise DetectorError(f"artifact is not a detector bundle (format {got!r}); expected {BUNDLE_FORMAT!r} "
                            "as written by warehouse.training.real_algorithms")
    return doc


def detector_from_bundle(data: bytes | dict, fetch: Callable[[str], bytes], *, imagenet_labels: Sequence[str] | None = None,
                         name: str | None = None, intra_op_threads: int = 0, hub: Any = None) -> Any:
    """A ready detector (or, for ``imagenet_readout``, an :class:`ImagenetReadout`) from a bundle."""
    doc = read_bundle(data)
    kind, files, cfg = doc["detector"], doc["files"], doc["config"]

    def blob(file_name: str) -> bytes:
        if file_name not in files:
            raise DetectorError(f"{kind} bundle lacks {file_name!r} (it has {sorted(files)})")
        return fetch(files[file_name])

    det: Detector
    if kind == "ppocr":
        from runtime.detectors._db_postprocess import DbParams
        from runtime.detectors.ocr import OcrConfig, PpOcrTextReader

        db = DbParams(**cfg.get("db", {}))
        ocr_cfg = OcrConfig(**{k: v for k, v in cfg.items() if k != "db"}, db=db)
        det = PpOcrTextReader(blob("det.onnx"), blob("rec.onnx"), config=ocr_cfg)
    elif kind == "mtcnn":
        from runtime.detectors.face_mtcnn import MtcnnConfig, MtcnnFaceDetector

        mt_cfg = MtcnnConfig(**{**cfg, "thresholds": tuple(cfg.get("thresholds", MtcnnConfig().thresholds))})
        det = MtcnnFaceDetector(blob("pnet.onnx"), blob("rnet.onnx"), blob("onet.onnx"), config=mt_cfg)
    elif kind == "hog":
        from runtime.detectors.hog import HogConfig, HogPeopleDetector

        det = HogPeopleDetector(HogConfig(**cfg))
    elif kind == "nanodet":
        from runtime.detectors.nanodet import NanoDetConfig, NanoDetDetector

        # bundles of the first version (416-only graph) carry no input keys: they keep its 416x416 square input
        old = {"input_size": 416, "keep_aspect": False}
        nd_cfg = NanoDetConfig(**{**old, **cfg, "labels": None if cfg.get("labels") is None else tuple(cfg["labels"])})
        det = NanoDetDetector(blob("model.onnx"), nd_cfg, intra_op_threads=intra_op_threads)
    elif kind == "movenet":
        from runtime.detectors.movenet import MoveNetConfig, MoveNetPeopleDetector

        det = MoveNetPeopleDetector(blob("model.onnx"), MoveNetConfig(**cfg), intra_op_threads=intra_op_threads)
    elif kind == "city":  # a rule over tracks: shares the stage's TrackHub (detector + tracker per camera)
        from runtime.tracking import CityAlgorithm

        if hub is None:
            raise DetectorError(f"a city-algorithm bundle ({cfg.get('algorithm')}) needs hub=runtime.tracking.TrackHub(...) "
                                "holding the source detector and the cameras' zones")
        det = CityAlgorithm(cfg["algorithm"], hub)
    elif kind == "haar":
        from runtime.detectors.haar import HaarCascadeDetector, HaarConfig

        haar_cfg = HaarConfig(**{**cfg, "min_size_wh": tuple(cfg.get("min_size_wh", (0, 0)))})
        det = HaarCascadeDetector(blob("cascade.xml"), haar_cfg, name=name or "")
    else:
        from runtime.detectors.imagenet_readout import ImagenetReadout, ReadoutClass

        if imagenet_labels is None:
            raise DetectorError("an imagenet_readout bundle needs imagenet_labels=Backbone.info.imagenet_labels")
        classes = [ReadoutClass(c["slug"], c["name"], tuple(c["imagenet_names"])) for c in cfg["classes"]]
        return ImagenetReadout(imagenet_labels, classes, min_score=cfg["min_score"])
    if name:
        det.name = name
    return det


def bundle_factory(bundle: bytes, fetch: Callable[[str], bytes], **kwargs: Any) -> Callable[[], Any]:
    """A factory rebuilding a detector from its catalog bundle (``detector_from_bundle``)."""
    read_bundle(bundle)  # a wrong artifact fails at construction, not at first use
    return functools.partial(detector_from_bundle, bundle, fetch, **kwargs)
