"""What a worker is told to run for one camera: plain data the control plane sends, the worker applies.

A camera's work is its heads on the shared backbone (each at a version and a frame rate)
and its real detectors (each at a rate); ``revision`` is a digest of the content, so the
control plane can tell "this worker already runs exactly this" without comparing fields.

>>> w = CameraWork.build("cam-1", heads=[HeadWork("scene.road.smoke", "3", fps=2.0, artifact_sha256="ab" * 32)])
>>> w.head("scene.road.smoke").version, len(w.revision)
('3', 16)
"""
from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping

from runtime.streams.base import StreamConfigError

CANARY_SUFFIX = "@canary"


@dataclass(frozen=True, slots=True)
class HeadWork:
    """One head on a camera: ``version`` of ``algorithm_id`` at ``fps`` (0: every frame that passes the gate).

    ``canary``: this camera runs the algorithm's canary version (it sits in the bank beside
    production under its own slot). ``size_mib``: the head's measured memory (for residency).
    ``window_s`` / ``window_share``: the head's persistence window for its event (stream
    seconds; the control plane sets it from the catalog's event taxonomy,
    ``catalog.event_persistence``); ``None``: the frame-count rule, ``k`` of the last ``n``
    scored frames (runtime.EventPolicy).
    """

    algorithm_id: str
    version: str
    fps: float = 0.0
    artifact_sha256: str = ""
    threshold: float | None = None
    canary: bool = False
    size_mib: float = 0.05
    k: int = 2
    n: int = 3
    cooldown_s: float = 30.0
    window_s: float | None = None
    window_share: float = 0.8

    def __post_init__(self) -> None:
        if not self.algorithm_id or not str(self.version):
            raise StreamConfigError(f"head work {self.algorithm_id!r}@{self.version!r} needs an algorithm id and a version")
        if not (math.isfinite(self.fps) and 0 <= self.fps <= 1000):
            raise StreamConfigError(f"head work {self.algorithm_id}: fps={self.fps!r}; expected 0 <= fps <= 1000")
        if self.window_s is not None and not (math.isfinite(self.window_s) and 0 < self.window_s <= 3600):
            raise StreamConfigError(f"head work {self.algorithm_id}: window_s={self.window_s!r}; expected seconds in (0, 3600] or None")
        if not (0 < self.window_share <= 1):
            raise StreamConfigError(f"head work {self.algorithm_id}: window_share={self.window_share!r}; expected a share in (0, 1]")
        object.__setattr__(self, "version", str(self.version))

    @property
    def slot(self) -> str:
        """The head bank's key: the algorithm id, or ``{id}@canary`` for a canary version."""
        return self.algorithm_id + CANARY_SUFFIX if self.canary else self.algorithm_id


@dataclass(frozen=True, slots=True)
class CameraWork:
    camera_id: str
    heads: tuple[HeadWork, ...] = ()
    detectors: tuple[tuple[str, float], ...] = ()  # (algorithm_id, fps; 0 = the detector's own rate)
    zones: Mapping[str, Any] = field(default_factory=dict)
    revision: str = ""

    @classmethod
    def build(cls, camera_id: str, *, heads: Iterable[HeadWork] = (), detectors: Mapping[str, float] | None = None,
              zones: Mapping[str, Any] | None = None) -> "CameraWork":
        hs = tuple(sorted(heads, key=lambda h: h.algorithm_id))
        ds = tuple(sorted((str(a), float(f)) for a, f in (detectors or {}).items()))
        dup = [h.algorithm_id for i, h in enumerate(hs) if i and hs[i - 1].algorithm_id == h.algorithm_id]
        if dup:
            raise StreamConfigError(f"camera {camera_id!r} lists head {dup[0]!r} twice; give each algorithm once")
        body = json.dumps([camera_id, [[h.algorithm_id, h.version, h.fps, h.artifact_sha256, h.threshold, h.canary,
                                        h.k, h.n, h.cooldown_s, h.window_s, h.window_share] for h in hs], ds, dict(zones or {})],
                          sort_keys=True, default=str)
        return cls(camera_id, hs, ds, dict(zones or {}), hashlib.sha256(body.encode()).hexdigest()[:16])

    def head(self, algorithm_id: str) -> HeadWork:
        for h in self.heads:
            if h.algorithm_id == algorithm_id:
                return h
        raise StreamConfigError(f"camera {self.camera_id!r} runs no head {algorithm_id!r}; it runs {[h.algorithm_id for h in self.heads]}")

    @property
    def algorithm_ids(self) -> tuple[str, ...]:
        return tuple(h.algorithm_id for h in self.heads) + tuple(a for a, _ in self.detectors)


__all__ = ["CANARY_SUFFIX", "CameraWork", "HeadWork"]
