"""Event logic: per-frame detections -> alerts, smoothed, deduplicated, with evidence.

Per (camera, algorithm) an event is *on* by one of two persistence rules (``EventPolicy``):

* **time window** (``window_s`` set; what the control plane sets per head from the catalog's
  event taxonomy, ``catalog.event_persistence``): over the last ``window_s`` seconds of
  *stream time* (frame timestamps), the score was >= ``threshold`` for at least
  ``window_share`` of the window, each scored frame's verdict holding until the next scored
  frame (a frame the change gate skipped looked like the one before it), and the stream has
  been scored for the whole window. It means the same at 10 fps or 1 fps, takes at least two
  frames over threshold, and delays an alert by at most ``window_s`` (docs/event-logic.md);
* **frame count** (``window_s=None``, the fallback): at least ``k`` of the last ``n`` scored
  frames score >= ``threshold``.

Per (camera, algorithm, region cell) -- the cell
of a ``grid_wh`` grid holding the box centre -- one alert is raised when the event comes on
there, none while it stays on (dedup), and none for ``cooldown_s`` after the last alert
in that cell (so a flickering event does not alert again and again). Every alert carries
an evidence snapshot (JPEG of the frame with the box drawn) stored through the injected
``put_evidence(bytes) -> sha256`` (the catalog's ``ArtifactStore.put_bytes``).

Frames skipped by the change gate are not scored and do not enter the window.

>>> import numpy as np
>>> from runtime.streams import FrameEvent
>>> store = {}
>>> def put(b): import hashlib; h = hashlib.sha256(b).hexdigest(); store[h] = b; return h
>>> det = EventDetector(put_evidence=put, policy=EventPolicy(k=2, n=3, cooldown_s=10))
>>> img = np.zeros((90, 160, 3), np.uint8)
>>> hit = {"fire": Detection(score=0.9, xyxy=(10, 10, 40, 40), model_version="fire@3")}
>>> [len(det.update(FrameEvent("c1", i, i * 100, img), hit)) for i in range(4)]
[0, 1, 0, 0]
>>> slow = EventDetector(put_evidence=put, policy=EventPolicy(window_s=3.0, window_share=0.8))
>>> [len(slow.update(FrameEvent("c1", i, i * 1000, img), hit)) for i in range(5)]  # 1 fps: on once 3 s are seen
[0, 0, 0, 1, 0]
"""
from __future__ import annotations

import hashlib
import logging
import math
from collections import deque
from dataclasses import asdict, dataclass, field
from typing import Callable, Mapping, Sequence

import cv2
import numpy as np

from runtime.detection import XYXY, Detection
from runtime.streams.base import FrameEvent, StreamConfigError

log = logging.getLogger(__name__)

__all__ = ["Alert", "Detection", "EventDetector", "EventPolicy", "evidence_jpeg", "held_over_ms", "region_cell"]


@dataclass(frozen=True, slots=True)
class Alert:
    alert_id: str
    camera_id: str
    algorithm_id: str
    model_version: str
    score: float
    xyxy: XYXY
    ts_ms: int
    evidence_sha256: str
    frame_index: int = -1
    region_cell: tuple[int, int] = (0, 0)

    def __str__(self) -> str:
        return f"alert {self.alert_id} {self.camera_id}/{self.algorithm_id}@{self.ts_ms}ms score={self.score:.2f}"

    def to_dict(self) -> dict:
        """Plain JSON-able dict (lists for tuples), e.g. for the alerts topic."""
        d = asdict(self)
        d["xyxy"], d["region_cell"] = list(self.xyxy), list(self.region_cell)
        return d


@dataclass(frozen=True, slots=True)
class EventPolicy:
    threshold: float = 0.5
    k: int = 3
    n: int = 5
    cooldown_s: float = 30.0
    grid_wh: tuple[int, int] = (4, 4)
    window_s: float | None = None  # persistence window in stream seconds; None: k of the last n scored frames
    window_share: float = 0.8  # share of the window the score must be over threshold

    def __post_init__(self) -> None:
        if not (1 <= self.k <= self.n):
            raise StreamConfigError(f"k={self.k!r} of n={self.n!r} frames; expected 1 <= k <= n, e.g. k=3, n=5")
        if self.window_s is not None and not (math.isfinite(self.window_s) and 0 < self.window_s <= 3600):
            raise StreamConfigError(f"window_s={self.window_s!r}; expected seconds in (0, 3600], e.g. 3.0, or None for k of n frames")
        if not (0 < self.window_share <= 1):
            raise StreamConfigError(f"window_share={self.window_share!r}; expected a share in (0, 1], e.g. 0.8")
        if self.cooldown_s < 0 or not math.isfinite(self.cooldown_s):
            raise StreamConfigError(f"cooldown_s={self.cooldown_s!r}; expected seconds >= 0")
        if len(self.grid_wh) != 2 or min(self.grid_wh) < 1:
            raise StreamConfigError(f"grid_wh={self.grid_wh!r}; expected (columns, rows) >= 1, e.g. (4, 4)")


def held_over_ms(hits: Sequence[tuple[int, bool]], now_ms: int, window_ms: int) -> int | None:
    """Milliseconds of ``[now_ms - window_ms, now_ms)`` during which the score was over threshold,
    each ``(ts_ms, hit)`` of the earlier scored frames (oldest first) holding until the next one
    (the last until ``now_ms``); ``None`` while the frames do not reach back over the whole window.

    >>> held_over_ms([(0, True), (1000, False), (2000, True)], 3000, 3000), held_over_ms([(500, True)], 3000, 3000)
    (2000, None)
    """
    start = now_ms - window_ms
    if not hits or hits[0][0] > start:
        return None
    total = 0
    for i, (ts, hit) in enumerate(hits):
        end = hits[i + 1][0] if i + 1 < len(hits) else now_ms
        if hit:
            total += max(0, min(end, now_ms) - max(ts, start))
    return total


def region_cell(xyxy: XYXY, image_wh: tuple[int, int], grid_wh: tuple[int, int]) -> tuple[int, int]:
    """Grid cell (column, row) of the box centre.

    >>> region_cell((0, 0, 10, 10), (100, 100), (4, 4)), region_cell((90, 60, 100, 100), (100, 100), (4, 4))
    ((0, 0), (3, 3))
    """
    w, h = max(1, image_wh[0]), max(1, image_wh[1])
    cx, cy = (xyxy[0] + xyxy[2]) / 2.0, (xyxy[1] + xyxy[3]) / 2.0
    col = min(grid_wh[0] - 1, max(0, int(cx / w * grid_wh[0])))
    row = min(grid_wh[1] - 1, max(0, int(cy / h * grid_wh[1])))
    return col, row


def evidence_jpeg(image: np.ndarray, xyxy: XYXY, label: str, *, quality: int = 85) -> bytes:
    """JPEG of ``image`` with the box and a label drawn (the image is not modified)."""
    img = image.copy()
    h, w = img.shape[:2]
    x0, y0 = int(max(0, min(w - 1, xyxy[0]))), int(max(0, min(h - 1, xyxy[1])))
    x1, y1 = int(max(0, min(w - 1, xyxy[2]))), int(max(0, min(h - 1, xyxy[3])))
    thick = max(2, round(min(w, h) / 200))
    cv2.rectangle(img, (x0, y0), (x1, y1), (0, 0, 255), thick)
    cv2.putText(img, label, (x0 + 2, max(12, y0 - 4)), cv2.FONT_HERSHEY_SIMPLEX, max(0.4, min(w, h) / 600), (0, 0, 255),
                max(1, thick // 2), cv2.LINE_AA)
    ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    if not ok:
        raise StreamConfigError(f"cannot JPEG-encode an evidence frame of shape {image.shape}; expected HxWx3 uint8")
    return buf.tobytes()


@dataclass(slots=True)
class _Track:
    hits: deque = field(default_factory=deque)  # k of n: bools; time window: (ts_ms, hit) of earlier frames
    open_cells: set = field(default_factory=set)


def _window_on(track: _Track, now_ms: int, hit: bool, pol: EventPolicy) -> bool:
    """The time-window rule (module doc) at a frame of ``now_ms``: is the event on over the window
    before it (the caller alerts only on a frame that is itself over threshold); records the frame."""
    window_ms = int(round(pol.window_s * 1000))
    if track.hits and now_ms < track.hits[-1][0]:  # the stream's clock went back (a file restarted): start over
        track.hits.clear()
    while len(track.hits) >= 2 and track.hits[1][0] <= now_ms - window_ms:
        track.hits.popleft()  # keep one frame at or before the window's start: its verdict holds into the window
    over = held_over_ms(track.hits, now_ms, window_ms)
    if track.hits and track.hits[-1][0] == now_ms:
        track.hits.pop()  # two frames at one timestamp: the later verdict stands
    track.hits.append((now_ms, hit))
    return over is not None and over >= pol.window_share * window_ms - 0.5


class EventDetector:
    """Turns detections into alerts. One detector may serve many cameras and algorithms;
    ``policies`` overrides the default ``policy`` per algorithm id."""

    def __init__(self, *, put_evidence: Callable[[bytes], str], policy: EventPolicy | None = None,
                 policies: Mapping[str, EventPolicy] | None = None, jpeg_quality: int = 85) -> None:
        if not callable(put_evidence):
            raise StreamConfigError(f"put_evidence={put_evidence!r} is not callable; pass ArtifactStore.put_bytes")
        self._put = put_evidence
        self._policy = policy or EventPolicy()
        self._policies = dict(policies or {})
        self._quality = jpeg_quality
        self._tracks: dict[tuple[str, str], _Track] = {}
        self._last_alert_ms: dict[tuple[str, str, tuple[int, int]], int] = {}
        self.suppressed = 0

    def policy_for(self, algorithm_id: str) -> EventPolicy:
        return self._policies.get(algorithm_id, self._policy)

    def set_policy(self, algorithm_id: str, policy: EventPolicy) -> None:
        """Use ``policy`` for ``algorithm_id`` from the next frame on (a new version's threshold)."""
        self._policies = {**self._policies, algorithm_id: policy}

    def update(self, frame: FrameEvent, detections: Mapping[str, Detection]) -> list[Alert]:
        """Feed one scored frame's detections (by algorithm id); returns new alerts."""
        alerts = []
        for algorithm_id, det in detections.items():
            alert = self._one(frame, algorithm_id, det)
            if alert is not None:
                alerts.append(alert)
        return alerts

    def _one(self, frame: FrameEvent, algorithm_id: str, det: Detection) -> Alert | None:
        pol = self.policy_for(algorithm_id)
        hit = det.score >= pol.threshold
        key_t = (frame.camera_id, algorithm_id)
        track = self._tracks.get(key_t)
        timed = pol.window_s is not None
        if track is None or (track.hits.maxlen is None) != timed or (not timed and track.hits.maxlen != pol.n):
            track = self._tracks[key_t] = _Track(deque() if timed else deque(maxlen=pol.n))  # new or changed rule
        if timed:
            on = _window_on(track, int(frame.ts_ms), hit, pol)
        else:
            track.hits.append(hit)
            on = sum(track.hits) >= pol.k
        if not on:
            track.open_cells.clear()  # the event is over: a later one may alert again (after cooldown)
            return None
        if not hit:
            return None
        h, w = frame.image.shape[:2]
        cell = region_cell(det.xyxy, (w, h), pol.grid_wh)
        key = (frame.camera_id, algorithm_id, cell)
        if cell in track.open_cells:
            return None  # same ongoing event, same place
        track.open_cells.add(cell)
        last = self._last_alert_ms.get(key)
        if last is not None and frame.ts_ms - last < pol.cooldown_s * 1000:
            self.suppressed += 1
            log.debug("alert suppressed by cooldown camera=%s algorithm=%s cell=%s", *key)
            return None
        self._last_alert_ms[key] = frame.ts_ms
        label = f"{algorithm_id} {det.score:.2f}"
        sha = self._put(evidence_jpeg(frame.image, det.xyxy, label, quality=self._quality))
        raw = f"{frame.camera_id}|{algorithm_id}|{cell}|{frame.frame_index}|{frame.ts_ms}"
        alert = Alert(hashlib.sha256(raw.encode()).hexdigest()[:20], frame.camera_id, algorithm_id, det.model_version,
                      det.score, det.xyxy, frame.ts_ms, sha, frame.frame_index, cell)
        log.info("%s version=%s evidence=%s", alert, det.model_version, sha[:12])
        return alert
