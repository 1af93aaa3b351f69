"""Lifecycle rules of a model version, as a pure function over stages.

candidate -> canary -> production -> retired. Canary is optional (candidate -> production is
allowed, for versions gated offline); a retired version may go back to production (rollback).

>>> from catalog.records import Stage
>>> check_transition(Stage.CANDIDATE, Stage.CANARY, version="a@v2")
>>> check_transition(Stage.RETIRED, Stage.CANARY, version="a@v2")
Traceback (most recent call last):
...
catalog.errors.StageTransitionError: cannot move a@v2 from retired to canary; allowed from retired: ['production']
"""
from __future__ import annotations

from catalog.errors import StageTransitionError
from catalog.records import Stage

ALLOWED: dict[Stage, frozenset[Stage]] = {
    Stage.CANDIDATE: frozenset({Stage.CANARY, Stage.PRODUCTION, Stage.RETIRED}),
    Stage.CANARY: frozenset({Stage.PRODUCTION, Stage.RETIRED}),
    Stage.PRODUCTION: frozenset({Stage.RETIRED}),
    Stage.RETIRED: frozenset({Stage.PRODUCTION}),
}


def check_transition(current: Stage, to: Stage, *, version: str) -> None:
    """Raise :class:`StageTransitionError` unless ``current -> to`` is allowed."""
    if to not in ALLOWED[current]:
        allowed = sorted(s.value for s in ALLOWED[current])
        raise StageTransitionError(
            f"cannot move {version} from {current.value} to {to.value}; allowed from {current.value}: {allowed}",
            value=to.value,
        )
