"""City algorithms over detections and tracks, run by the detector stage at the detector's rate.

Six algorithms, each a rule over one camera's tracked objects and its zones and lines
(:class:`~runtime.tracking.zones.CameraGeometry`); zone membership is supervision's
``PolygonZone`` and line crossing supervision's ``LineZone``, both on the objects' bottom
centres (where they touch the ground):

| id | event type | fires when |
| --- | --- | --- |
| ``track.crowd_gathering`` | crowd_gathering | >= ``max_people`` people in a ``crowd`` zone (whole frame if none) |
| ``track.zone_intrusion`` | intrusion_after_hours | a person in an ``intrusion`` zone inside its time window, or crossing a ``tripwire`` |
| ``track.loitering`` | loitering | a person tracked >= ``dwell_s`` in an intrusion/crowd zone (or the frame) |
| ``track.illegal_parking`` | illegal_parking | a vehicle still for >= ``limit_s`` in a ``no_parking`` zone |
| ``track.wrong_way`` | wrong_way_driving | a vehicle in a ``lane`` zone moving > 120 deg off its direction, or crossing a ``lane_line`` so |
| ``track.pedestrian_on_road`` | pedestrian_on_motorway | a person in a ``no_pedestrian`` zone |

One :class:`TrackHub` per stage runs the source detector and one tracker per camera once per
frame, however many of the six a camera runs; each algorithm is a detector-like object with
``detect_frame(frame)`` (the stage hands it the whole frame: camera id and timestamp) returning
one :class:`~runtime.detection.Detection` per object in violation (label = the algorithm's event,
score 1.0, the object's box and track id), or none. The event logic (k-of-n, dedup, cooldown)
then turns them into alerts like any detector's.

>>> hub = TrackHub(lambda: NanoDetDetector.from_cache())                         # doctest: +SKIP
>>> hub.set_geometry("cam-1", CameraGeometry.from_dict(zones_json))              # doctest: +SKIP
>>> specs = city_algorithm_specs(hub, rate_fps=2.0)   # {id: DetectorSpec} for DetectorStage  # doctest: +SKIP
"""
from __future__ import annotations

import logging
import math
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from runtime.detection import Detection
from runtime.detectors.movenet import people_count
from runtime.tracking.tracker import ObjectTracker, TrackerConfig
from runtime.tracking.zones import CameraGeometry, Zone

log = logging.getLogger(__name__)

VEHICLES = frozenset({"car", "truck", "bus", "motorcycle"})
CITY_ALGORITHMS = {  # id -> (event type, name, scenes)
    "track.crowd_gathering": ("crowd_gathering", "Crowd gathering in a zone (people count)",
                              ("plaza", "intersection", "market_street", "bus_stop", "sidewalk", "park", "school_gate")),
    "track.zone_intrusion": ("intrusion_after_hours", "Intrusion into a zone in a time window",
                             ("building_lobby", "construction_site", "park", "parking_lot", "school_gate")),
    "track.loitering": ("loitering", "Loitering (dwell time)", ("building_lobby", "parking_lot", "residential_gate", "bus_stop",
                                                                 "school_gate", "sidewalk")),
    "track.illegal_parking": ("illegal_parking", "Vehicle stopped in a no-parking zone", ("road", "intersection", "sidewalk",
                                                                                           "residential_gate", "bus_stop", "school_gate")),
    "track.wrong_way": ("wrong_way_driving", "Movement against a lane's direction", ("road", "tunnel", "bridge", "intersection")),
    "track.pedestrian_on_road": ("pedestrian_on_motorway", "Pedestrian where none should walk", ("road", "tunnel", "bridge")),
}


@dataclass(frozen=True, slots=True)
class CityParams:
    max_people: int = 5  # crowd size when the zone names none
    dwell_s: float = 60.0
    parking_limit_s: float = 120.0
    still_frac: float = 0.25  # "still": the centre moved less than this fraction of the box height
    wrong_way_deg: float = 120.0
    min_speed_px_s: float = 5.0
    utc_offset_min: int = 0  # local time of the camera for time windows
    crossing_hold_s: float = 2.0  # a line crossing stays evidence this long (k-of-n smoothing needs several frames)


@dataclass(slots=True)
class _TrackState:
    label: str
    first_ms: float
    history: list = field(default_factory=list)  # (ts_ms, cx, cy, h)
    zone_since_ms: dict = field(default_factory=dict)  # zone name -> first ts inside


@dataclass(slots=True)
class _Camera:
    tracker: ObjectTracker
    geometry: CameraGeometry = field(default_factory=CameraGeometry)
    frame_key: tuple | None = None
    objects: list = field(default_factory=list)
    tracks: dict = field(default_factory=dict)
    line_zones: dict = field(default_factory=dict)  # line name -> supervision LineZone (keeps per-track sides)
    crossings: dict = field(default_factory=dict)  # line name -> {track id: ts_ms of its last crossing}
    counted: list = field(default_factory=list)  # the hub's people counter on the frame of count_key
    count_key: tuple | None = None

    def counted_now(self) -> list:
        """The counter's people on the current frame ([] if it has not run on it)."""
        return self.counted if self.count_key is not None and self.count_key == self.frame_key else []


def _line_crossings(cam: "_Camera", objs: list[Detection], ts_ms: float) -> None:
    """Record the tracks whose bottom centre crossed each line on this frame (supervision's LineZone, either way)."""
    import supervision as sv

    objs = _named(objs)
    dets = sv.Detections(xyxy=np.array([o.xyxy for o in objs], np.float32).reshape(-1, 4),
                         tracker_id=np.array([o.track_id for o in objs], np.int64))
    for ln in cam.geometry.lines:
        lz = cam.line_zones.get(ln.name)
        if lz is None:
            lz = cam.line_zones[ln.name] = sv.LineZone(sv.Point(*ln.start_xy), sv.Point(*ln.end_xy),
                                                       triggering_anchors=(sv.Position.BOTTOM_CENTER,))
        crossed_in, crossed_out = lz.trigger(dets) if len(objs) else (np.zeros(0, bool), np.zeros(0, bool))
        seen = cam.crossings.setdefault(ln.name, {})
        for o, a, b in zip(objs, crossed_in, crossed_out):
            if a or b:
                seen[o.track_id] = ts_ms
        for tid in [t for t, t_ms in seen.items() if ts_ms - t_ms > 30_000 or ts_ms < t_ms]:
            del seen[tid]


def _crossed(cam: "_Camera", line_name: str, ts_ms: float, hold_s: float) -> list[Detection]:
    """Current objects that crossed ``line_name`` within the last ``hold_s`` (so k-of-n smoothing sees the event)."""
    seen = cam.crossings.get(line_name, {})
    return [o for o in _named(cam.objects) if o.track_id in seen and 0 <= ts_ms - seen[o.track_id] <= hold_s * 1000]


def _named(objs: list[Detection]) -> list[Detection]:
    """The objects that belong to a track (rules over time need one); first sightings have no id."""
    return [o for o in objs if o.track_id is not None]


def _heading_deg(st: "_TrackState", ts_ms: float, min_speed_px_s: float) -> float | None:
    """Direction of the last 0.5-3 s of motion (image degrees: 0 = +x, 90 = down), or None if too slow."""
    hist = [h for h in st.history if ts_ms - h[0] <= 3000]
    if len(hist) < 2 or hist[-1][0] - hist[0][0] < 500:
        return None
    dx, dy = hist[-1][1] - hist[0][1], hist[-1][2] - hist[0][2]
    if math.hypot(dx, dy) / ((hist[-1][0] - hist[0][0]) / 1000.0) < min_speed_px_s:
        return None
    return math.degrees(math.atan2(dy, dx)) % 360


def _off_deg(heading: float, allowed: float) -> float:
    return abs((heading - allowed + 180) % 360 - 180)


def _in_zone(zone: Zone, objects: list[Detection]) -> list[Detection]:
    """Objects whose bottom centre is inside ``zone`` (supervision's PolygonZone)."""
    if not objects:
        return []
    import supervision as sv

    pz = sv.PolygonZone(zone.polygon_int(), triggering_anchors=(sv.Position.BOTTOM_CENTER,))
    mask = pz.trigger(sv.Detections(xyxy=np.array([o.xyxy for o in objects], np.float32)))
    return [o for o, m in zip(objects, mask) if m]


def _minute_of_day(ts_ms: float, utc_offset_min: int) -> int:
    # epoch timestamps (live streams) -> local clock; stream offsets (files) -> minutes since start
    secs = ts_ms / 1000.0
    if ts_ms > 946_684_800_000:  # after 2000-01-01: an epoch time
        t = time.gmtime(secs + utc_offset_min * 60)
        return t.tm_hour * 60 + t.tm_min
    return int(secs // 60) % 1440


class TrackHub:
    """Detector + tracker per camera, shared by the city algorithms of a stage (thread-safe)."""

    def __init__(self, detector_factory: Callable[[], Any], *, tracker: TrackerConfig = TrackerConfig(),
                 params: CityParams = CityParams(), nominal_fps: float = 2.0, counter_factory: Callable[[], Any] | None = None) -> None:
        # counter_factory: a second people detector (MoveNet's centres) for the crowd rule's count, run
        # only on frames the crowd rule is due; the count is the larger of its and the tracked objects'
        self._factory, self._counter_factory = detector_factory, counter_factory
        self._detector: Any = None
        self._counter: Any = None
        self.counter_runs = 0
        self._tracker_cfg, self.params, self._fps = tracker, params, nominal_fps
        self._cams: dict[str, _Camera] = {}
        self._lock = threading.Lock()
        self.detector_runs = 0

    def set_geometry(self, camera_id: str, geometry: CameraGeometry | dict | list | None) -> None:
        g = geometry if isinstance(geometry, CameraGeometry) else CameraGeometry.from_dict(geometry)
        with self._lock:
            cam = self._cam(camera_id)
            cam.geometry, cam.line_zones, cam.crossings = g, {}, {}
        log.info("city geometry camera=%s zones=%s lines=%s", camera_id, [z.name for z in g.zones], [ln.name for ln in g.lines])

    def _cam(self, camera_id: str) -> _Camera:
        cam = self._cams.get(camera_id)
        if cam is None:
            cam = self._cams[camera_id] = _Camera(ObjectTracker(self._tracker_cfg, nominal_fps=self._fps))
        return cam

    def observe(self, frame: Any, *, count: bool = False) -> _Camera:
        """Run detector + tracker on ``frame`` once (later calls for the same frame reuse it); with
        ``count`` also the people counter, if the hub has one (once per frame too)."""
        key = (frame.frame_index, frame.ts_ms)
        with self._lock:
            cam = self._cam(frame.camera_id)
            if count and self._counter_factory is not None and cam.count_key != key:
                if self._counter is None:
                    try:
                        self._counter = self._counter_factory()
                    except ImportError as exc:  # its weights are missing: count with the tracked objects alone
                        log.warning("people counter unavailable, the crowd rule counts tracked objects only: %s", exc)
                        self._counter_factory = None
                if self._counter is not None:
                    cam.counted = [d for d in self._counter.detect(frame.image) if d.label == "person"]
                    cam.count_key = key
                    self.counter_runs += 1
            if cam.frame_key == key:
                return cam
            if self._detector is None:
                self._detector = self._factory() if not callable(getattr(self._factory, "detect", None)) else self._factory
            objs = cam.tracker.update(self._detector.detect(frame.image), ts_ms=frame.ts_ms)
            self.detector_runs += 1
            cam.frame_key, cam.objects = key, objs
            if cam.geometry.lines:
                _line_crossings(cam, objs, frame.ts_ms)
            alive = set()
            for o in objs:
                if o.track_id is None:  # not (yet) a track: counted by presence rules, no history
                    continue
                st = cam.tracks.get(o.track_id)
                if st is None:
                    st = cam.tracks[o.track_id] = _TrackState(o.label, frame.ts_ms)
                cx, cy = o.centre_xy
                st.history.append((frame.ts_ms, cx, cy, o.height_px))
                del st.history[:-600]  # 5 min at 2 fps: longer than any limit
                alive.add(o.track_id)
            for tid in [t for t in cam.tracks if t not in alive]:
                if frame.ts_ms - cam.tracks[tid].history[-1][0] > 10_000 or frame.ts_ms < cam.tracks[tid].first_ms:
                    del cam.tracks[tid]
            return cam

    def people_count(self, camera_id: str) -> int:
        with self._lock:
            cam = self._cams.get(camera_id)
            if cam is None:
                return 0
            return people_count(cam.objects, cam.counted_now())


def _evidence(alg: str, objs: list[Detection], version: str) -> list[Detection]:
    label = CITY_ALGORITHMS[alg][0]
    return [Detection(label=label, score=1.0, xyxy=o.xyxy, track_id=o.track_id, model_version=version) for o in objs]


def evaluate(alg: str, cam: _Camera, ts_ms: float, p: CityParams, version: str = "") -> list[Detection]:
    """The rule of ``alg`` on one camera's current tracked objects (see the module table)."""
    g, objs = cam.geometry, cam.objects
    people = [o for o in objs if o.label == "person"]  # presence rules count first sightings too
    vehicles = [o for o in _named(objs) if o.label in VEHICLES]  # the vehicle rules follow a track over time
    if alg == "track.crowd_gathering":  # the count: the larger of the tracked people's and the counter's
        zones, counted = g.of_kind("crowd"), cam.counted_now()
        if not zones:
            crowd = max(people, counted, key=len)
            return _evidence(alg, crowd, version) if len(crowd) >= p.max_people else []
        out = []
        for z in zones:
            inside = max(_in_zone(z, people), _in_zone(z, counted), key=len)
            if len(inside) >= (z.max_people or p.max_people):
                out.extend(inside)
        return _evidence(alg, out, version)
    if alg == "track.zone_intrusion":
        minute = _minute_of_day(ts_ms, p.utc_offset_min)
        found = [o for z in g.of_kind("intrusion") if z.active_at_minute(minute) for o in _in_zone(z, people)]
        # a person crossing a tripwire (either way) intrudes too
        found += [o for ln in g.lines if ln.kind == "tripwire" for o in _crossed(cam, ln.name, ts_ms, p.crossing_hold_s)
                  if o.label == "person"]
        return _evidence(alg, found, version)
    if alg == "track.pedestrian_on_road":
        return _evidence(alg, [o for z in g.of_kind("no_pedestrian") for o in _in_zone(z, people)], version)
    if alg == "track.loitering":
        zones = g.of_kind("intrusion") + g.of_kind("crowd")
        people = _named(people)  # dwell time follows a track
        out = []
        if not zones:
            out = [o for o in people if ts_ms - cam.tracks[o.track_id].first_ms >= p.dwell_s * 1000]
        for z in zones:
            inside = {o.track_id for o in _in_zone(z, people)}
            for o in people:
                st = cam.tracks[o.track_id]
                if o.track_id in inside:
                    since = st.zone_since_ms.setdefault(z.name, ts_ms)
                    if ts_ms - since >= p.dwell_s * 1000:
                        out.append(o)
                else:
                    st.zone_since_ms.pop(z.name, None)
        return _evidence(alg, out, version)
    if alg == "track.illegal_parking":
        out = []
        for z in g.of_kind("no_parking"):
            for o in _in_zone(z, vehicles):
                hist = cam.tracks[o.track_id].history
                cx, cy, h = hist[-1][1:]
                # still since when? walk back while the centre stays within still_frac of the height
                since = hist[-1][0]
                for t, x, y, _ in reversed(hist):
                    if math.hypot(x - cx, y - cy) > p.still_frac * max(h, 1.0):
                        break
                    since = t
                if ts_ms - since >= p.parking_limit_s * 1000:
                    out.append(o)
        return _evidence(alg, out, version)
    if alg == "track.wrong_way":
        out = []
        for z in g.of_kind("lane"):  # moving against the lane inside it
            for o in _in_zone(z, vehicles):
                heading = _heading_deg(cam.tracks[o.track_id], ts_ms, p.min_speed_px_s)
                if heading is not None and _off_deg(heading, float(z.direction_deg)) > p.wrong_way_deg:
                    out.append(o)
        for ln in g.lines:  # crossing a lane line against its allowed direction
            if ln.kind != "lane_line" or ln.direction_deg is None:
                continue
            for o in _crossed(cam, ln.name, ts_ms, p.crossing_hold_s):
                if o.label not in VEHICLES:
                    continue
                heading = _heading_deg(cam.tracks[o.track_id], ts_ms, p.min_speed_px_s)
                if heading is not None and _off_deg(heading, ln.direction_deg) > p.wrong_way_deg:
                    out.append(o)
        return _evidence(alg, out, version)
    raise KeyError(f"unknown city algorithm {alg!r}; valid: {', '.join(CITY_ALGORITHMS)}")


class CityAlgorithm:
    """One city algorithm as a detector-stage detector (``detect_frame`` gets the whole frame)."""

    def __init__(self, algorithm_id: str, hub: TrackHub, *, version: str = "") -> None:
        if algorithm_id not in CITY_ALGORITHMS:
            raise KeyError(f"unknown city algorithm {algorithm_id!r}; valid: {', '.join(CITY_ALGORITHMS)}")
        self.name, self.hub, self.version = algorithm_id, hub, version

    def detect_frame(self, frame: Any) -> list[Detection]:
        cam = self.hub.observe(frame, count=self.name == "track.crowd_gathering")
        with self.hub._lock:
            return evaluate(self.name, cam, frame.ts_ms, self.hub.params, self.version)

    def detect(self, image_bgr: np.ndarray) -> list[Detection]:
        raise TypeError(f"{self.name} needs the frame's camera and time: the detector stage calls detect_frame(frame)")


def city_algorithm_entries(source: str = "detector.coco_nanodet", params: CityParams = CityParams()) -> list[dict[str, Any]]:
    """Catalog entries of the six city algorithms (AlgorithmSpec fields + ``bundle``/``config``/``files``,
    the shape of ``warehouse.training.real_algorithms``). Scenes are the taxonomy's scenes of each
    event type, so the knowledge graph selects them wherever the event is relevant."""
    import dataclasses

    from catalog import load_taxonomy

    tax = load_taxonomy()
    out = []
    for alg, (event, name, _scenes) in CITY_ALGORITHMS.items():
        ev = tax.require_event(event)
        out.append({
            "id": alg, "name": name, "kind": "detector",
            "description": f"{name}: a rule over tracked objects (ByteTrack on {source}) and the camera's zones and lines "
                           "(supervision PolygonZone on the objects' bottom centres); runs in the detector stage at the detector's rate.",
            "event_types": (event,), "scene_tags": tuple(ev.scenes), "labels": (event,),
            "input_spec": {"detections": {"from": source, "labels": sorted(VEHICLES | {"person"})},
                           **({"people_counter": "detector.movenet_people"} if alg == "track.crowd_gathering" else {}),
                           "camera_config": "zones and lines in the camera's pixels (runtime.tracking.CameraGeometry)"},
            "preprocess": {"tracker": "bytetrack (trackers 2.6.1)", **dataclasses.asdict(TrackerConfig())},
            "postprocess": {"rule": alg, "evidence": "one detection per object in violation, score 1.0", **dataclasses.asdict(params)},
            "bundle": "city", "config": {"algorithm": alg, "source": source, "params": dataclasses.asdict(params)}, "files": {},
        })
    return out


def city_algorithm_specs(hub: TrackHub, *, rate_fps: float = 2.0, version: str = "1", ids: tuple[str, ...] | None = None) -> dict:
    """``{algorithm id: DetectorSpec}`` of the city algorithms on ``hub`` for :class:`~runtime.DetectorStage`."""
    from runtime.detector_stage import DetectorSpec

    return {alg: DetectorSpec(CityAlgorithm(alg, hub, version=version), rate_fps=rate_fps, version=version)
            for alg in (ids or tuple(CITY_ALGORITHMS))}
