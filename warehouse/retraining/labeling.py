"""Labelers: who answers "is event E in this frame?" for mined frames.

- :class:`SimulatedLabeler` reads the synthetic ground truth (a mapping or the frame pool's
  exact labels) and counts every answer it gives: the demo and the benchmarks use it in
  place of people, and report ``labels_given``.
- :class:`GroundTruthLabeler` is the same over a :class:`~warehouse.framepool.FramePool`.
- People work through the labeling queue (:mod:`warehouse.retraining.queue`, routes under
  ``/labeling``); :class:`QueueLabeler` waits for their answers.

>>> lab = SimulatedLabeler({"a": True, "b": False})
>>> lab.label(["a", "b"], event_type="smoke"), lab.labels_given
({'a': True, 'b': False}, 2)
"""
from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Protocol

from warehouse.errors import InvalidInputError
from warehouse.framepool import FramePool


class Labeler(Protocol):
    name: str

    def label(self, frame_ids: list[str], *, event_type: str) -> dict[str, bool]: ...


class SimulatedLabeler:
    """Answers from exact labels; ``truth`` maps frame id -> bool, or frame id -> event ids present."""

    def __init__(self, truth: Mapping[str, object], *, name: str = "simulated-labeler") -> None:
        self.truth, self.name = truth, name
        self.labels_given = 0
        self._lock = threading.Lock()

    def label(self, frame_ids: list[str], *, event_type: str) -> dict[str, bool]:
        out = {}
        for f in frame_ids:
            if f not in self.truth:
                raise InvalidInputError(f"frame {f!r} has no exact label; send it to the human labeling queue instead")
            t = self.truth[f]
            out[f] = bool(t) if isinstance(t, (bool, int)) else event_type in t  # type: ignore[operator]
        with self._lock:
            self.labels_given += len(out)
        return out


class GroundTruthLabeler:
    """The synthetic generator's exact labels kept with each retained frame (counts answers too)."""

    def __init__(self, pool: FramePool, *, name: str = "synthetic-ground-truth") -> None:
        self.pool, self.name = pool, name
        self.labels_given = 0

    def label(self, frame_ids: list[str], *, event_type: str) -> dict[str, bool]:
        out = {}
        for f in self.pool.frames(ids=frame_ids):
            if f.truth is None:
                raise InvalidInputError(
                    f"frame {f.frame_id!r} (camera {f.camera_id!r}) has no exact labels; send it to the human "
                    "labeling queue instead of the ground-truth labeler"
                )
            out[f.frame_id] = event_type in f.truth
        self.labels_given += len(out)
        return out
