"""Multi-object tracking with Roboflow's ByteTrack (``trackers``), over ``supervision.Detections``.

``supervision.Detections`` is the batch form at the tracker boundary; the runtime's own
:class:`~runtime.detection.Detection` goes in and comes out (``to_supervision`` /
``from_supervision`` are the only conversions). Time is the frame's timestamp, so a
detector at 2 fps on a 10 fps camera (or frames skipped by the change gate) is tracked with
the right motion model.

>>> tr = ObjectTracker()                                                                   # doctest: +SKIP
>>> tracked = tr.update([Detection(label="person", score=0.8, xyxy=(0, 0, 10, 30))], ts_ms=0)  # doctest: +SKIP
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from runtime.detection import Detection

log = logging.getLogger(__name__)


class TrackingUnavailableError(ImportError):
    """``supervision`` / ``trackers`` are not installed (the message names the fix)."""


def _libs():
    try:
        import supervision as sv
        from trackers import ByteTrackTracker
    except ImportError as exc:  # pragma: no cover - declared dependencies
        raise TrackingUnavailableError(
            f"tracking needs supervision and trackers ({exc}); `pip install --no-deps supervision==0.31.2 trackers==2.6.1` "
            "(--no-deps: trackers pins GUI opencv-python) and `pip install pydeprecate defusedxml`") from exc
    return sv, ByteTrackTracker


def to_supervision(dets: Sequence[Detection], labels: Sequence[str]) -> "object":
    """Runtime detections -> ``sv.Detections`` (``class_id`` indexes ``labels``; ``data['index']``
    keeps the position in ``dets``)."""
    sv, _ = _libs()
    if not dets:
        return sv.Detections.empty()
    index = {lbl: i for i, lbl in enumerate(labels)}
    return sv.Detections(xyxy=np.array([d.xyxy for d in dets], np.float32),
                         confidence=np.array([d.score for d in dets], np.float32),
                         class_id=np.array([index[d.label] for d in dets], np.int64),
                         data={"index": np.arange(len(dets))})


def from_supervision(tracked: "object", dets: Sequence[Detection], *, keep_untracked: bool = False) -> list[Detection]:
    """Tracked ``sv.Detections`` -> the original detections with ``track_id`` set. Those the tracker
    gave no id (``-1``: a first sighting, or a box no track took) are dropped, or with
    ``keep_untracked`` kept with ``track_id`` None."""
    import dataclasses

    out = []
    ids = tracked.tracker_id if tracked.tracker_id is not None else np.full(len(tracked), -1)
    idx = tracked.data.get("index") if tracked.data else None
    for k in range(len(tracked)):
        if int(ids[k]) < 0:
            if keep_untracked and idx is not None:
                out.append(dataclasses.replace(dets[int(idx[k])], track_id=None))
            continue
        src = dets[int(idx[k])] if idx is not None else None
        box = tuple(float(v) for v in tracked.xyxy[k])
        if src is None:
            out.append(Detection(label="", score=float(tracked.confidence[k]), xyxy=box, track_id=int(ids[k])))
        else:
            out.append(dataclasses.replace(src, xyxy=box if src.xyxy is None else src.xyxy, track_id=int(ids[k])))
    return out


@dataclass(frozen=True, slots=True)
class TrackerConfig:
    labels: tuple[str, ...] = ("person", "bicycle", "car", "motorcycle", "bus", "truck")  # what is tracked
    lost_track_s: float = 2.0  # how long a lost track is kept for re-association
    activation_score: float = 0.45  # a new track needs a detection this confident
    high_score: float = 0.5  # ByteTrack's split between the first and second association
    min_iou: float = 0.1
    min_consecutive: int = 1  # detections before a track gets an id (1: at once; the detector runs at 1-2 fps)


class ObjectTracker:
    """One camera's tracker: ByteTrack over the configured labels, one id space for all of them."""

    def __init__(self, config: TrackerConfig = TrackerConfig(), *, nominal_fps: float = 2.0) -> None:
        _, ByteTrackTracker = _libs()
        self.config = config
        # trackers counts the lost buffer in 30-fps frames; give it seconds through frame_rate
        self._bt = ByteTrackTracker(lost_track_buffer=max(1, round(config.lost_track_s * 30)), frame_rate=nominal_fps,
                                    track_activation_threshold=config.activation_score,
                                    minimum_consecutive_frames=config.min_consecutive, minimum_iou_threshold=config.min_iou,
                                    high_conf_det_threshold=config.high_score)
        self._labels = tuple(config.labels)

    def update(self, dets: Sequence[Detection], *, ts_ms: float) -> list[Detection]:
        """Detections of one frame (of the tracked labels) -> all of them: those that belong to a track
        with its ``track_id``, the others (a first sighting: ByteTrack names a track from its second
        detection on; or a box no track took) with ``track_id`` None. Presence rules count them all
        (at 2 fps a walker moves far enough between detector runs that ByteTrack often starts over:
        counting only named tracks missed 1.4-1.7 of 6-7 people on vtest); rules over time use the
        named ones."""
        kept = [d for d in dets if d.label in self._labels]
        tracked = self._bt.update(to_supervision(kept, self._labels), timestamp=float(ts_ms) / 1000.0)
        return from_supervision(tracked, kept, keep_untracked=True)

    def reset(self) -> None:
        self._bt.reset()
