"""Tracking, zones and city algorithms over detections and tracks.

ByteTrack (Roboflow ``trackers``) over ``supervision.Detections``, supervision's
``PolygonZone`` for zone membership; six city algorithms (crowd gathering, intrusion in a time
window, loitering, illegal parking, wrong way, pedestrian on the road) that run inside the
detector stage at the detector's rate and feed the same event logic as every detector.

>>> from runtime.tracking import CameraGeometry, TrackHub, city_algorithm_specs
>>> from runtime.detectors import NanoDetDetector
>>> hub = TrackHub(NanoDetDetector.from_cache)                                        # doctest: +SKIP
>>> hub.set_geometry("cam-1", {"zones": [{"name": "lawn", "kind": "no_pedestrian",
...                                       "points_xy": [[0, 300], [768, 300], [768, 576], [0, 576]]}]})  # doctest: +SKIP
>>> stage = DetectorStage(city_algorithm_specs(hub, rate_fps=2.0))                     # doctest: +SKIP
>>> stage.assign("cam-1", ["track.pedestrian_on_road"])                               # doctest: +SKIP
"""
from runtime.tracking.city import (
    CITY_ALGORITHMS,
    CityAlgorithm,
    CityParams,
    TrackHub,
    city_algorithm_entries,
    city_algorithm_specs,
    evaluate,
)
from runtime.tracking.tracker import ObjectTracker, TrackerConfig, TrackingUnavailableError, from_supervision, to_supervision
from runtime.tracking.zones import CameraGeometry, GeometryConfigError, Line, Zone

__all__ = [
    "CITY_ALGORITHMS",
    "CameraGeometry",
    "CityAlgorithm",
    "CityParams",
    "GeometryConfigError",
    "Line",
    "ObjectTracker",
    "TrackHub",
    "TrackerConfig",
    "TrackingUnavailableError",
    "Zone",
    "city_algorithm_entries",
    "city_algorithm_specs",
    "evaluate",
    "from_supervision",
    "to_supervision",
]
