"""Change gating: skip frames that show nothing new, before they cost a backbone pass.

Each frame is reduced to a small blurred grayscale *signature* (96x54 by default). A frame
passes when the fraction of signature pixels that moved by more than ``pixel_delta`` grey
levels, against the *reference* (the signature of the last frame that passed), exceeds
``min_changed_fraction``. The global brightness shift is removed first (median of the
difference), so auto-exposure and dusk do not open the gate on their own.

Three rules keep events from being missed:
- the reference is the last *passed* frame, not the previous frame, so a slow change
  accumulates until it crosses the threshold;
- after a change, and after a stream's first frame, the next ``hold_frames`` frames pass
  too, so the event logic downstream (its persistence window, or k of n) sees more than one
  frame of a new, then static, object, and of one already in view when the stream starts;
- a keyframe passes at least every ``keyframe_every`` frames whatever happens.

>>> import numpy as np
>>> gate = ChangeGate(hold_frames=0)
>>> still = np.full((180, 320, 3), 90, np.uint8)
>>> [gate.decide(still).reason for _ in range(3)]
['first', 'static', 'static']
>>> moved = still.copy(); moved[60:120, 100:140] = 250
>>> gate.decide(moved).reason
'change'
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from runtime.streams.base import StreamConfigError


def frame_signature(image: np.ndarray, *, size_wh: tuple[int, int] = (96, 54)) -> np.ndarray:
    """HxWx3 (BGR) or HxW uint8 image -> small blurred grayscale float32 signature."""
    if not isinstance(image, np.ndarray) or image.ndim not in (2, 3) or image.size == 0:
        shape = getattr(image, "shape", type(image).__name__)
        raise StreamConfigError(f"frame_signature got an image of shape {shape}; expected HxWx3 BGR or HxW uint8")
    gray = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY) if image.ndim == 3 else image
    small = cv2.resize(gray, size_wh, interpolation=cv2.INTER_AREA)
    return cv2.GaussianBlur(small, (3, 3), 0).astype(np.float32)


def change_score(signature: np.ndarray, reference: np.ndarray, *, pixel_delta: float = 10.0) -> float:
    """Fraction of signature pixels that changed by more than ``pixel_delta`` grey levels,
    after removing the global brightness shift."""
    if signature.shape != reference.shape:
        raise StreamConfigError(
            f"signature shape {signature.shape} != reference shape {reference.shape}; build both with the same size_wh"
        )
    diff = signature - reference
    diff -= np.median(diff)
    return float(np.count_nonzero(np.abs(diff) > pixel_delta)) / diff.size


@dataclass(frozen=True, slots=True)
class GateDecision:
    passed: bool
    reason: str  # first | change | hold | keyframe | static
    score: float


class ChangeGate:
    """Per-camera gate (keep one per camera; it holds that camera's reference)."""

    def __init__(self, *, min_changed_fraction: float = 0.002, pixel_delta: float = 10.0,
                 size_wh: tuple[int, int] = (96, 54), keyframe_every: int = 50, hold_frames: int = 2) -> None:
        if not 0 <= min_changed_fraction < 1:
            raise StreamConfigError(f"min_changed_fraction={min_changed_fraction!r}; expected 0 <= value < 1, e.g. 0.002")
        if pixel_delta <= 0:
            raise StreamConfigError(f"pixel_delta={pixel_delta!r}; expected grey levels > 0, e.g. 10")
        if keyframe_every < 1 or hold_frames < 0:
            raise StreamConfigError(
                f"keyframe_every={keyframe_every!r}, hold_frames={hold_frames!r}; expected keyframe_every >= 1, hold_frames >= 0"
            )
        if len(size_wh) != 2 or min(size_wh) < 4:
            raise StreamConfigError(f"size_wh={size_wh!r}; expected (width, height) of at least 4 pixels each")
        self.min_changed_fraction = min_changed_fraction
        self.pixel_delta = pixel_delta
        self.size_wh = (int(size_wh[0]), int(size_wh[1]))
        self.keyframe_every = keyframe_every
        self.hold_frames = hold_frames
        self._reference: np.ndarray | None = None
        self._since_pass = 0
        self._hold_left = 0
        self.offered = 0
        self.passed = 0

    @property
    def skip_rate(self) -> float:
        return 0.0 if self.offered == 0 else 1.0 - self.passed / self.offered

    def reset(self) -> None:
        """Forget the reference (after a reconnect the scene may have moved)."""
        self._reference = None
        self._hold_left = 0

    def decide(self, image: np.ndarray) -> GateDecision:
        sig = frame_signature(image, size_wh=self.size_wh)
        self.offered += 1
        if self._reference is None:  # a stream's first frame (or the first after a reset) is a change too
            self._hold_left = self.hold_frames
            return self._pass(sig, "first", 1.0)
        score = change_score(sig, self._reference, pixel_delta=self.pixel_delta)
        if score > self.min_changed_fraction:
            self._hold_left = self.hold_frames
            return self._pass(sig, "change", score)
        if self._hold_left > 0:
            self._hold_left -= 1
            return self._pass(sig, "hold", score)
        self._since_pass += 1
        if self._since_pass >= self.keyframe_every:
            return self._pass(sig, "keyframe", score)
        return GateDecision(False, "static", score)

    def _pass(self, sig: np.ndarray, reason: str, score: float) -> GateDecision:
        self._reference = sig
        self._since_pass = 0
        self.passed += 1
        return GateDecision(True, reason, score)
