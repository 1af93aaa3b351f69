"""Is a camera's algorithm set right? Recall, precision and compute saved against the city's truth.

Measured from facts the graph does not choose: which events really occur on the camera and
when (:mod:`knowledge_graph.evaluation.city`), what each catalog algorithm detects (its
record's event types), and what each costs (the measured cost profiles). Explanations are
never trusted here.

* **recall**: per occurring event, the share of its occurrences that fall at a time when a
  selected algorithm detects it; averaged over the camera's events, so a rare event weighs
  as much as a frequent one.
* **precision**: the share of selected algorithms that are of use on the camera: one of its
  events can occur there; or it is a scene-signal readout of the camera's real scene; or a
  selected useful algorithm needs it (ontology dependency); or a governance task that truly
  applies to the camera asks for it by name. Averaged over the evaluation times.
* **compute saved**: 1 - cost of the selected set / cost of every algorithm any camera could
  need (every production algorithm the graph can reach: :meth:`CompiledOntology.unreachable`
  lists the rest with reasons), per frame; the shared backbone counts once whenever a head
  or readout runs.

A selector is any ``(camera, at) -> ordered algorithm ids`` (best first); a budget cuts a
selection, in its own order, to at most a given cost (recall *at equal or lower cost*).
"""
from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np

from knowledge_graph.evaluation.city import CityCamera, occurrence_weights
from knowledge_graph.index import CompiledOntology

Selector = Callable[[CityCamera, datetime], Sequence[str]]
BACKBONE_KINDS = frozenset({"classification_head", "imagenet_readout"})


def evaluation_times(days: Sequence[datetime] = (datetime(2024, 5, 1), datetime(2024, 5, 4))) -> tuple[datetime, ...]:
    """Every hour (at :30) of a weekday and a Saturday: governance windows and night-only
    events are both exercised."""
    return tuple(d + timedelta(hours=h, minutes=30) for d in days for h in range(24))


@dataclass(frozen=True)
class CostModel:
    """Measured cost per frame of each algorithm (ms) and of the shared backbone pass."""

    algorithm_ms: Mapping[str, float]
    backbone_ms: float
    source: str = "measured"

    def of(self, ids: Sequence[str], kinds: Mapping[str, str]) -> float:
        if not ids:
            return 0.0
        bb = self.backbone_ms if any(kinds.get(a) in BACKBONE_KINDS for a in ids) else 0.0
        return bb + sum(self.algorithm_ms.get(a, 0.0) for a in ids)


@dataclass(frozen=True, slots=True)
class CameraScore:
    camera_id: str
    scene: str
    recall: float
    rare_recall: float | None  # None when the camera has no rare event
    precision: float
    compute_saved: float
    cost_ms: float  # mean selected cost per frame
    selected: float  # mean number of selected algorithms
    missed: tuple[str, ...]  # events with less than full coverage


class Judge:
    """The truth side: what is useful and what it costs, from the ontology's static facts."""

    def __init__(self, index: CompiledOntology, costs: CostModel) -> None:
        ont = index.ontology
        self.index = index
        self.costs = costs
        unreachable = index.unreachable()
        # every algorithm any camera could need: production, and reachable by some camera
        self.production = tuple(a for a, n in ont.algorithms.items() if n.production and a not in unreachable)
        self.kinds = {a: n.kind for a, n in ont.algorithms.items()}
        self.events = {a: frozenset(n.event_types) for a, n in ont.algorithms.items()}
        self.scene_tags = {a: frozenset(n.scene_tags) for a, n in ont.algorithms.items()}
        self.all_cost = costs.of(self.production, self.kinds)
        self._deps = {a: {d for d, _c, _r in index.dependency_closure(a)} for a in ont.algorithms}

    def task_algorithms(self, cam: CityCamera, at: datetime) -> frozenset[str]:
        """Algorithms a governance task that truly applies to the camera asks for by name now."""
        _by_event, links = self.index.active_tasks(cam.region, at.hour * 60 + at.minute, at.weekday())
        return frozenset(a for lk in links if lk.task.applies_to_scene(cam.scene) for a in lk.task.algorithms)

    def useful(self, cam: CityCamera, selected: Sequence[str], at: datetime) -> set[str]:
        occurring = cam.event_ids
        asked = self.task_algorithms(cam, at)
        base = {a for a in selected
                if self.events.get(a, frozenset()) & occurring
                or (self.kinds.get(a) == "imagenet_readout" and not self.events.get(a) and cam.scene in self.scene_tags.get(a, ()))
                or a in asked}
        needed = set().union(*(self._deps.get(a, set()) for a in base)) if base else set()
        return base | (needed & set(selected))

    def cut(self, ordered: Sequence[str], budget_ms: float) -> list[str]:
        """The longest prefix (in the selector's own order) costing at most ``budget_ms``;
        an algorithm that would overflow is skipped and cheaper later ones are still taken."""
        out: list[str] = []
        for a in ordered:
            if self.costs.of([*out, a], self.kinds) <= budget_ms + 1e-9:
                out.append(a)
        return out


def score_camera(judge: Judge, cam: CityCamera, selector: Selector, times: Sequence[datetime],
                 budget: Callable[[CityCamera, datetime], float] | None = None) -> CameraScore:
    weights = occurrence_weights(cam, [t.hour for t in times])
    covered = {e: 0.0 for e in weights}
    precisions, costs, sizes = [], [], []
    for i, at in enumerate(times):
        sel = list(dict.fromkeys(selector(cam, at)))
        if budget is not None:
            sel = judge.cut(sel, budget(cam, at))
        detected = set().union(*(judge.events.get(a, frozenset()) for a in sel)) if sel else set()
        for e, w in weights.items():
            if e in detected:
                covered[e] += float(w[i])
        precisions.append(len(judge.useful(cam, sel, at)) / len(sel) if sel else 1.0)
        costs.append(judge.costs.of(sel, judge.kinds))
        sizes.append(len(sel))
    recall = float(np.mean(list(covered.values()))) if covered else 1.0
    rare = [covered[e.event] for e in cam.events if e.rare]
    cost = float(np.mean(costs))
    return CameraScore(cam.camera_id, cam.scene, recall, float(np.mean(rare)) if rare else None, float(np.mean(precisions)),
                       1.0 - cost / judge.all_cost if judge.all_cost > 0 else 0.0, cost, float(np.mean(sizes)),
                       tuple(sorted(e for e, c in covered.items() if c < 1.0 - 1e-9)))


def score_cameras(judge: Judge, cams: Sequence[CityCamera], selector: Selector, times: Sequence[datetime],
                  budget: Callable[[CityCamera, datetime], float] | None = None) -> list[CameraScore]:
    return [score_camera(judge, c, selector, times, budget) for c in cams]


def summarize(scores: Sequence[CameraScore]) -> dict[str, float]:
    """Means over cameras and 5th percentiles (the worst cameras), rounded for JSON."""
    def col(name: str) -> np.ndarray:
        return np.array([getattr(s, name) for s in scores if getattr(s, name) is not None], np.float64)

    out: dict[str, float] = {}
    for name in ("recall", "precision", "compute_saved"):
        v = col(name)
        out[name] = round(float(v.mean()), 4) if len(v) else float("nan")
        out[f"{name}_p5"] = round(float(np.percentile(v, 5)), 4) if len(v) else float("nan")
    rare = col("rare_recall")
    out["rare_recall"] = round(float(rare.mean()), 4) if len(rare) else 1.0
    out["cost_ms"] = round(float(col("cost_ms").mean()), 3)
    out["algorithms_per_camera"] = round(float(col("selected").mean()), 2)
    out["cameras"] = len(scores)
    return out


WATER_OR_TUNNEL = ("seafront", "river_bank", "tunnel")


def algorithm_families(ontology, ids: Sequence[str]) -> dict[str, list[str]]:
    """Which chosen algorithms concern people, vehicles, or only water / tunnel scenes."""
    tax = ontology.taxonomy
    out: dict[str, list[str]] = {"people": [], "vehicles": [], "water_or_tunnel_only": []}
    for a in ids:
        node = ontology.algorithms[a]
        objs = {o for e in node.event_types for o in tax.events[e].objects} | set(node.objects)
        if "person" in objs or "face" in objs:
            out["people"].append(a)
        if objs & {"vehicle", "truck", "license_plate"}:
            out["vehicles"].append(a)
        scenes = set(node.scene_tags) or {s for e in node.event_types for s in tax.events[e].scenes}
        if scenes and scenes <= set(WATER_OR_TUNNEL):
            out["water_or_tunnel_only"].append(a)
    return out
