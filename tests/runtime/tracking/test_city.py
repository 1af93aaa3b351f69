"""City algorithms over tracks: each rule on scripted scenes, then through the detector stage and
the event logic into alerts. The scenes are painted frames and the detector is a real (if tiny)
one: it finds painted blobs with OpenCV (white = person, red = car), so ByteTrack, supervision's
PolygonZone and the rules all run for real."""
from __future__ import annotations

import calendar
import hashlib

import cv2
import numpy as np
import pytest

from runtime import DetectorStage, EventDetector, EventPolicy, FrameEvent
from runtime.detection import Detection
from runtime.tracking import CITY_ALGORITHMS, CityAlgorithm, CityParams, TrackHub, city_algorithm_specs

W, H = 320, 240
LAWN = {"name": "lawn", "kind": "no_pedestrian", "points_xy": [[0, 160], [320, 160], [320, 240], [0, 240]]}
PLAZA = {"name": "plaza", "kind": "crowd", "points_xy": [[0, 0], [320, 0], [320, 150], [0, 150]], "max_people": 4}
GATE = {"name": "gate", "kind": "intrusion", "points_xy": [[0, 0], [320, 0], [320, 150], [0, 150]],
        "window": {"start": "22:00", "end": "06:00"}}
BAY = {"name": "bay", "kind": "no_parking", "points_xy": [[0, 0], [320, 0], [320, 240], [0, 240]]}
LANE = {"name": "lane", "kind": "lane", "points_xy": [[0, 0], [320, 0], [320, 240], [0, 240]], "direction_deg": 0}


class BlobDetector:
    """White blobs are people, red blobs are cars (contours of the painted frame)."""

    def detect(self, image: np.ndarray) -> list[Detection]:
        out = []
        for label, lo, hi in (("person", (200, 200, 200), (255, 255, 255)), ("car", (0, 0, 200), (60, 60, 255))):
            mask = cv2.inRange(image, lo, hi)
            for c in cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)[0]:
                x, y, w, h = cv2.boundingRect(c)
                out.append(Detection(label=label, score=0.9, xyxy=(x, y, x + w, y + h)))
        return out


def paint(people=(), cars=()) -> np.ndarray:
    img = np.zeros((H, W, 3), np.uint8)
    for x, y in people:  # bottom centre (x, y): 12x30 px person
        cv2.rectangle(img, (x - 6, y - 30), (x + 6, y), (255, 255, 255), -1)
    for x, y in cars:
        cv2.rectangle(img, (x - 20, y - 16), (x + 20, y), (0, 0, 255), -1)
    return img


PRESENCE = {"track.crowd_gathering", "track.pedestrian_on_road", "track.zone_intrusion"}


def run(alg: str, zones: list, scenes: list, *, fps: float = 2.0, t0_ms: int = 0, params: CityParams = CityParams()) -> list[int]:
    """Feed ``scenes`` (one painted frame per detector period); returns the objects flagged per frame."""
    hub = TrackHub(BlobDetector(), params=params)
    hub.set_geometry("cam", {"zones": zones})
    algo = CityAlgorithm(alg, hub, version="1")
    flagged = []
    for i, img in enumerate(scenes):
        dets = algo.detect_frame(FrameEvent("cam", i, t0_ms + int(i * 1000 / fps), img))
        assert all(d.label == CITY_ALGORITHMS[alg][0] for d in dets)
        if alg not in PRESENCE:  # rules over time flag tracks; presence rules count first sightings too
            assert all(d.track_id is not None for d in dets)
        flagged.append(len(dets))
    return flagged


EPOCH_23H = calendar.timegm((2026, 12, 1, 23, 0, 0)) * 1000
EPOCH_12H = calendar.timegm((2026, 12, 1, 12, 0, 0)) * 1000


@pytest.mark.parametrize(
    ("alg", "zones", "scenes", "kw", "expected"),
    [
        # 5 people in a plaza that holds 4: a crowd from the first frame (first sightings count); 3 people: none
        ("track.crowd_gathering", [PLAZA], [paint([(40 + 50 * k, 100) for k in range(5)])] * 3, {}, [5, 5, 5]),
        ("track.crowd_gathering", [PLAZA], [paint([(40 + 50 * k, 100) for k in range(3)])] * 3, {}, [0, 0, 0]),
        # 5 walkers moving 20 px (more than their 12 px width) per detector run: no box overlaps its last one, so
        # ByteTrack starts over each time and names no track; they are still 5 people in the plaza
        ("track.crowd_gathering", [PLAZA], [paint([(20 + 55 * k + 20 * t, 100) for k in range(5)]) for t in range(4)], {},
         [5, 5, 5, 5]),
        # someone on the lawn (bottom centre inside), someone on the path above it (not)
        ("track.pedestrian_on_road", [LAWN], [paint([(100, 200), (200, 120)])] * 3, {}, [1, 1, 1]),
        # in the gate zone at 23:00 (inside the 22:00-06:00 window), and at noon (outside)
        ("track.zone_intrusion", [GATE], [paint([(100, 100)])] * 3, {"t0_ms": EPOCH_23H}, [1, 1, 1]),
        ("track.zone_intrusion", [GATE], [paint([(100, 100)])] * 3, {"t0_ms": EPOCH_12H}, [0, 0, 0]),
        # standing 4 s in the gate zone with dwell 2 s: flagged from the 2 s mark on
        ("track.loitering", [GATE], [paint([(100, 100)])] * 9, {"params": CityParams(dwell_s=2.0)}, [0, 0, 0, 0, 0, 1, 1, 1, 1]),
        # a car still for 4 s in a no-parking bay (limit 2 s); a car driving through is not parked
        ("track.illegal_parking", [BAY], [paint(cars=[(100, 100)])] * 9, {"params": CityParams(parking_limit_s=2.0)},
         [0, 0, 0, 0, 0, 1, 1, 1, 1]),
        ("track.illegal_parking", [BAY], [paint(cars=[(40 + 20 * k, 100)]) for k in range(9)],
         {"params": CityParams(parking_limit_s=2.0)}, [0] * 9),
        # lane direction 0 deg (+x): a car driving left is wrong-way once tracked over 0.5 s; one driving right is not
        ("track.wrong_way", [LANE], [paint(cars=[(280 - 15 * k, 100)]) for k in range(6)], {}, [0, 0, 1, 1, 1, 1]),
        ("track.wrong_way", [LANE], [paint(cars=[(40 + 15 * k, 100)]) for k in range(6)], {}, [0] * 6),
    ],
)
def test_rule(alg, zones, scenes, kw, expected):
    assert run(alg, zones, scenes, **kw) == expected


def test_no_zones_means_no_zone_alerts():
    scenes = [paint([(100, 200)], cars=[(200, 100)])] * 4
    for alg in ("track.pedestrian_on_road", "track.zone_intrusion", "track.illegal_parking", "track.wrong_way"):
        assert run(alg, [], scenes) == [0] * 4, alg


def test_stage_runs_the_detector_once_per_frame_and_alerts_flow():
    hub = TrackHub(BlobDetector())
    hub.set_geometry("cam", {"zones": [LAWN, PLAZA]})
    stage = DetectorStage(city_algorithm_specs(hub, rate_fps=2.0))
    stage.assign("cam", list(CITY_ALGORITHMS))
    events = EventDetector(put_evidence=lambda b: hashlib.sha256(b).hexdigest(), policy=EventPolicy(k=2, n=3, cooldown_s=60))
    alerts = []
    img = paint([(100, 200)])  # one person on the lawn, nobody in the plaza
    for i in range(40):  # 4 s of a 10 fps camera: the algorithms run at 2 fps
        frame = FrameEvent("cam", i, i * 100, img)
        alerts += events.update(frame, stage.event_inputs(frame, stage.run(frame)))
    assert hub.detector_runs == 8  # one detector pass per due frame, shared by six algorithms
    assert [a.algorithm_id for a in alerts] == ["track.pedestrian_on_road"]  # one alert (dedup), nothing else
    assert alerts[0].xyxy == pytest.approx((94, 170, 107, 201), abs=1.5)
    assert stage.stats().of("track.crowd_gathering").runs == 8


def test_city_algorithm_refuses_a_bare_image():
    with pytest.raises(TypeError, match="detect_frame"):
        CityAlgorithm("track.loitering", TrackHub(BlobDetector())).detect(paint())
    with pytest.raises(KeyError, match="valid: track.crowd_gathering"):
        CityAlgorithm("track.loiter", TrackHub(BlobDetector()))


def test_registered_in_the_catalog_and_rebuilt_from_the_bundle():
    from catalog import ArtifactStore, Catalog, load_taxonomy
    from runtime import bundle_factory
    from warehouse.training.real_algorithms import register_real_algorithms

    store = ArtifactStore("memory://test-city-algorithms")
    cat = Catalog.open("sqlite://", store=store)
    versions = {v.algorithm_id: v for v in register_real_algorithms(cat, store, ids=set(CITY_ALGORITHMS))}
    assert set(versions) == set(CITY_ALGORITHMS)
    tax = load_taxonomy()
    for alg, (event, _, _) in CITY_ALGORITHMS.items():
        spec = cat.get_algorithm(alg)
        assert spec.event_types == (event,) and spec.scene_tags == tax.events[event].scenes
        assert spec.input_spec["detections"]["from"] == "detector.coco_nanodet"
    hub = TrackHub(BlobDetector())
    hub.set_geometry("cam", {"zones": [LAWN]})
    blob = store.get_bytes(versions["track.pedestrian_on_road"].artifact_sha256)
    stage = DetectorStage({"track.pedestrian_on_road": (bundle_factory(blob, store.get_bytes, hub=hub), 2.0, "1")})
    stage.assign("cam", ["track.pedestrian_on_road"])
    img = paint([(100, 200)])
    got = [stage.run(FrameEvent("cam", i, i * 500, img)).get("track.pedestrian_on_road") for i in range(3)]
    assert [len(g) for g in got] == [1, 1, 1]


def test_stage_takes_the_camera_geometry():
    hub = TrackHub(BlobDetector())
    stage = DetectorStage(city_algorithm_specs(hub, ids=("track.pedestrian_on_road",)), track_hub=hub)
    stage.assign("cam", ["track.pedestrian_on_road"])
    img = paint([(100, 200)])
    before = [len(stage.run(FrameEvent("cam", i, i * 500, img))["track.pedestrian_on_road"]) for i in range(3)]
    stage.set_geometry("cam", [LAWN])  # the ops store's flat list
    after = [len(stage.run(FrameEvent("cam", i, i * 500, img))["track.pedestrian_on_road"]) for i in range(3, 5)]
    assert before == [0, 0, 0] and after == [1, 1]
    from runtime import DetectorStageConfigError

    with pytest.raises(DetectorStageConfigError, match="no track_hub"):
        DetectorStage(city_algorithm_specs(hub)).set_geometry("cam", [LAWN])


WIRE = {"name": "wire", "kind": "tripwire", "points_xy": [[160, 0], [160, 240]]}
LANE_LINE = {"name": "stop line", "kind": "lane_line", "points_xy": [[160, 0], [160, 240]], "direction_deg": 0}


@pytest.mark.parametrize(
    ("alg", "line", "scenes", "expected"),
    [
        # a person walking right across the tripwire at x=160 (reached at frame 5): flagged for 2 s, then not
        ("track.zone_intrusion", WIRE, [paint([(130 + 6 * k, 200)]) for k in range(14)], [0] * 5 + [1] * 5 + [0] * 4),
        ("track.zone_intrusion", WIRE, [paint([(60 + 6 * k, 200)]) for k in range(8)], [0] * 8),  # stays left of it
        # a car crossing the lane line leftwards (allowed: rightwards) is wrong-way; rightwards is fine
        ("track.wrong_way", LANE_LINE, [paint(cars=[(260 - 25 * k, 100)]) for k in range(8)], [0, 0, 0, 0, 0, 1, 1, 1]),
        ("track.wrong_way", LANE_LINE, [paint(cars=[(60 + 25 * k, 100)]) for k in range(8)], [0] * 8),
    ],
)
def test_line_crossings(alg, line, scenes, expected):
    hub = TrackHub(BlobDetector())
    hub.set_geometry("cam", {"lines": [line]})
    algo = CityAlgorithm(alg, hub)
    got = [len(algo.detect_frame(FrameEvent("cam", i, i * 500, img))) for i, img in enumerate(scenes)]
    assert got == expected
