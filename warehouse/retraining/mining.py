"""Mining strategies: which retained frames are worth a labeler's time after a mistake.

A strategy is a small object with ``mine(...) -> list[frame_id]``; they are looked up by
name in a registry object that is passed in (never a global the caller cannot replace).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np

from catalog import LinearHead
from warehouse.errors import InvalidInputError
from warehouse.framepool import FramePool


class MiningStrategy(Protocol):
    name: str

    def mine(self, pool: FramePool, *, miss_frames: list[str], head: LinearHead | None, threshold: float,
             exclude: set[str], budget: int) -> list[str]: ...


@dataclass(frozen=True, slots=True)
class SimilarToMisses:
    """Frames nearest (cosine, backbone embedding) to the frames of the reported mistakes."""

    name: str = "similar"

    def mine(self, pool, *, miss_frames, head, threshold, exclude, budget):
        if not miss_frames or budget <= 0:
            return []
        ids, m = pool.matrix()
        if not ids:
            return []
        q = np.stack([pool.get(f).embedding for f in miss_frames])
        mn = m / (np.linalg.norm(m, axis=1, keepdims=True) + 1e-9)
        qn = q / (np.linalg.norm(q, axis=1, keepdims=True) + 1e-9)
        best = (mn @ qn.T).max(axis=1)  # similarity to the closest mistake
        out = []
        for i in np.argsort(-best):
            if ids[i] not in exclude:
                out.append(ids[i])
            if len(out) == budget:
                break
        return out


@dataclass(frozen=True, slots=True)
class UncertainUnderHead:
    """Frames the current head scores closest to its decision threshold."""

    name: str = "uncertain"

    def mine(self, pool, *, miss_frames, head, threshold, exclude, budget):
        if head is None or budget <= 0:
            return []
        ids, m = pool.matrix()
        if not ids:
            return []
        margin = np.abs(head.scores(m)[:, 0] - threshold)
        return [ids[i] for i in np.argsort(margin) if ids[i] not in exclude][:budget]


class MiningRegistry:
    def __init__(self, strategies: list[MiningStrategy] | None = None) -> None:
        self._by_name = {s.name: s for s in (strategies or [SimilarToMisses(), UncertainUnderHead()])}

    def get(self, name: str) -> MiningStrategy:
        try:
            return self._by_name[name]
        except KeyError:
            raise InvalidInputError(f"unknown mining strategy {name!r}; valid: {sorted(self._by_name)}") from None

    def names(self) -> list[str]:
        return sorted(self._by_name)


def mine(pool: FramePool, registry: MiningRegistry, plan: dict[str, int], *, miss_frames: list[str],
         head: LinearHead | None, threshold: float, exclude: set[str]) -> dict[str, list[str]]:
    """Run each strategy with its budget (``{"similar": 24, "uncertain": 8}``), no frame twice."""
    taken = set(exclude)
    out: dict[str, list[str]] = {}
    for name, budget in plan.items():
        got = registry.get(name).mine(pool, miss_frames=miss_frames, head=head, threshold=threshold, exclude=taken, budget=budget)
        out[name] = got
        taken.update(got)
    return out
