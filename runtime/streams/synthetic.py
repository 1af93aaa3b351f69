"""A synthetic camera stream, drawn by the one scene generator (``catalog.synthetic``).

``synthetic://road?seed=3&fps=10&n=300&events=pothole:40-60,200-230`` is a 300-frame road
camera at 10 fps whose frames 40..59 show a pothole and frames 200..229 the road's first
event type (an entry without a name). The scene is static otherwise, which is what change
gating must exploit; the schedule is the ground truth: every frame carries the events it
shows as its ``labels``. ``condition`` (day, night, rain, fog) and ``realtime`` (pace
frames at ``fps``) are optional.

>>> src = SyntheticSource("road", camera_id="syn-1", n_frames=3, event_schedule=[ScheduledEvent("pothole", 1, 2)])
>>> [(ev.frame_index, ev.labels) for ev in src.frames()]
[(0, ()), (1, ('pothole',)), (2, ())]
"""
from __future__ import annotations

import logging
import time
from typing import Iterator, Sequence

import numpy as np

from catalog.synthetic import CONDITIONS, ScheduledEvent, SyntheticCamera
from runtime.streams.base import (
    FrameEvent,
    HealthState,
    HealthTracker,
    StreamConfigError,
    TrackedSource,
    check_fps,
    media_ts_ms,
)

log = logging.getLogger(__name__)

ANY_EVENT = ""  # a schedule entry without a name: the scene's first event type


def parse_schedule(text: str) -> tuple[ScheduledEvent, ...]:
    """``"40-60,fire:200-230"`` -> two events (frame ranges, end exclusive; a bare range is ``ANY_EVENT``)."""
    out = []
    for part in filter(None, (p.strip() for p in text.split(","))):
        kind, _, rng = part.rpartition(":")
        a, _, b = rng.partition("-")
        try:
            start, end = int(a), int(b)
        except ValueError:
            raise StreamConfigError(
                f"event schedule entry {part!r} is not START-END or EVENT:START-END (frames); e.g. events=40-60,fire:90-120"
            ) from None
        if not 0 <= start < end:
            raise StreamConfigError(f"event frames [{start}, {end}) are empty or negative (entry {part!r}); expected 0 <= START < END, e.g. events=40-60")
        out.append(ScheduledEvent(kind, start, end))
    return tuple(out)


def scene_events(scene: str) -> tuple[str, ...]:
    from catalog import load_taxonomy

    return tuple(e for sc, e in load_taxonomy().scene_event_pairs() if sc == scene)


def catalog_scenes() -> tuple[str, ...]:
    from catalog import load_taxonomy

    return tuple(load_taxonomy().scenes)


class SyntheticSource(TrackedSource):
    """Frames of a synthetic scene of the taxonomy. ``n_frames=None`` runs until ``close()``."""

    def __init__(self, scene: str, *, camera_id: str, seed: int = 0, fps: float = 10.0, n_frames: int | None = None,
                 event_schedule: Sequence[ScheduledEvent] = (), realtime: bool = False, condition: str = "day",
                 size_hw: tuple[int, int] = (360, 640), start_ms: int = 0) -> None:
        scenes = catalog_scenes()
        if scene not in scenes:
            raise StreamConfigError(f"synthetic scene {scene!r} is not a taxonomy scene; use one of {sorted(scenes)}, "
                                    "e.g. synthetic://road?seed=1")
        if condition not in CONDITIONS:
            raise StreamConfigError(f"synthetic condition {condition!r} is not one of {list(CONDITIONS)}")
        if n_frames is not None and n_frames < 0:
            raise StreamConfigError(f"n_frames={n_frames!r}; expected None (endless) or >= 0")
        events = scene_events(scene)
        schedule = []
        for ev in event_schedule:
            name = ev.event or (events[0] if events else "")
            if name not in events:
                raise StreamConfigError(f"event {name!r} does not happen in scene {scene!r}; its events are {list(events)}")
            schedule.append(ScheduledEvent(name, ev.start_frame, ev.end_frame))
        self.camera_id = camera_id
        self.scene = scene
        self.seed = int(seed)
        self.url = f"synthetic://{scene}?seed={seed}&fps={fps}"
        self._fps = check_fps(fps, self.url)
        self.n_frames = n_frames
        self.event_schedule = tuple(schedule)
        self._realtime, self._start_ms = realtime, start_ms
        self._camera = SyntheticCamera(scene, self.seed, self._fps, condition, self.event_schedule, size_hw=size_hw)
        self._health = HealthTracker(camera_id)

    def render(self, frame_index: int) -> np.ndarray:
        return self._camera.frame(frame_index)[0]

    def frames(self) -> Iterator[FrameEvent]:
        i, t0, closed = 0, time.monotonic(), self._health.closed
        while not closed.is_set() and (self.n_frames is None or i < self.n_frames):
            if self._realtime:
                delay = t0 + i / self._fps - time.monotonic()
                if delay > 0:
                    closed.wait(delay)
            img = self.render(i)
            self._health.frame_read()
            yield FrameEvent(self.camera_id, i, media_ts_ms(self._start_ms, i, self._fps), img,
                             self._camera.active_events(i))
            i += 1
        self._health.update(state=HealthState.ENDED)
