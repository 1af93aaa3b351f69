"""Registering the real algorithms in a real catalog, and rebuilding them from it."""
from __future__ import annotations

import uuid

import pytest

from catalog import ArtifactStore, Catalog, Stage, load_taxonomy
from runtime.detectors import CITY_READOUT_CLASSES
from runtime.detectors.bundle import detector_from_bundle
from runtime.tracking import CITY_ALGORITHMS
from tests.runtime.detectors._pictures import picture, render_label
from warehouse.training.real_algorithms import real_algorithm_specs, register_real_algorithms

EXPECTED_KINDS = {
    "ocr.text_ppocr": "ocr",
    "detector.face_mtcnn": "face_detector",
    "detector.people_hog": "detector",
    "detector.coco_nanodet": "detector",  # issue 15: NanoDet-g, people and vehicles
    "detector.movenet_people": "detector",  # issue 15: MoveNet centres, the crowd rule's people count
    "detector.fullbody_haar": "detector",
    "detector.plate_haar": "detector",
    "detector.plate_haar_16stages": "detector",
    **{f"imagenet.{c.slug}": "imagenet_readout" for c in CITY_READOUT_CLASSES},
    **{alg: "detector" for alg in CITY_ALGORITHMS},  # issue 15 (H15a): track.* rules over NanoDet tracks
}


@pytest.fixture(scope="module")
def registered():
    store = ArtifactStore(f"memory://real-algorithms-{uuid.uuid4().hex}")
    cat = Catalog.open("sqlite://", store=store)
    versions = register_real_algorithms(cat, store)
    yield cat, store, versions
    cat.close()


def test_specs_cover_every_real_algorithm():
    specs = real_algorithm_specs()
    assert {s["id"]: s["kind"] for s in specs} == EXPECTED_KINDS
    events = load_taxonomy().events
    assert all(e in events for s in specs for e in s["event_types"])
    # ONNX / XML files travel as bytes; HOG and readouts are configuration only
    files = {s["id"]: sorted(s["files"]) for s in specs}
    assert files["ocr.text_ppocr"] == ["det.onnx", "rec.onnx"]
    assert files["detector.face_mtcnn"] == ["onet.onnx", "pnet.onnx", "rnet.onnx"]
    assert files["detector.plate_haar"] == ["cascade.xml"] and files["detector.people_hog"] == []
    assert files["detector.coco_nanodet"] == ["model.onnx"] == files["detector.movenet_people"]


def test_every_algorithm_has_one_production_version(registered):
    cat, _store, versions = registered
    assert {v.algorithm_id for v in versions} == set(EXPECTED_KINDS)
    assert all(v.stage is Stage.PRODUCTION and v.number == 1 for v in versions)
    assert {a.id: a.kind for a in cat.list_algorithms()} == EXPECTED_KINDS
    assert cat.get_algorithm("imagenet.scooter").event_types == ("electric_bike_in_lobby",)


def test_registration_is_idempotent(registered):
    cat, store, first = registered
    again = register_real_algorithms(cat, store, ids={"detector.face_mtcnn", "imagenet.trash_can"})
    assert [(v.algorithm_id, v.number) for v in again] == [("detector.face_mtcnn", 1), ("imagenet.trash_can", 1)]
    assert len(cat.versions("detector.face_mtcnn")) == 1


@pytest.mark.parametrize(
    ("algorithm_id", "image", "check"),
    [
        ("detector.face_mtcnn", lambda: picture("astronaut"), lambda ds: [d.label for d in ds] == ["face"] and ds[0].score > 0.9),
        ("ocr.text_ppocr", lambda: render_label(picture("camera"), "NO PARKING", x=300, y=60, width_px=200, aspect=2.8)[0],
         lambda ds: "NO PARKING" in [d.text for d in ds]),
        ("detector.plate_haar", lambda: render_label(picture("coffee"), "A123BC77", x=60, y=300, width_px=160, aspect=4.6)[0],
         lambda ds: any(d.label == "license_plate" for d in ds)),
        ("detector.people_hog", lambda: picture("coffee"), lambda ds: ds == []),
    ],
)
def test_detector_rebuilt_from_the_catalog_works(registered, algorithm_id, image, check):
    cat, store, _ = registered
    det = detector_from_bundle(cat.load_artifact(algorithm_id, 1), store.get_bytes, name=algorithm_id)
    assert det.name == algorithm_id
    assert check(det.detect(image()))


def test_readout_rebuilt_from_the_catalog(registered):
    import numpy as np

    cat, store, _ = registered
    labels = [f"class {i}" for i in range(1000)]
    labels[665], labels[670] = "moped", "motor scooter"
    ro = detector_from_bundle(cat.load_artifact("imagenet.scooter", 1), store.get_bytes, imagenet_labels=labels)
    logits = np.zeros((1, 1000), np.float32)
    logits[0, [665, 670]] = 10.0
    assert [r.slug for r in ro.read(logits)[0]] == ["scooter"]
