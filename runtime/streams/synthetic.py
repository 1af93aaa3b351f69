"""A synthetic camera: a static scene with sensor noise and scheduled events.

``synthetic://road?seed=3&fps=10&n=300&events=pothole:40-60,200-230`` is a 300-frame
camera at 10 fps whose frames 40..59 and 200..229 show an event. The scene is static
otherwise, which is what change gating must exploit; the schedule is the ground truth the
gating benchmark checks against.

Scenes of the taxonomy (``road``, ``seafront``, ...) are drawn by ``catalog.synthetic``
(events must be that scene's event types; ``object`` or no kind picks the scene's first
one); any other scene name uses :func:`simple_renderer` (a coloured object crossing a
fixed background).

>>> src = SyntheticSource("test-street", camera_id="syn-1", n_frames=3, event_schedule=[ScheduledEvent(1, 2)])
>>> [ev.frame_index for ev in src.frames()]
[0, 1, 2]
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Callable, Iterator, Sequence

import cv2
import numpy as np

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


@dataclass(frozen=True, slots=True)
class ScheduledEvent:
    """An event visible on frames ``start_frame <= i < end_frame``."""

    start_frame: int
    end_frame: int
    kind: str = "object"

    def __post_init__(self) -> None:
        if not (0 <= self.start_frame < self.end_frame):
            raise StreamConfigError(
                f"event frames [{self.start_frame}, {self.end_frame}) are empty or negative; "
                "expected 0 <= start_frame < end_frame, e.g. events=40-60"
            )

    def active(self, frame_index: int) -> bool:
        return self.start_frame <= frame_index < self.end_frame


def parse_schedule(text: str) -> tuple[ScheduledEvent, ...]:
    """``"40-60,fire:200-230"`` -> two events (frame ranges, end exclusive, optional kind)."""
    out = []
    for part in filter(None, (p.strip() for p in text.split(","))):
        kind, _, rng = part.rpartition(":")
        a, sep, b = rng.partition("-")
        try:
            start, end = int(a), int(b)
        except ValueError:
            raise StreamConfigError(
                f"event schedule entry {part!r} is not START-END or KIND:START-END (frames); e.g. events=40-60,fire:90-120"
            ) from None
        out.append(ScheduledEvent(start, end, kind or "object"))
    return tuple(out)


# a renderer: (scene, frame_index, active events, seed) -> HxWx3 uint8 BGR
Renderer = Callable[[str, int, Sequence[ScheduledEvent], int], np.ndarray]


def _background(scene: str, seed: int, size_wh: tuple[int, int]) -> np.ndarray:
    w, h = size_wh
    rng = np.random.default_rng([seed, sum(scene.encode())])
    img = np.zeros((h, w, 3), np.uint8)
    top, bottom = rng.integers(60, 200, 3), rng.integers(30, 140, 3)
    for y in range(h):
        img[y] = (top + (bottom - top) * y / h).astype(np.uint8)
    for _ in range(12):  # "buildings", "kerbs": static structure the gate must learn to ignore
        x0, y0 = int(rng.integers(0, w - 20)), int(rng.integers(h // 4, h - 10))
        x1, y1 = x0 + int(rng.integers(10, w // 4)), y0 + int(rng.integers(5, h // 3))
        cv2.rectangle(img, (x0, y0), (min(x1, w - 1), min(y1, h - 1)), tuple(int(c) for c in rng.integers(0, 255, 3)), -1)
    return img


def simple_renderer(size_wh: tuple[int, int] = (320, 180), noise_sigma: float = 3.0) -> Renderer:
    """A fallback renderer (OpenCV shapes): fixed background, Gaussian sensor noise per
    frame, and for each active event a coloured object crossing the frame."""
    cache: dict[tuple[str, int], np.ndarray] = {}

    def render(scene: str, frame_index: int, events: Sequence[ScheduledEvent], seed: int) -> np.ndarray:
        bg = cache.get((scene, seed))
        if bg is None:
            bg = cache[(scene, seed)] = _background(scene, seed, size_wh)
        img = bg.copy()
        w, h = size_wh
        for k, ev in enumerate(events):
            t = (frame_index - ev.start_frame) / max(1, ev.end_frame - ev.start_frame)
            cx, cy = int(w * (0.15 + 0.7 * t)), int(h * (0.45 + 0.1 * k))
            bw, bh = w // 10, h // 4
            cv2.rectangle(img, (cx - bw // 2, cy - bh // 2), (cx + bw // 2, cy + bh // 2), (20, 40, 230), -1)
        if noise_sigma > 0:
            rng = np.random.default_rng([seed, frame_index])
            img = np.clip(img.astype(np.int16) + rng.normal(0, noise_sigma, img.shape).astype(np.int16), 0, 255)
            img = img.astype(np.uint8)
        return img

    return render


def catalog_renderer(condition: str = "day", size_hw: tuple[int, int] = (360, 640),
                     noise_sigma: float = 1.5) -> Renderer:
    """A renderer over ``catalog.synthetic.SyntheticCamera`` (one camera per scene and seed)."""
    from catalog import load_taxonomy
    from catalog.synthetic import SyntheticCamera

    pairs = load_taxonomy().scene_event_pairs()
    cams: dict[tuple[str, int, tuple[str, ...]], SyntheticCamera] = {}

    def render(scene: str, frame_index: int, events: Sequence[ScheduledEvent], seed: int) -> np.ndarray:
        allowed = [e for sc, e in pairs if sc == scene]
        kinds = tuple(dict.fromkeys(allowed[0] if ev.kind == "object" and allowed else ev.kind for ev in events))
        key = (scene, seed, kinds)
        cam = cams.get(key)
        if cam is None:
            # one always-on schedule per event set; the source decides when events are active
            cam = cams[key] = SyntheticCamera(scene, seed, 10.0, condition, [(k, 0, 1 << 30) for k in kinds],
                                              size_hw=size_hw, noise_sigma=noise_sigma)
        return cam.frame(frame_index)[0]

    return render


def catalog_scenes() -> tuple[str, ...]:
    """Scene names that ``catalog.synthetic`` can draw (empty if it is not installed)."""
    try:
        from catalog.synthetic import SCENE_PAINTERS
    except ImportError:
        return ()
    return tuple(SCENE_PAINTERS)


class SyntheticSource(TrackedSource):
    """Frames of a synthetic scene. ``n_frames=None`` runs until ``close()``."""

    def __init__(self, scene: str, *, camera_id: str, seed: int = 0, fps: float = 10.0, n_frames: int | None = None,
                 event_schedule: Sequence[ScheduledEvent] = (), realtime: bool = False,
                 renderer: Renderer | None = None, start_ms: int = 0) -> None:
        if not scene:
            raise StreamConfigError("synthetic source needs a scene name, e.g. synthetic://street?seed=1")
        if n_frames is not None and n_frames < 0:
            raise StreamConfigError(f"n_frames={n_frames!r}; expected None (endless) or >= 0")
        self.camera_id = camera_id
        self.scene = scene
        self.seed = int(seed)
        self.url = f"synthetic://{scene}?seed={seed}&fps={fps}"
        self._fps = check_fps(fps, self.url)
        self.n_frames = n_frames
        self.event_schedule = tuple(event_schedule)
        self._realtime, self._start_ms = realtime, start_ms
        if renderer is None:
            renderer = catalog_renderer() if scene in catalog_scenes() else simple_renderer()
        self._render = renderer
        self._health = HealthTracker(camera_id)

    def render(self, frame_index: int) -> np.ndarray:
        active = [ev for ev in self.event_schedule if ev.active(frame_index)]
        return self._render(self.scene, frame_index, active, self.seed)

    def frames(self) -> Iterator[FrameEvent]:
        i, t0, closed = 0, time.monotonic(), self._health.closed
        while not closed.is_set() and (self.n_frames is None or i < self.n_frames):
            if self._realtime:
                delay = t0 + i / self._fps - time.monotonic()
                if delay > 0:
                    closed.wait(delay)
            img = self.render(i)
            self._health.frame_read()
            labels = tuple(sorted({ev.kind for ev in self.event_schedule if ev.active(i)}))
            yield FrameEvent(self.camera_id, i, media_ts_ms(self._start_ms, i, self._fps), img, labels)
            i += 1
        self._health.update(state=HealthState.ENDED)
