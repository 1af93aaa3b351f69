"""A static synthetic camera: fixed background, sensor noise, events on a schedule.

Frames where nothing is scheduled differ from each other only by small sensor noise, so a
change gate can skip them; frames inside an event's window show the event (same pixels as
:func:`render_frame` with that event) plus noise.

>>> cam = SyntheticCamera("road", seed=3, fps=10, event_schedule=[ScheduledEvent("pothole", 20, 30)])
>>> [labels for i, img, labels in cam.frames(25)][21][0].event
'pothole'
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Sequence

import cv2
import numpy as np

from catalog.synthetic import _draw as d
from catalog.synthetic.conditions import apply_condition
from catalog.synthetic.frame import EventLabel, SyntheticSceneError, place_events, render_background, validate_request

log = logging.getLogger(__name__)

_FOURCC_BY_SUFFIX = {".avi": "MJPG", ".mp4": "mp4v"}  # both checked to open here (OpenCV 4.x wheels)


@dataclass(frozen=True, slots=True)
class ScheduledEvent:
    event: str
    start_frame: int  # first frame showing it
    end_frame: int  # first frame no longer showing it (exclusive)

    def active(self, frame_index: int) -> bool:
        return self.start_frame <= frame_index < self.end_frame


class SyntheticCamera:
    """A fixed camera on one scene; ``frames(n)`` yields ``(frame_index, image, labels)``."""

    def __init__(
        self,
        scene: str,
        seed: int,
        fps: float = 10.0,
        condition: str = "day",
        event_schedule: Sequence[ScheduledEvent | tuple[str, int, int]] = (),
        *,
        size_hw: tuple[int, int] = (360, 640),
        noise_sigma: float = 1.5,
    ) -> None:
        schedule = tuple(s if isinstance(s, ScheduledEvent) else ScheduledEvent(*s) for s in event_schedule)
        for s in schedule:
            if s.start_frame < 0 or s.end_frame <= s.start_frame:
                raise SyntheticSceneError(f"scheduled event {s!r} needs 0 <= start_frame < end_frame; fix the frame indices")
        if fps <= 0:
            raise SyntheticSceneError(f"fps must be > 0, got {fps!r}")
        validate_request(scene, tuple(dict.fromkeys(s.event for s in schedule)), condition, size_hw)
        self.scene, self.seed, self.fps, self.condition = scene, int(seed), float(fps), condition
        self.event_schedule = schedule
        self.size_hw = (int(size_hw[0]), int(size_hw[1]))
        self.noise_sigma = float(noise_sigma)
        self._background, self._zones = render_background(scene, self.seed, self.size_hw)
        self._cache: dict[tuple[str, ...], tuple[np.ndarray, tuple[EventLabel, ...]]] = {}

    def active_events(self, frame_index: int) -> tuple[str, ...]:
        return tuple(dict.fromkeys(s.event for s in self.event_schedule if s.active(frame_index)))

    def _clean(self, events: tuple[str, ...]) -> tuple[np.ndarray, tuple[EventLabel, ...]]:
        if events not in self._cache:
            img = self._background.copy()
            labels = place_events(img, self._zones, self.scene, events, self.seed)
            # the condition's own randomness is per camera, not per frame: the light does not flicker
            self._cache[events] = (apply_condition(img, self.condition, d.rng_for(self.seed, "condition", self.condition)), labels)
        return self._cache[events]

    def frame(self, frame_index: int) -> tuple[np.ndarray, tuple[EventLabel, ...]]:
        clean, labels = self._clean(self.active_events(frame_index))
        if self.noise_sigma <= 0:
            return clean.copy(), labels
        rng = d.rng_for(self.seed, "sensor", frame_index)
        noise = rng.normal(0.0, self.noise_sigma, size=clean.shape).astype(np.float32)
        return np.clip(clean.astype(np.float32) + noise, 0, 255).astype(np.uint8), labels

    def frames(self, n: int, *, start: int = 0) -> Iterator[tuple[int, np.ndarray, tuple[EventLabel, ...]]]:
        for i in range(start, start + int(n)):
            img, labels = self.frame(i)
            yield i, img, labels

    def write_video(self, path: str | Path, n_frames: int) -> Path:
        """Write ``n_frames`` to ``path`` (.avi as MJPG, .mp4 as mp4v), atomically."""
        p = Path(path)
        fourcc = _FOURCC_BY_SUFFIX.get(p.suffix.lower())
        if fourcc is None:
            raise SyntheticSceneError(f"video path {str(p)!r} must end in one of {sorted(_FOURCC_BY_SUFFIX)}")
        tmp = p.with_name(f".{p.stem}.tmp{p.suffix}")
        h, w = self.size_hw
        writer = cv2.VideoWriter(str(tmp), cv2.VideoWriter_fourcc(*fourcc), self.fps, (w, h))
        if not writer.isOpened():
            raise SyntheticSceneError(f"OpenCV cannot open a {fourcc} writer for {str(p)!r}; try the other suffix ({sorted(_FOURCC_BY_SUFFIX)})")
        try:
            for _, img, _ in self.frames(n_frames):
                writer.write(img)
        finally:
            writer.release()
        tmp.replace(p)
        log.info("synthetic video written scene=%s seed=%d frames=%d path=%s", self.scene, self.seed, n_frames, p)
        return p
