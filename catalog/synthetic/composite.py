"""Synthetic events composited onto real backgrounds, with exact labels.

The scene painters draw cartoon backgrounds; heads trained only on them have never seen real
scenery and fire on it. :func:`composite_frame` paints the generator's own event painters
(the same :data:`catalog.synthetic.EVENT_STYLES`) onto a *real* frame -- a video frame, a
photo -- so a head can learn "this event, on real pixels" apart from "real pixels, nothing
happening". Labels are measured exactly as in :func:`render_frame`: the box of every pixel
the painter changed.

A real picture has no scene layout, so events are placed in generic zones
(:func:`background_zones`): ``ground`` / ``road`` / ``walk`` / ``water`` in the lower part,
``wall`` in the middle band, ``upper`` at the top, jittered per seed. Each event goes to the
first of its preferred zones, as on synthetic scenes.

>>> import numpy as np
>>> bg = np.full((288, 384, 3), 90, np.uint8)
>>> f = composite_frame(bg, events=("smoke",), seed=3)
>>> f.events, f.condition, f.image.shape
(('smoke',), 'real', (288, 384, 3))
>>> x0, y0, x1, y1 = f.labels[0].xyxy
>>> bool((f.image[y0:y1, x0:x1] != 90).any()) and bool((f.image[:, :x0] == 90).all())
True
"""
from __future__ import annotations

from typing import Mapping, Sequence

import cv2
import numpy as np

from catalog.errors import TaxonomyError
from catalog.synthetic import _draw as d
from catalog.synthetic.conditions import CONDITIONS, apply_condition
from catalog.synthetic.frame import MAX_EVENTS_PER_FRAME, _MIN_HW, SyntheticFrame, SyntheticSceneError, place_events, validate_request
from catalog.taxonomy import load_taxonomy

REAL_CONDITION = "real"  # SyntheticFrame.condition of a composite left as the camera saw it
COMPOSITE_SCENE = "real"  # SyntheticFrame.scene when no scene is named
# zone name -> (x0, y0, x1, y1) as fractions of the frame, before the per-seed jitter
_ZONES = {
    "ground": (0.06, 0.42, 0.94, 1.0),
    "road": (0.1, 0.5, 0.9, 1.0),
    "walk": (0.04, 0.46, 0.7, 1.0),
    "water": (0.08, 0.55, 0.92, 0.97),
    "wall": (0.08, 0.08, 0.92, 0.5),
    "upper": (0.1, 0.02, 0.9, 0.38),
}


def background_zones(size_hw: tuple[int, int], seed: int) -> dict[str, d.Rect]:
    """Generic placement zones for a real frame of ``size_hw``, jittered by ``seed``.

    >>> sorted(background_zones((360, 640), 0))
    ['ground', 'road', 'upper', 'walk', 'wall', 'water']
    """
    h, w = int(size_hw[0]), int(size_hw[1])
    rng = d.rng_for(seed, "composite-zones")
    out = {}
    for name, (fx0, fy0, fx1, fy1) in _ZONES.items():
        dx, dy = rng.uniform(-0.04, 0.04), rng.uniform(-0.05, 0.05)
        x0, x1 = np.clip([fx0 + dx, fx1 + dx], 0.0, 1.0)
        y0, y1 = np.clip([fy0 + dy, fy1 + dy], 0.0, 1.0)
        out[name] = (int(x0 * w), int(y0 * h), max(int(x0 * w) + 8, int(x1 * w)), max(int(y0 * h) + 8, int(y1 * h)))
    return out


def _check_background(background: np.ndarray) -> np.ndarray:
    img = np.asarray(background)
    if img.ndim != 3 or img.shape[2] != 3 or img.dtype != np.uint8:
        raise SyntheticSceneError(f"background has shape/dtype {img.shape}/{img.dtype}; expected HxWx3 uint8 BGR "
                                  "(convert grey pictures with np.repeat(img[..., None], 3, axis=2))")  # fmt: skip
    if img.shape[0] < _MIN_HW[0] or img.shape[1] < _MIN_HW[1]:
        raise SyntheticSceneError(f"background of {img.shape[:2]} pixels is too small; give (height, width) of at least {_MIN_HW}")
    return img


def _check_events(events: tuple[str, ...], scene: str | None, size_hw: tuple[int, int]) -> None:
    if scene is not None:
        validate_request(scene, events, "day", size_hw)  # scene/event rules; the condition is checked apart
        return
    tax = load_taxonomy()
    for ev in events:
        tax.require_event(ev)
    if len(set(events)) != len(events) or len(events) > MAX_EVENTS_PER_FRAME:
        raise SyntheticSceneError(f"events {list(events)!r} must be distinct and at most {MAX_EVENTS_PER_FRAME}; drop the repeats")


def composite_frame(
    background: np.ndarray,
    *,
    events: Sequence[str] = (),
    seed: int,
    scene: str | None = None,
    condition: str | None = None,
    size_hw: tuple[int, int] | None = None,
    zones: Mapping[str, d.Rect] | None = None,
) -> SyntheticFrame:
    """Paint ``events`` onto a copy of the real ``background`` (BGR uint8); same inputs, same bytes.

    ``scene``: if given, the events must be allowed there (taxonomy rules, as for
    :func:`render_frame`); it only names the frame, the layout is the background's.
    ``condition``: one of :data:`CONDITIONS` applied after painting, or ``None`` to keep the
    picture's own light (the frame's condition is then ``"real"``). ``size_hw``: resize the
    background first. ``zones``: placement zones in pixels (default :func:`background_zones`).
    The background itself is never modified.
    """
    img = _check_background(background)
    if size_hw is not None:
        if len(size_hw) != 2 or size_hw[0] < _MIN_HW[0] or size_hw[1] < _MIN_HW[1]:
            raise SyntheticSceneError(f"size_hw {tuple(size_hw)!r} is too small; give (height, width) of at least {_MIN_HW}")
        img = cv2.resize(img, (int(size_hw[1]), int(size_hw[0])), interpolation=cv2.INTER_AREA)
    else:
        img = img.copy()
    events = tuple(events)
    if condition is not None and condition not in CONDITIONS:
        raise SyntheticSceneError(f"unknown condition {condition!r}; use one of {CONDITIONS} or None for the picture's own light")
    h, w = img.shape[:2]
    _check_events(events, scene, (h, w))
    zs = dict(zones) if zones is not None else background_zones((h, w), seed)
    if "ground" not in zs:
        raise TaxonomyError(f"zones {sorted(zs)} lack 'ground', the fallback zone of every event; add it", value=sorted(zs))
    name = scene or COMPOSITE_SCENE
    labels = place_events(img, zs, name, events, seed)
    if condition is not None:
        img = apply_condition(img, condition, d.rng_for(seed, "condition", condition))
    return SyntheticFrame(name, condition or REAL_CONDITION, int(seed), img, labels)
