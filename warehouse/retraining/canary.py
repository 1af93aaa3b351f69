"""Canary policy, as pure functions over plain counts (the control plane and the loop call them).

- :func:`choose_canary_cameras`: which cameras running an algorithm get the canary version
  (a stable, seeded choice; never all of them, so production keeps a comparison).
- :func:`decide_canary`: compare canary and production *on the same live frames* (the
  canary cameras run both; ``agreement`` is the share of frames where they decide alike)
  and with operators' feedback (precision of each one's alerts) -> promote / keep / roll back.
- :func:`should_roll_back`: after promotion, a version whose live precision falls below
  its predecessor's is rolled back automatically.

>>> choose_canary_cameras(["c1", "c2", "c3", "c4"], 0.25, seed=0)
['c4']
>>> obs = CanaryObservation(frames_compared=500, agreements=480, canary_confirmed=30, canary_rejected=2,
...                         production_confirmed=30, production_rejected=9)
>>> decide_canary(obs).action
'promote'
"""
from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass

from warehouse.errors import InvalidInputError


def choose_canary_cameras(cameras_running_algorithm: list[str], fraction: float, seed: int) -> list[str]:
    """ceil(fraction * n) cameras (at least 1, at most n - 1 when n > 1), chosen by a seeded hash; sorted."""
    if not 0 < fraction <= 1:
        raise InvalidInputError(f"canary fraction {fraction!r} must be in (0, 1], e.g. 0.1 for a tenth of the cameras")
    cams = sorted(set(cameras_running_algorithm))
    if not cams:
        return []
    k = max(1, math.ceil(fraction * len(cams)))
    if len(cams) > 1:
        k = min(k, len(cams) - 1)
    rank = sorted(cams, key=lambda c: hashlib.sha256(f"{seed}:{c}".encode()).hexdigest())
    return sorted(rank[:k])


@dataclass(frozen=True, slots=True)
class CanaryObservation:
    """Counts over the canary cameras since the canary started (both versions saw every frame)."""

    frames_compared: int
    agreements: int
    canary_confirmed: int
    canary_rejected: int
    production_confirmed: int
    production_rejected: int
    confirmed_missed_by_canary: int = 0  # production alerts operators confirmed on which the canary stayed silent

    def __post_init__(self) -> None:
        for name in self.__dataclass_fields__:
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < 0:
                raise InvalidInputError(f"CanaryObservation.{name} must be a count >= 0, got {v!r}")
        if self.agreements > self.frames_compared:
            raise InvalidInputError(f"agreements {self.agreements} exceed frames_compared {self.frames_compared}")

    @property
    def agreement(self) -> float:
        return self.agreements / self.frames_compared if self.frames_compared else 1.0

    @staticmethod
    def _precision(conf: int, rej: int) -> float | None:
        return conf / (conf + rej) if conf + rej else None

    @property
    def canary_precision(self) -> float | None:
        return self._precision(self.canary_confirmed, self.canary_rejected)

    @property
    def production_precision(self) -> float | None:
        return self._precision(self.production_confirmed, self.production_rejected)


@dataclass(frozen=True, slots=True)
class CanaryPolicy:
    min_frames: int = 200
    min_feedback: int = 10  # operator verdicts on the canary's alerts before precision counts
    precision_margin: float = 0.0  # canary may not be worse than production by more than this
    max_confirmed_missed: float = 0.05  # share of production's confirmed alerts the canary may miss
    min_agreement: float = 0.5  # below this the versions disagree too much to promote without a reviewer


@dataclass(frozen=True, slots=True)
class CanaryVerdict:
    action: str  # "promote" | "keep" | "rollback"
    reasons: tuple[str, ...]

    def __str__(self) -> str:
        return f"{self.action}: " + "; ".join(self.reasons)


def decide_canary(obs: CanaryObservation, policy: CanaryPolicy = CanaryPolicy()) -> CanaryVerdict:
    """Promote when the canary is at least as precise and misses no confirmed events; roll back when worse."""
    cp, pp = obs.canary_precision, obs.production_precision
    fb = obs.canary_confirmed + obs.canary_rejected
    reasons = [f"agreement {obs.agreement:.3f} over {obs.frames_compared} frames",
               f"precision canary {_fmt(cp)} ({fb} verdicts) vs production {_fmt(pp)}"]
    lost = obs.confirmed_missed_by_canary / obs.production_confirmed if obs.production_confirmed else 0.0
    if fb >= policy.min_feedback and cp is not None and pp is not None and cp < pp - policy.precision_margin:
        return CanaryVerdict("rollback", (*reasons, "canary is less precise than production"))
    if obs.production_confirmed >= policy.min_feedback and lost > policy.max_confirmed_missed:
        return CanaryVerdict("rollback", (*reasons, f"canary missed {lost:.0%} of the events operators confirmed"))
    if obs.frames_compared < policy.min_frames or fb < policy.min_feedback:
        return CanaryVerdict("keep", (*reasons, f"need >= {policy.min_frames} frames and >= {policy.min_feedback} verdicts"))
    if obs.agreement < policy.min_agreement:
        return CanaryVerdict("keep", (*reasons, f"agreement under {policy.min_agreement}: ask a reviewer"))
    return CanaryVerdict("promote", (*reasons, "canary at least as precise, no confirmed events lost"))


def should_roll_back(*, promoted_confirmed: int, promoted_rejected: int, predecessor_precision: float | None,
                     min_feedback: int = 10, margin: float = 0.0) -> bool:
    """True when the promoted version's live precision (enough verdicts) fell below its predecessor's."""
    n = promoted_confirmed + promoted_rejected
    if predecessor_precision is None or n < min_feedback:
        return False
    return promoted_confirmed / n < predecessor_precision - margin


def _fmt(p: float | None) -> str:
    return "n/a" if p is None else f"{p:.3f}"
