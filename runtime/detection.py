"""The one ``Detection`` record of the runtime: detectors make it, the detector stage and the
tracker pass it on, the event logic reads it.

Built with keyword arguments only. ``label`` is the object class (``person``, ``car``,
``face``, ``text``...); an empty label marks a *frame-level* score (a scene head's output,
whose box is the whole frame). Detections with a label score in [0, 1] (raw SVM / boosting
margins go through a logistic first); a frame-level score need only be finite.

>>> d = Detection(label="person", score=0.8, xyxy=(10, 20, 74, 148))
>>> d.width_px, d.height_px, d.centre_xy
(64.0, 128.0, (42.0, 84.0))
>>> str(d)
'person 0.80 [10,20,74,148]'
>>> str(Detection(label="person", score=0.7, xyxy=(0, 0, 4, 4), track_id=3))
'person#3 0.70 [0,0,4,4]'
"""
from __future__ import annotations

import math
from dataclasses import dataclass

XYXY = tuple[float, float, float, float]


class InvalidDetectionError(ValueError):
    """A :class:`Detection` built with values out of range (the message names the value)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Detection:
    """One thing found in a frame (or one frame-level score), in that frame's pixel coordinates.

    ``model_version``: the version that produced it; ``text``: recognised text (OCR);
    ``landmarks``: (x, y) points (MTCNN: eyes, nose, mouth corners); ``track_id``: the
    tracker's id for the object across frames (``None`` until tracked).
    """

    label: str = ""
    score: float
    xyxy: XYXY
    model_version: str = ""
    text: str | None = None
    landmarks: tuple[tuple[float, float], ...] | None = None
    track_id: int | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.label, str):
            raise InvalidDetectionError(f"detection label {self.label!r} must be a string ('' for a frame-level score)")
        try:
            score = float(self.score)
        except (TypeError, ValueError):
            raise InvalidDetectionError(f"detection score {self.score!r} is not a number") from None
        if not math.isfinite(score):
            raise InvalidDetectionError(f"detection score {self.score!r} is not a finite number")
        if self.label and not (0.0 <= score <= 1.0):
            raise InvalidDetectionError(f"detection score {self.score!r} is outside [0, 1] for label {self.label!r}; "
                                        "squash raw margins with a logistic")
        try:
            box = tuple(float(v) for v in self.xyxy)
        except (TypeError, ValueError):
            raise InvalidDetectionError(f"detection xyxy {self.xyxy!r} must be 4 finite numbers (x1, y1, x2, y2)") from None
        if len(box) != 4 or not all(math.isfinite(v) for v in box) or box[2] < box[0] or box[3] < box[1]:
            raise InvalidDetectionError(f"detection xyxy {self.xyxy!r} must be 4 finite numbers with x2 >= x1 and y2 >= y1")
        object.__setattr__(self, "score", score)
        object.__setattr__(self, "xyxy", box)
        object.__setattr__(self, "model_version", str(self.model_version))
        if self.landmarks is not None:
            object.__setattr__(self, "landmarks", tuple((float(x), float(y)) for x, y in self.landmarks))
        if self.track_id is not None:
            if isinstance(self.track_id, bool) or int(self.track_id) != self.track_id:
                raise InvalidDetectionError(f"detection track_id {self.track_id!r} must be an integer or None")
            object.__setattr__(self, "track_id", int(self.track_id))

    @property
    def width_px(self) -> float:
        return self.xyxy[2] - self.xyxy[0]

    @property
    def height_px(self) -> float:
        return self.xyxy[3] - self.xyxy[1]

    @property
    def centre_xy(self) -> tuple[float, float]:
        return ((self.xyxy[0] + self.xyxy[2]) / 2.0, (self.xyxy[1] + self.xyxy[3]) / 2.0)

    @property
    def bottom_centre_xy(self) -> tuple[float, float]:
        """Where the object touches the ground (zones and lines test this point)."""
        return ((self.xyxy[0] + self.xyxy[2]) / 2.0, self.xyxy[3])

    def to_dict(self) -> dict:
        """Plain JSON-able dict (lists for tuples; ``None`` fields left out)."""
        d: dict = {"label": self.label, "score": self.score, "xyxy": list(self.xyxy)}
        if self.model_version:
            d["model_version"] = self.model_version
        if self.text is not None:
            d["text"] = self.text
        if self.landmarks is not None:
            d["landmarks"] = [list(p) for p in self.landmarks]
        if self.track_id is not None:
            d["track_id"] = self.track_id
        return d

    def __str__(self) -> str:
        box = ",".join(f"{v:.0f}" for v in self.xyxy)
        text = f" {self.text!r}" if self.text is not None else ""
        track = f"#{self.track_id}" if self.track_id is not None else ""
        return f"{self.label or 'frame'}{track} {self.score:.2f} [{box}]{text}"
