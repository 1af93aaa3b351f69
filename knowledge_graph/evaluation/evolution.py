"""Self-evolution, measured: cameras start from a wrong prior and simulated operators correct them.

Each simulated hour, on every simulated camera:

* every selected algorithm that detects events raises alerts: true ones when its event
  occurs (Poisson at the event's rate, in its hours), false alarms at
  ``false_alarms_per_day`` (look-alikes; far more for an algorithm whose event cannot occur
  here than for a useful one); operators review ``review_share`` of the alerts and confirm
  the true, reject the false;
* every occurring event that no selected algorithm covers at that hour may be seen by an
  inspector: ``report_share`` of its occurrences become reported misses.

The graph gets exactly those calls (``record_confirmation``, ``record_rejection``,
``record_miss``). After every corrective event (a rejection or a miss) the camera is scored
against the truth over the evaluation times; it has *recovered* when recall and precision
both reach their goals. Every change the graph made is kept with its reason, and
:func:`undo_all` shows each one can be reverted.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import numpy as np

from knowledge_graph.evaluation.city import CityCamera
from knowledge_graph.evaluation.metrics import Judge, score_camera
from knowledge_graph.evaluation.selectors import graph_selector
from knowledge_graph.graph import CityGraph
from knowledge_graph.journal import GraphChange


@dataclass(frozen=True, slots=True)
class OperatorModel:
    """Realistic rates (per algorithm and camera) of what operators and inspectors do."""

    false_alarms_per_day_useless: float = 1.5
    false_alarms_per_day_useful: float = 0.1
    review_share: float = 0.7
    report_share: float = 0.3


@dataclass(frozen=True, slots=True)
class Recovery:
    camera_id: str
    prior: str  # what was wrong at the start
    recovered: bool
    feedback_events: int  # rejections + reported misses fed to the graph before recovery
    confirmations: int  # true alerts confirmed meanwhile (fed too; they carry no correction)
    hours: float  # simulated time until recovery (or the horizon)
    recall: float
    precision: float
    changes: tuple[GraphChange, ...] = field(default=())

    def explained(self) -> bool:
        return all(ch.reason and ch.effect for ch in self.changes)


def simulate_recovery(graph: CityGraph, judge: Judge, cam: CityCamera, *, prior: str, times: Sequence[datetime],
                      operator: OperatorModel = OperatorModel(), seed: int = 0, horizon_days: float = 60.0,
                      start: datetime = datetime(2024, 5, 6), goal_recall: float = 0.98, goal_precision: float = 0.9) -> Recovery:
    """Run the operators on ``cam`` alone (already registered on ``graph`` with its wrong prior)."""
    return simulate_cameras(graph, judge, [cam], priors=[prior], times=times, operator=operator, seed=seed,
                            horizon_days=horizon_days, start=start, goal_recall=goal_recall, goal_precision=goal_precision)[0]


def simulate_cameras(graph: CityGraph, judge: Judge, cams: Sequence[CityCamera], *, priors: Sequence[str], times: Sequence[datetime],
                     operator: OperatorModel = OperatorModel(), seed: int = 0, horizon_days: float = 60.0,
                     start: datetime = datetime(2024, 5, 6), goal_recall: float = 0.98, goal_precision: float = 0.9) -> list[Recovery]:
    """Run the operators on several cameras of one graph at once, hour by hour (a change one
    camera's feedback causes may repair its neighbours). Each camera's count is the feedback
    fed about *it*; a camera repaired through a neighbour recovers with its own count."""
    select = graph_selector(graph)
    rngs = {c.camera_id: np.random.default_rng([seed, c.seed, 31]) for c in cams}
    first = {c.camera_id: len(graph.changes(c.camera_id)) for c in cams}
    feedback = {c.camera_id: 0 for c in cams}
    confirmations = {c.camera_id: 0 for c in cams}
    done: dict[str, Recovery] = {}
    last: dict[str, tuple[float, float]] = {}

    def check(c: CityCamera, hours: float) -> None:
        s = score_camera(judge, c, select, times)
        last[c.camera_id] = (s.recall, s.precision)
        if s.recall >= goal_recall and s.precision >= goal_precision:
            done[c.camera_id] = Recovery(c.camera_id, prior_of[c.camera_id], True, feedback[c.camera_id], confirmations[c.camera_id],
                                         hours, s.recall, s.precision, tuple(graph.changes(c.camera_id)[first[c.camera_id]:]))

    prior_of = {c.camera_id: p for c, p in zip(cams, priors)}
    for c in cams:
        check(c, 0.0)
    n_alert = 0
    for h in range(int(horizon_days * 24)):
        if len(done) == len(cams):
            break
        at = start + timedelta(hours=h)
        touched: set[str] = set()
        any_miss = False
        for c in cams:
            if c.camera_id in done:
                continue
            rng, truth = rngs[c.camera_id], {e.event: e for e in c.events}
            sel = select(c, at)
            useful = judge.useful(c, sel, at)
            detected: set[str] = set()
            for a in sel:
                evs = judge.events.get(a, frozenset())
                if not evs:
                    continue  # readouts of the scene and dependencies raise no alerts of their own
                detected |= evs
                true_n = sum(int(rng.poisson(truth[e].rate_per_day / 24)) for e in sorted(evs)
                             if e in truth and truth[e].occurs_at_hour(at.hour))
                fa_rate = operator.false_alarms_per_day_useful if a in useful else operator.false_alarms_per_day_useless
                for ok in [True] * true_n + [False] * int(rng.poisson(fa_rate / 24)):
                    if rng.random() >= operator.review_share:
                        continue
                    n_alert += 1
                    if ok:
                        graph.record_confirmation(c.camera_id, a, alert_id=f"{c.camera_id}:a{n_alert}")
                        confirmations[c.camera_id] += 1
                    else:
                        graph.record_rejection(c.camera_id, a, alert_id=f"{c.camera_id}:a{n_alert}")
                        feedback[c.camera_id] += 1
                        touched.add(c.camera_id)
            for e, t in truth.items():
                if e in detected or not t.occurs_at_hour(at.hour):
                    continue
                for _ in range(int(rng.poisson(t.rate_per_day / 24))):
                    if rng.random() < operator.report_share:
                        n_alert += 1
                        graph.record_miss(c.camera_id, e, miss_id=f"{c.camera_id}:m{n_alert}", at=at)
                        feedback[c.camera_id] += 1
                        any_miss = True
        # re-score the cameras that got a rejection this hour; after any miss, all of them
        # (a miss may reach a neighbour)
        for c in cams:
            if c.camera_id not in done and (any_miss or c.camera_id in touched):
                check(c, float(h + 1))
    out = []
    for c in cams:
        if c.camera_id in done:
            out.append(done[c.camera_id])
        else:
            r, p = last.get(c.camera_id, (0.0, 0.0))
            out.append(Recovery(c.camera_id, prior_of[c.camera_id], False, feedback[c.camera_id], confirmations[c.camera_id],
                                horizon_days * 24, r, p, tuple(graph.changes(c.camera_id)[first[c.camera_id]:])))
    return out


def undo_all(graph: CityGraph, changes: Sequence[GraphChange]) -> int:
    """Revert the corrective changes (newest first; not confirmations, not undos); return
    how many were undone. Used to show every change is reversible."""
    n = 0
    for ch in reversed(changes):
        if ch.kind in ("rejection", "miss_added", "scene_revised") and graph.undone_by(ch.change_id) is None:
            graph.undo(ch.change_id, reason="evaluation: showing the change is reversible")
            n += 1
    return n
