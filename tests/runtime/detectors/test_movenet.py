"""MoveNet MultiPose centres: decoding (pure), the people count, the converted ONNX on real vtest
frames against the hand labels (where NanoDet merges two walkers into one box), the catalog
bundle, the crowd rule counting with it, and the converter reproducing the stored ONNX."""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest

from runtime.detection import Detection
from runtime.detectors import DetectorError, DetectorUnavailableError, detector_from_bundle
from runtime.detectors.movenet import (ONNX_SHA256, MoveNetConfig, MoveNetPeopleDetector, decode, input_wh, movenet_model_path,
                                       people_count)
from tests.runtime.detectors._pictures import vtest_frames as load_vtest_frames

REPO = Path(__file__).resolve().parents[3]
LABELS = json.loads((REPO / "data" / "vtest_people.json").read_text())


@pytest.fixture(scope="module")
def det() -> MoveNetPeopleDetector:
    return MoveNetPeopleDetector.from_cache(intra_op_threads=2)


@pytest.fixture(scope="module")
def vtest_frames() -> dict[int, np.ndarray]:
    return load_vtest_frames({408, 508})


def _heads(peaks: list[tuple[int, int, float]], gh: int = 24, gw: int = 32) -> tuple[np.ndarray, np.ndarray]:
    """Centre logits cold except (y, x, score) peaks; every keypoint offset spans -2..+2 cells in y, -1..+1 in x."""
    centre = np.full((gh, gw, 1), -20.0, np.float32)
    for y, x, s in peaks:
        centre[y, x, 0] = np.log(s / (1 - s))
    off = np.zeros((gh, gw, 34), np.float32)
    off[:, :, 0::2] = np.linspace(-2, 2, 17)[None, None, :]  # dy
    off[:, :, 1::2] = np.linspace(-1, 1, 17)[None, None, :]  # dx
    return centre, off


def test_decode_peaks_boxes_and_order():
    centre, off = _heads([(10, 10, 0.9), (10, 11, 0.6), (5, 20, 0.5), (20, 3, 0.2)])
    found = decode(centre, off, image_wh=(256, 192), config=MoveNetConfig(min_score=0.3, box_margin=0.0))
    # (10, 11) is next to a stronger peak: not a local maximum; (20, 3) is under min_score
    assert [round(s, 2) for s, _, _ in found] == [0.9, 0.5]
    _, box, kp = found[0]  # centre cell (10, 10) at stride 4, a 256x192 frame for a 128x96 input: x2
    assert box == pytest.approx((9 * 8, 8 * 8, 11 * 8, 12 * 8)) and kp.shape == (17, 2)
    wide = decode(centre, off, image_wh=(256, 192), config=MoveNetConfig(min_score=0.3, box_margin=0.5))[0][1]
    assert wide == pytest.approx((9 * 8 - 8, 8 * 8 - 16, 11 * 8 + 8, 12 * 8 + 16))


def test_decode_two_adjacent_people_and_the_cap():
    centre, off = _heads([(10, 10, 0.8), (10, 12, 0.7)])  # two cells apart: two people (a box NMS would merge them)
    assert len(decode(centre, off, image_wh=(128, 96))) == 2
    assert len(decode(centre, off, image_wh=(128, 96), config=MoveNetConfig(max_people=1))) == 1
    with pytest.raises(DetectorError, match="expected"):
        decode(centre, off[:, :, :10], image_wh=(128, 96))


@pytest.mark.parametrize(("kwargs", "match"), [({"min_score": 0.0}, "min_score"), ({"input_size": 500}, "multiple of 32"),
                                                ({"box_margin": -1}, "box_margin")])
def test_config_validation(kwargs, match):
    with pytest.raises(DetectorError, match=match):
        MoveNetConfig(**kwargs)


def test_input_wh_keeps_the_aspect():
    assert input_wh((768, 576)) == (512, 384) and input_wh((576, 768)) == (384, 512)
    assert input_wh((768, 576), MoveNetConfig(keep_aspect=False, input_size=256)) == (256, 256)


def test_people_count_is_the_larger_count():
    p = Detection(label="person", score=0.9, xyxy=(0, 0, 10, 30))
    car = Detection(label="car", score=0.9, xyxy=(0, 0, 40, 20))
    assert people_count([p, car], [p, p]) == 2 and people_count([p, p, p], []) == 3
    with pytest.raises(DetectorError, match="at least one"):
        people_count()


def test_missing_model_names_the_fix(monkeypatch, tmp_path):
    monkeypatch.setenv("WAREHOUSE_MOVENET_ONNX", str(tmp_path / "none.onnx"))
    monkeypatch.setattr("runtime.detectors.movenet.Path.is_file", lambda self: False)
    with pytest.raises(DetectorUnavailableError, match="tools.convert_movenet"):
        movenet_model_path()


def test_cached_onnx_has_the_pinned_hash():
    assert hashlib.sha256(movenet_model_path().read_bytes()).hexdigest() == ONNX_SHA256


def test_vtest_two_walkers_side_by_side(det, vtest_frames):
    """Frame 508 (held out; 7 people by hand): the two walkers entering side by side at the bottom right
    are two centres here, one box for NanoDet; the count is right with MoveNet."""
    from benchmarks.real_footage import iou
    from runtime.detectors import NanoDetDetector

    truth = LABELS["frames"]["508"]["boxes_xyxy"]
    people = det.detect(vtest_frames[508])
    nano = NanoDetDetector.from_cache(intra_op_threads=2).detect(vtest_frames[508])
    pair = [b for b in truth if b[0] > 670 and b[1] > 440]
    assert len(pair) == 2
    near = [d for d in people if 670 < (d.xyxy[0] + d.xyxy[2]) / 2 < 760 and d.xyxy[3] > 540]
    assert len(near) == 2 and all(len(d.landmarks) == 17 for d in near)
    assert sum(d.label == "person" and max(iou(d.xyxy, b) for b in pair) >= 0.3 for d in nano) <= 1  # NanoDet: one box
    assert people_count(nano, people) == len(truth) == 7
    assert len(det.detect(vtest_frames[408])) == len(LABELS["frames"]["408"]["boxes_xyxy"])  # 2 people, nothing invented


def test_bundled_pictures(det):
    """scikit-image's pictures: the cameraman is one person; coffee, rocket and brick hold nobody. (Not
    asserted, in docs/real-detectors.md: MoveNet also puts a centre on the cat, 0.47, and the flower, 0.50.)"""
    from tests.runtime.detectors._pictures import CAMERAMAN_PERSON_XYXY, picture

    (man,) = det.detect(picture("camera"))
    cx, cy = (man.xyxy[0] + man.xyxy[2]) / 2, (man.xyxy[1] + man.xyxy[3]) / 2
    x0, y0, x1, y1 = CAMERAMAN_PERSON_XYXY
    assert x0 <= cx <= x1 and y0 <= cy <= y1 and man.score >= MoveNetConfig().min_score
    assert all(det.detect(picture(n)) == [] for n in ("coffee", "rocket", "brick"))


def test_catalog_bundle_rebuilds_the_detector(det, vtest_frames):
    from catalog import ArtifactStore, Catalog
    from warehouse.training.real_algorithms import register_real_algorithms

    store = ArtifactStore("memory://test-movenet-bundle")
    cat = Catalog.open("sqlite://", store=store)
    (v,) = register_real_algorithms(cat, store, ids={"detector.movenet_people"})
    assert cat.get_algorithm("detector.movenet_people").event_types == ()  # the crowd rule's hub runs it, not the graph
    rebuilt = detector_from_bundle(store.get_bytes(v.artifact_sha256), store.get_bytes, name="detector.movenet_people")
    assert [str(d) for d in rebuilt.detect(vtest_frames[508])] == [str(d) for d in det.detect(vtest_frames[508])]


def test_crowd_rule_counts_with_the_counter():
    """A detector that sees a pair as one box, a counter that sees two: the crowd rule takes the larger count."""
    from runtime import FrameEvent
    from runtime.tracking import CityAlgorithm, CityParams, TrackHub

    class Fixed:
        def __init__(self, boxes):
            self.boxes, self.runs = boxes, 0

        def detect(self, image):
            self.runs += 1
            return [Detection(label="person", score=0.9, xyxy=b) for b in self.boxes]

    merged = Fixed([(10, 10, 40, 60), (100, 10, 120, 60)])
    split = Fixed([(10, 10, 24, 60), (26, 10, 40, 60), (100, 10, 120, 60)])
    img = np.zeros((120, 160, 3), np.uint8)
    for counter, want in ((None, [0, 0]), (lambda: split, [3, 3])):
        hub = TrackHub(merged, params=CityParams(max_people=3), counter_factory=counter)
        crowd, walkers = CityAlgorithm("track.crowd_gathering", hub), CityAlgorithm("track.pedestrian_on_road", hub)
        got = []
        for i in range(2):
            frame = FrameEvent("cam", i, i * 500, img)
            walkers.detect_frame(frame)
            got.append(len(crowd.detect_frame(frame)))
        assert got == want
        assert hub.people_count("cam") == max(want[-1], 2)
    assert split.runs == 2  # once per frame, and only for the crowd rule

    def missing():
        raise DetectorUnavailableError("MoveNet ONNX not found; run tools.convert_movenet")

    hub = TrackHub(merged, params=CityParams(max_people=2), counter_factory=missing)  # weights missing: the rule still runs
    assert len(CityAlgorithm("track.crowd_gathering", hub).detect_frame(FrameEvent("cam", 0, 0, img))) == 2
    assert hub.counter_runs == 0


@pytest.mark.slow
def test_converter_reproduces_the_stored_onnx(tmp_path, monkeypatch):
    """From the npm tarball (cached by setup) to the same bytes, checked against the NumPy
    TF-semantics reference at 256x256 and 512x384 inside ``ensure_onnx``."""
    from tools import convert_movenet as cv
    from tools.convert_nanodet import TARBALL

    cached = Path(cv.cache_dir()) / TARBALL
    monkeypatch.setenv("WAREHOUSE_CACHE_DIR", str(tmp_path))
    (tmp_path / "real").mkdir()
    if cached.is_file():
        (tmp_path / "real" / TARBALL).symlink_to(cached)
    path = cv.ensure_onnx(force=True)
    assert hashlib.sha256(path.read_bytes()).hexdigest() == ONNX_SHA256 == cv.ONNX_SHA256
