"""Render one labelled synthetic frame: scene layout + events + condition.

Three independent random streams (background, each event, condition) are derived from the
seed, so the same scene and seed give the same background whatever events are added; the
label box of an event is measured from the pixels its painter actually changed.

>>> f = render_frame("road", events=("pothole",), seed=7, condition="rain")
>>> f.image.shape, f.labels[0].event
((360, 640, 3), 'pothole')
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import cv2
import numpy as np

from catalog.errors import CatalogError, TaxonomyError
from catalog.synthetic import _draw as d
from catalog.synthetic.conditions import CONDITIONS, apply_condition
from catalog.synthetic.events import STYLES
from catalog.synthetic.scenes import PAINTERS
from catalog.taxonomy import load_taxonomy

MAX_EVENTS_PER_FRAME = 4
_MIN_HW = (96, 128)


class SyntheticSceneError(CatalogError, ValueError):
    """A bad argument to the synthetic generator (condition, size, schedule)."""


@dataclass(frozen=True, slots=True)
class EventLabel:
    event: str
    xyxy: tuple[int, int, int, int]  # pixel box, x1/y1 exclusive, inside the frame


@dataclass(frozen=True, slots=True)
class SyntheticFrame:
    scene: str
    condition: str
    seed: int
    image: np.ndarray  # HxWx3 BGR uint8
    labels: tuple[EventLabel, ...]

    @property
    def events(self) -> tuple[str, ...]:
        return tuple(lb.event for lb in self.labels)


def validate_request(scene: str, events: Sequence[str], condition: str, size_hw: tuple[int, int]) -> None:
    """Raise TaxonomyError / SyntheticSceneError for anything render_frame cannot draw."""
    tax = load_taxonomy()
    tax.require_scene(scene)
    for ev in events:
        et = tax.require_event(ev)
        if scene not in et.scenes:
            raise TaxonomyError(
                f"event {ev!r} is not allowed in scene {scene!r}; it happens in {list(et.scenes)} "
                "(see catalog/taxonomy.yaml); pick one of those scenes or another event",
                value=(scene, ev),
            )
    if len(set(events)) != len(events) or len(events) > MAX_EVENTS_PER_FRAME:
        raise SyntheticSceneError(f"events {list(events)!r} must be distinct and at most {MAX_EVENTS_PER_FRAME}; drop the repeats")
    if condition not in CONDITIONS:
        raise SyntheticSceneError(f"unknown condition {condition!r}; use one of {CONDITIONS}")
    if len(size_hw) != 2 or size_hw[0] < _MIN_HW[0] or size_hw[1] < _MIN_HW[1]:
        raise SyntheticSceneError(f"size_hw {tuple(size_hw)!r} is too small; give (height, width) of at least {_MIN_HW}")


def render_background(scene: str, seed: int, size_hw: tuple[int, int]) -> tuple[np.ndarray, dict[str, d.Rect]]:
    h, w = int(size_hw[0]), int(size_hw[1])
    img = np.zeros((h, w, 3), np.uint8)
    zones = PAINTERS[scene](img, d.rng_for(seed, "background", scene))
    return img, zones


def place_events(img: np.ndarray, zones: dict[str, d.Rect], scene: str, events: Sequence[str], seed: int) -> tuple[EventLabel, ...]:
    """Draw the events on ``img`` in place and return their measured labels."""
    h, w = img.shape[:2]
    chosen = [(ev, next((z for z in STYLES[ev].zones if z in zones), "ground")) for ev in events]
    labels: list[EventLabel] = []
    for ev, zone in chosen:
        rng = d.rng_for(seed, "event", scene, ev)
        style = STYLES[ev]
        sharing = [e for e, z in chosen if z == zone]
        k, n = sharing.index(ev), len(sharing)
        zx0, zy0, zx1, zy1 = zones[zone]
        sx0 = zx0 + (zx1 - zx0) * k / n
        sx1 = zx0 + (zx1 - zx0) * (k + 1) / n
        bw = min(w * rng.uniform(*style.w_frac), sx1 - sx0)
        bh = h * rng.uniform(*style.h_frac)
        bx0 = rng.uniform(sx0, max(sx0, sx1 - bw))
        if style.anchor == "inside":
            bh = min(bh, zy1 - zy0)
            by0 = rng.uniform(zy0, max(zy0, zy1 - bh))
        else:  # stands on the zone's lower part, may rise above it
            by1 = rng.uniform(zy0 + 0.65 * (zy1 - zy0), zy1)
            by0 = max(0.0, by1 - bh)
        box = (bx0, by0, bx0 + bw, by0 + bh)
        before = img.copy()
        style.painter(img, rng, box)
        # bounding box of every changed channel value: view the diff as H x (W*3) for boundingRect
        diff = cv2.absdiff(img, before).reshape(h, w * 3)
        x, y, bw3, bh_ = cv2.boundingRect(diff)
        if bw3 == 0 or bh_ == 0:  # a painter must always draw something; fail loudly in tests
            raise SyntheticSceneError(f"event {ev!r} drew nothing in scene {scene!r} (seed {seed}); its painter is broken")
        labels.append(EventLabel(ev, (x // 3, y, (x + bw3 - 1) // 3 + 1, y + bh_)))
    return tuple(labels)


def render_frame(
    scene: str,
    *,
    events: Sequence[str] = (),
    seed: int,
    condition: str = "day",
    size_hw: tuple[int, int] = (360, 640),
) -> SyntheticFrame:
    """Render a frame of ``scene`` with ``events`` under ``condition``; same arguments, same bytes.

    >>> render_frame("seafront", events=("boat_in_restricted_zone",), seed=1).labels[0].xyxy[0] >= 0
    True
    """
    events = tuple(events)
    validate_request(scene, events, condition, size_hw)
    img, zones = render_background(scene, seed, size_hw)
    labels = place_events(img, zones, scene, events, seed)
    out = apply_condition(img, condition, d.rng_for(seed, "condition", condition))
    return SyntheticFrame(scene, condition, int(seed), out, labels)
