"""The promotion gate: a pure decision over metrics, so it is testable without a cluster."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class GateDecision:
    passed: bool
    reasons: tuple[str, ...]

    def __str__(self) -> str:
        return ("PASS" if self.passed else "FAIL") + ": " + "; ".join(self.reasons)


def gate(*, candidate_f1: float, production_f1: float | None, mistakes_fixed: int, mistakes_total: int,
         max_f1_drop: float = 0.02, min_fixed_fraction: float = 0.5) -> GateDecision:
    """A candidate must not lose held-out F1 (beyond ``max_f1_drop``) and must fix the mistakes it was trained on."""
    reasons, ok = [], True
    if production_f1 is not None:
        if candidate_f1 + max_f1_drop < production_f1:
            ok = False
            reasons.append(f"held-out F1 {candidate_f1:.3f} < production {production_f1:.3f} - {max_f1_drop}")
        else:
            reasons.append(f"held-out F1 {candidate_f1:.3f} vs production {production_f1:.3f}")
    else:
        reasons.append(f"held-out F1 {candidate_f1:.3f} (no production version)")
    if mistakes_total:
        frac = mistakes_fixed / mistakes_total
        if frac < min_fixed_fraction:
            ok = False
        reasons.append(f"fixes {mistakes_fixed}/{mistakes_total} reported mistakes (need {min_fixed_fraction:.0%})")
    return GateDecision(ok, tuple(reasons))
