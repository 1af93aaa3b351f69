"""Evidence readers as a cascade: a reader runs only where a head or detector that needs it fired.

An evidence reader (the text reader, the plate detector, the people counter) is far dearer
than the head whose alert it documents (PP-OCRv4 ~1-2 s of CPU on a full frame against
0.01 ms for a head). Like DeepStream's secondary inference, it runs only on the frames,
and inside the regions, where one of its *triggers* fired:

* a trigger is an algorithm id pattern (``fnmatch``, e.g. ``scene.*.illegal_parking``); it
  *fires* on a frame when its score reaches its threshold there (a head), or when it returns
  a detection its event mapping accepts (a detector of the stage, e.g. ``track.illegal_parking``);
* ``crop_from``: read inside the boxes another detector found on the same frame (the text
  reader reads the plate detector's plates after a parking head fired); when that detector
  did not run on the frame, inside the trigger's own box; a trigger box covering most of the
  frame (a scene head's) means the whole frame;
* while its triggers keep firing, the reader re-reads the regions it has read at most every
  ``reread_s`` seconds (DeepStream's ``secondary-reinfer-interval``), and reads a *new* region
  (one overlapping none it read since its last full read by IoU ``new_region_iou`` or more: a
  second car's plate) at once, alone; never above its own rate (so a moving car's plate, whose
  box moves on, is read at the reader's rate, a parked one every ``reread_s``);
* on a camera that runs none of its triggers the reader is not a cascade there: it runs at
  its rate like any detector (the graph chose it for its own event);
* ``hold_s`` > 0 makes a *wake-up* cascade (Focus's cheap-then-expensive ingest): the algorithm
  runs at its rate, on the whole frame, for ``hold_s`` after the last frame a trigger fired (a
  tracker needs consecutive frames: the parking rule follows the car for minutes after the
  cheap parking head woke it).

The decisions are pure functions over plain data; :class:`runtime.DetectorStage` calls them.

>>> c = Cascade.of({"scene.*.illegal_parking": "detector.plate_haar", "scene.*.illegal_banner": None})
>>> c.triggers_on(["scene.road.illegal_parking", "scene.road.fire"])
('scene.road.illegal_parking',)
>>> fired = {"scene.road.illegal_parking": [Detection(score=0.9, xyxy=(0, 0, 640, 360))]}
>>> plates = {"detector.plate_haar": [Detection(label="plate", score=0.8, xyxy=(100, 200, 160, 220))]}
>>> reader_regions(c, fired, plates, image_wh=(640, 360))
((94.0, 198.0, 166.0, 222.0),)
>>> reader_regions(c, {}, plates, image_wh=(640, 360)) is None    # no trigger fired: the reader does not run
True
"""
from __future__ import annotations

import fnmatch
import math
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np

from runtime.detection import XYXY, Detection
from runtime.detectors.base import DetectorError


class CascadeConfigError(DetectorError, ValueError):
    """A cascade rule the stage cannot use; the message names the value and the fix."""


@dataclass(frozen=True, slots=True)
class CascadeTrigger:
    """One way a reader is started: ``pattern`` fired; read inside ``crop_from``'s boxes (or the trigger's)."""

    pattern: str
    crop_from: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.pattern, str) or not self.pattern:
            raise CascadeConfigError(f"trigger pattern {self.pattern!r}; expected an algorithm id or fnmatch pattern, "
                                     "e.g. 'scene.*.illegal_parking'")
        if self.crop_from is not None and (not isinstance(self.crop_from, str) or not self.crop_from):
            raise CascadeConfigError(f"crop_from={self.crop_from!r}; expected a detector's algorithm id or None")


@dataclass(frozen=True, slots=True)
class Cascade:
    """When (and where) one evidence reader runs; see the module doc.

    ``margin``: crops grow by this fraction of the box on each side (a plate's edge);
    ``whole_frame_share``: a trigger box covering at least this share of the frame is read
    as the whole frame; ``reread_s``: least seconds between two reads while triggers keep
    firing (for regions read before); ``new_region_iou``: a region overlapping every region
    read since the last full read by less than this is new and read at once (1: any box not
    exactly one read before is new);
    ``hold_s``: a wake-up cascade (module doc), ``reread_s`` then does not apply.
    """

    triggers: tuple[CascadeTrigger, ...]
    margin: float = 0.1
    whole_frame_share: float = 0.5
    reread_s: float = 10.0
    min_crop_px: int = 8
    hold_s: float = 0.0
    new_region_iou: float = 0.5

    def __post_init__(self) -> None:
        trig = tuple(self.triggers)
        if not trig or not all(isinstance(t, CascadeTrigger) for t in trig):
            raise CascadeConfigError(f"triggers={self.triggers!r}; expected at least one CascadeTrigger "
                                     "(or build with Cascade.of({'scene.*.illegal_parking': 'detector.plate_haar'}))")
        object.__setattr__(self, "triggers", trig)
        for name, v, lo, hi in (("margin", self.margin, 0.0, 2.0), ("whole_frame_share", self.whole_frame_share, 0.0, 1.0),
                                ("reread_s", self.reread_s, 0.0, 86400.0), ("hold_s", self.hold_s, 0.0, 86400.0),
                                ("new_region_iou", self.new_region_iou, 0.0, 1.0)):
            if not (isinstance(v, (int, float)) and math.isfinite(v) and lo <= v <= hi):
                raise CascadeConfigError(f"{name}={v!r}; expected a number in [{lo:g}, {hi:g}]")
        if not (isinstance(self.min_crop_px, int) and self.min_crop_px >= 1):
            raise CascadeConfigError(f"min_crop_px={self.min_crop_px!r}; expected an int >= 1")

    @classmethod
    def of(cls, triggers: "Mapping[str, Any] | Iterable[str | tuple[str, str | None]]", **kwargs) -> "Cascade":
        """From plain data: ``{pattern: crop_from or None}``, patterns / ``(pattern, crop_from)``
        pairs, or ``{"triggers": {pattern: crop_from}, "hold_s": 300, ...}`` (the knowledge
        graph's ``evidence_cascades()`` form; the other keys are this class's fields)."""
        if isinstance(triggers, Cascade):
            return triggers
        if isinstance(triggers, Mapping) and "triggers" in triggers:
            extra = {k: v for k, v in triggers.items() if k != "triggers"}
            unknown = set(extra) - {"margin", "whole_frame_share", "reread_s", "min_crop_px", "hold_s", "new_region_iou"}
            if unknown:
                raise CascadeConfigError(f"cascade keys {sorted(unknown)} are unknown; use triggers, margin, whole_frame_share, "
                                         "reread_s, min_crop_px, hold_s, new_region_iou")
            return cls.of(triggers["triggers"], **{**extra, **kwargs})
        items = triggers.items() if isinstance(triggers, Mapping) else [(t, None) if isinstance(t, str) else tuple(t) for t in triggers]
        return cls(tuple(CascadeTrigger(p, c) for p, c in items), **kwargs)

    @property
    def patterns(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(t.pattern for t in self.triggers))

    def matches(self, algorithm_id: str) -> bool:
        return any(fnmatch.fnmatchcase(algorithm_id, p) for p in self.patterns)

    def triggers_on(self, algorithm_ids: Iterable[str]) -> tuple[str, ...]:
        """The ids among ``algorithm_ids`` (a camera's algorithms) that trigger this reader."""
        return _matching(self.patterns, tuple(sorted(set(algorithm_ids))))

    @property
    def reread_fps(self) -> float:
        return math.inf if self.reread_s <= 0 else 1.0 / self.reread_s


@lru_cache(maxsize=4096)
def _matching(patterns: tuple[str, ...], ids: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(a for a in ids if any(fnmatch.fnmatchcase(a, p) for p in patterns))


def fired_boxes(cascade: Cascade, fired: Mapping[str, Sequence[Detection]]) -> dict[str, tuple[CascadeTrigger, list[Detection]]]:
    """The fired algorithms that trigger ``cascade`` (id -> (its rule, its firing detections))."""
    out: dict[str, tuple[CascadeTrigger, list[Detection]]] = {}
    for alg, dets in fired.items():
        if not dets:
            continue
        for t in cascade.triggers:
            if fnmatch.fnmatchcase(alg, t.pattern):
                out[alg] = (t, list(dets))
                break
    return out


def reader_regions(cascade: Cascade, fired: Mapping[str, Sequence[Detection]], results: Mapping[str, Sequence[Detection]],
                   *, image_wh: tuple[int, int], assigned: Collection[str] = ()) -> tuple[XYXY, ...] | None:
    """Where the reader reads on this frame (pure): ``None`` when none of its triggers fired;
    else the crops (``xyxy`` in frame pixels, clipped, merged when identical), the whole
    frame being ``(0, 0, w, h)``. ``fired``: algorithm id -> its firing detections on this
    frame; ``results``: what the stage's detectors returned on this frame (for ``crop_from``).
    A ``crop_from`` detector that ran and found nothing leaves nothing to read for that trigger;
    so does one the camera runs (``assigned``) that did not run on this frame (the plate
    detector re-reads less often than the trigger fires: no fresh plates, nothing to read);
    one the camera does not run leaves the trigger's own box.
    """
    hits = fired_boxes(cascade, fired)
    if not hits:
        return None
    w, h = float(image_wh[0]), float(image_wh[1])
    whole = (0.0, 0.0, w, h)
    regions: list[XYXY] = []
    for _alg, (trig, dets) in sorted(hits.items()):
        if trig.crop_from is not None and trig.crop_from in results:
            boxes = [d.xyxy for d in results[trig.crop_from]]  # the plates it found (none: nothing to read)
        elif trig.crop_from is not None and trig.crop_from in assigned:
            boxes = []  # the camera's plate detector did not run on this frame: no plates to read
        else:
            boxes = [d.xyxy for d in dets]
        for b in boxes:
            bw, bh = max(0.0, b[2] - b[0]), max(0.0, b[3] - b[1])
            if bw * bh >= cascade.whole_frame_share * w * h:
                regions.append(whole)
                continue
            mx, my = bw * cascade.margin, bh * cascade.margin
            c = (max(0.0, float(math.floor(b[0] - mx))), max(0.0, float(math.floor(b[1] - my))),
                 min(w, float(math.ceil(b[2] + mx))), min(h, float(math.ceil(b[3] + my))))
            if c[2] - c[0] >= cascade.min_crop_px and c[3] - c[1] >= cascade.min_crop_px:
                regions.append(c)
    if whole in regions:
        return (whole,)
    return tuple(dict.fromkeys(regions))


def new_regions(regions: Sequence[XYXY], read: Sequence[XYXY], *, iou: float = 0.5) -> tuple[XYXY, ...]:
    """The regions of ``regions`` that overlap every region the reader has read (``read``) by
    less than ``iou``: what it has not read yet (pure).

    >>> new_regions([(100, 200, 160, 220)], [(102, 201, 161, 221)])   # the same plate
    ()
    >>> new_regions([(100, 200, 160, 220), (400, 210, 460, 230)], [(100, 200, 160, 220)])  # a second car
    ((400, 210, 460, 230),)
    """
    if not regions or not read:
        return tuple(regions)
    import supervision as sv  # imported on first use: the runtime's import stays light

    overlap = sv.box_iou_batch(np.asarray(regions, np.float64), np.asarray(read, np.float64))
    return tuple(r for r, best in zip(regions, overlap.max(axis=1)) if best < iou)


def fired_of(results: Mapping[str, Sequence[Detection]], accepts: Mapping[str, object]) -> dict[str, list[Detection]]:
    """The stage detectors that fired on a frame: the detections their event mapping accepts
    (``accepts[alg]`` is an :class:`~runtime.detector_stage.EventMapping` or ``None`` = all)."""
    out: dict[str, list[Detection]] = {}
    for alg, dets in results.items():
        m = accepts.get(alg)
        kept = [d for d in dets if m is None or m.accepts(d)]
        if kept:
            out[alg] = kept
    return out


def cascade_order(cascades: Mapping[str, Cascade]) -> tuple[str, ...]:
    """Readers in an order where each ``crop_from`` source runs before the readers that crop from it."""
    deps = {r: {t.crop_from for t in c.triggers if t.crop_from in cascades} | {a for a in cascades if a != r and c.matches(a)}
            for r, c in cascades.items()}
    order: list[str] = []
    left = dict(deps)
    while left:
        ready = sorted(r for r, d in left.items() if not (d - set(order)))
        if not ready:  # a cycle of readers triggering each other: break it by id
            ready = [min(left)]
        for r in ready:
            order.append(r)
            left.pop(r)
    return tuple(order)


def offset_detections(dets: Sequence[Detection], crop: XYXY) -> list[Detection]:
    """Detections found in a crop, moved back into the frame's pixels."""
    import dataclasses

    ox, oy = crop[0], crop[1]
    out = []
    for d in dets:
        x0, y0, x1, y1 = d.xyxy
        lm = None if d.landmarks is None else tuple((x + ox, y + oy) for x, y in d.landmarks)
        out.append(dataclasses.replace(d, xyxy=(x0 + ox, y0 + oy, x1 + ox, y1 + oy), landmarks=lm))
    return out


__all__ = ["Cascade", "CascadeConfigError", "CascadeTrigger", "cascade_order", "fired_boxes", "fired_of", "new_regions",
           "offset_detections", "reader_regions"]
