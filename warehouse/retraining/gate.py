"""The promotion gate: a pure verdict over held-out numbers (named apart from runtime's GateDecision).

Honest by construction (see :mod:`warehouse.retraining.holdout` for where the numbers come from):

- ``heldout``: the algorithm's fixed held-out set, disjoint from every frame trained on; the
  candidate may not lose more than ``max_f1_drop`` (1 point) of F1 there against production;
- ``mistake_like``: held-out frames *like the mistakes* (mined near them, labeled, never
  trained on); the candidate must gain there. The score is F1 when those frames hold
  positives, else specificity (a rejected false alarm's neighbours are mostly negatives, where
  F1 is undefined): :func:`mistake_like_score` computes it.

>>> v = promotion_verdict(heldout_f1=0.86, production_heldout_f1=0.865, mistake_like_score=0.8, production_mistake_like_score=0.5)
>>> v.passed, v.gain
(True, 0.3)
>>> promotion_verdict(heldout_f1=0.84, production_heldout_f1=0.86, mistake_like_score=0.9, production_mistake_like_score=0.5).passed
False
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class PromotionVerdict:
    passed: bool
    reasons: tuple[str, ...]
    heldout_f1: float
    production_heldout_f1: float | None
    mistake_like_score: float | None
    production_mistake_like_score: float | None
    n_heldout: int = 0
    n_mistake_like: int = 0

    @property
    def gain(self) -> float | None:
        if self.mistake_like_score is None or self.production_mistake_like_score is None:
            return None
        return round(self.mistake_like_score - self.production_mistake_like_score, 6)

    def numbers(self) -> dict[str, float]:
        """Finite numbers only, for the version's metrics (``gate_*``)."""
        out = {"gate_passed": float(self.passed), "gate_heldout_f1": self.heldout_f1, "gate_n_heldout": float(self.n_heldout),
               "gate_n_mistake_like": float(self.n_mistake_like)}
        for k, v in (("gate_production_heldout_f1", self.production_heldout_f1), ("gate_mistake_like_score", self.mistake_like_score),
                     ("gate_production_mistake_like_score", self.production_mistake_like_score), ("gate_gain", self.gain)):
            if v is not None:
                out[k] = float(v)
        return out

    def to_dict(self) -> dict:
        return {"passed": self.passed, "reasons": list(self.reasons), **self.numbers()}

    def __str__(self) -> str:
        return ("PASS" if self.passed else "FAIL") + ": " + "; ".join(self.reasons)


def mistake_like_score(pred: Any, y: Any) -> float | None:
    """F1 of ``pred`` against ``y`` when ``y`` has positives, else the share of negatives left silent."""
    import numpy as np

    pred, y = np.asarray(pred, bool), np.asarray(y).astype(int)
    if len(y) == 0:
        return None
    if y.sum() == 0:
        return float((~pred).mean())
    tp = int((pred & (y == 1)).sum())
    fp, fn = int((pred & (y == 0)).sum()), int((~pred & (y == 1)).sum())
    return 2 * tp / (2 * tp + fp + fn)


def promotion_verdict(*, heldout_f1: float, production_heldout_f1: float | None, mistake_like_score: float | None,
                      production_mistake_like_score: float | None, max_f1_drop: float = 0.01, min_gain: float = 0.0,
                      min_f1: float = 0.5, n_heldout: int = 0, n_mistake_like: int = 0) -> PromotionVerdict:
    """Pass iff no held-out regression beyond ``max_f1_drop`` and a gain > ``min_gain`` on mistake-like frames."""
    ok, reasons = True, []
    if production_heldout_f1 is None:
        if heldout_f1 < min_f1:
            ok = False
        reasons.append(f"held-out F1 {heldout_f1:.3f} on {n_heldout} frames (no production; need >= {min_f1})")
    else:
        drop = production_heldout_f1 - heldout_f1
        if drop > max_f1_drop + 1e-12:
            ok = False
        reasons.append(f"held-out F1 {heldout_f1:.3f} vs production {production_heldout_f1:.3f} on {n_heldout} frames "
                       f"(may drop <= {max_f1_drop:.2f})")
    if mistake_like_score is None:
        reasons.append("no held-out frames like the mistakes yet (gain not measured)")
        if production_heldout_f1 is not None:
            ok = False
    elif production_mistake_like_score is None:
        reasons.append(f"mistake-like score {mistake_like_score:.3f} on {n_mistake_like} frames")
    else:
        gain = mistake_like_score - production_mistake_like_score
        if gain <= min_gain:
            ok = False
        reasons.append(f"mistake-like score {mistake_like_score:.3f} vs production {production_mistake_like_score:.3f} on "
                       f"{n_mistake_like} frames (gain {gain:+.3f}, need > {min_gain:+.3f})")
    return PromotionVerdict(ok, tuple(reasons), float(heldout_f1), production_heldout_f1, mistake_like_score,
                            production_mistake_like_score, n_heldout, n_mistake_like)
