"""Labeling: who answers "is event E in this frame?" for mined frames.

``GroundTruthLabeler`` answers from the synthetic generator's exact labels kept with each
retained frame; it stands in for a human labeler in the demo and tests and refuses frames
that have no exact labels (real cameras go to the human labeling queue instead).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from warehouse.errors import InvalidInputError
from warehouse.framepool import FramePool


class Labeler(Protocol):
    name: str

    def label(self, frame_ids: list[str], *, event_type: str) -> dict[str, bool]: ...


@dataclass(frozen=True, slots=True)
class GroundTruthLabeler:
    pool: FramePool
    name: str = "synthetic-ground-truth"

    def label(self, frame_ids: list[str], *, event_type: str) -> dict[str, bool]:
        out = {}
        for f in self.pool.frames(ids=frame_ids):
            if f.truth is None:
                raise InvalidInputError(
                    f"frame {f.frame_id!r} (camera {f.camera_id!r}) has no exact labels; send it to the human "
                    "labeling queue instead of the ground-truth labeler"
                )
            out[f.frame_id] = event_type in f.truth
        return out
