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
  or readout runs. Costed the way the runtime runs them (:class:`CostModel`): an evidence
  reader (text reader, plate detector, people counter) whose triggers are in the set runs as
  a cascade, only on the frames where one of them fires, so it costs its per-frame cost x
  the share of frames it runs on; the triggers' own cost is counted as theirs. The same
  model costs the selected set, every baseline and the every-algorithm set (which runs its
  readers as a cascade too). ``compute_saved_always_on`` is the former figure (every reader
  on every frame), kept for comparison.

A selector is any ``(camera, at) -> ordered algorithm ids`` (best first); a budget cuts a
selection, in its own order, to at most a given cost (recall *at equal or lower cost*).
"""
from __future__ import annotations

import fnmatch
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache

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
    """Measured cost per frame of each algorithm (ms) and of the shared backbone pass, and how
    often a cascaded evidence reader runs.

    A frame is one the camera's algorithms run on (the graph's baseline rate, 1 fps). A reader
    runs on a frame when one of its triggers in the set fires there: on the real occurrences
    of the triggers' events (the synthetic city's rates, ``event_duration_s`` long each, one
    read at the start and one per ``reread_s`` while it lasts -- the runtime's ``Cascade``; a
    reader's own ``reread_s`` from the ontology where it sets one),
    and on false firings: each trigger is over its threshold without its event on
    ``false_fire_share`` of frames (see BENCHMARKS.md for where the figure comes from). A
    wake-up cascade (``hold_s`` > 0) runs on every frame from a firing until ``hold_s`` after
    it. Algorithms sharing a source detector (the track algorithms on NanoDet) pay its cost
    once, on the frames where any of them runs.
    """

    algorithm_ms: Mapping[str, float]
    backbone_ms: float
    source: str = "measured"
    false_fire_share: float = 1e-4  # measured: robust heads on vtest's held-out half (BENCHMARKS.md)
    event_duration_s: float = 300.0
    reread_s: float = 10.0
    frame_fps: float = 1.0

    def of(self, ids: Sequence[str], kinds: Mapping[str, str]) -> float:
        """Every algorithm of ``ids`` on every frame (readers always on: the former model)."""
        if not ids:
            return 0.0
        bb = self.backbone_ms if any(kinds.get(a) in BACKBONE_KINDS for a in ids) else 0.0
        return bb + sum(self.algorithm_ms.get(a, 0.0) for a in ids)

    def reads_per_occurrence(self, reread_s: float | None = None) -> float:
        """Reads of one occurrence (one object, read again every ``reread_s`` while it lasts)."""
        r = self.reread_s if reread_s is None else reread_s
        return 1.0 + (self.event_duration_s / r if r > 0 else self.event_duration_s * self.frame_fps)


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
    compute_saved_always_on: float = 0.0  # the former model: every reader on every frame
    every_cost_ms: float = 0.0  # mean cost of every algorithm on this camera (same model)


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
        self.all_cost = costs.of(self.production, self.kinds)  # readers always on (the former model)
        self._deps = {a: {d for d, _c, _r in index.dependency_closure(a)} for a in ont.algorithms}
        # the runtime's cascade rules, from the same ontology: algorithm -> (trigger patterns, hold_s, reread_s)
        self.rules = {a: (tuple(r["triggers"]), float(r["hold_s"]), float(r.get("reread_s", costs.reread_s)))
                      for a, r in index.cascade_rules().items()}
        self.sources = {a: index.shared_sources_of(a) for a in ont.algorithms}
        self._every: dict[tuple[str, int, int], float] = {}

    def needs(self, algorithm_id: str) -> set[str]:
        """Every algorithm ``algorithm_id`` depends on (the ontology's dependency closure)."""
        return set(self._deps.get(algorithm_id, ()))

    def triggers(self, algorithm_id: str, selected: Sequence[str]) -> tuple[str, ...]:
        """The algorithms of ``selected`` that start ``algorithm_id`` (the runtime's ``Cascade.triggers_on``)."""
        rule = self.rules.get(algorithm_id)
        return _matching(rule[0], tuple(selected)) if rule else ()

    def run_share(self, cam: CityCamera, triggers: Sequence[str], at: datetime, hold_s: float = 0.0,
                  reread_s: float | None = None) -> float:
        """Share of frames a cascade started by ``triggers`` runs on at ``at`` (see :class:`CostModel`;
        ``reread_s``: the reader's, default the cost model's)."""
        c = self.costs
        events = set().union(*(self.events.get(t, frozenset()) for t in triggers))
        occ_per_s = 0.0
        for e in events:  # whoever fires, one occurrence starts the cascade once
            t = cam.truth(e)
            if t is not None and t.occurs_at_hour(at.hour):
                hours = 24 if t.hours is None else (t.hours[1] - t.hours[0]) % 24 or 24
                occ_per_s += t.rate_per_day / (hours * 3600.0)
        if hold_s > 0:  # awake from each firing until hold_s after it
            true_share = occ_per_s * (c.event_duration_s + hold_s)
            false_share = len(triggers) * c.false_fire_share * hold_s * c.frame_fps
        else:  # one read at the start, one per reread_s while it lasts
            true_share = occ_per_s * c.reads_per_occurrence(reread_s) / c.frame_fps
            false_share = 1.0 - (1.0 - c.false_fire_share) ** len(triggers)
        return min(1.0, true_share + false_share)

    def shares(self, cam: CityCamera, selected: Sequence[str], at: datetime) -> dict[str, float]:
        """Share of frames each selected algorithm runs on (1: always; less: a cascade)."""
        out = {}
        for a in selected:
            trig = self.triggers(a, selected)
            # on a camera with none of its triggers a cascade runs always, as in the runtime
            out[a] = self.run_share(cam, trig, at, self.rules[a][1], self.rules[a][2]) if trig else 1.0
        return out

    def cost(self, cam: CityCamera, selected: Sequence[str], at: datetime) -> float:
        """Per-frame cost of ``selected`` on ``cam`` at ``at``, cascades and shared sources as the runtime runs them."""
        return sum(self.breakdown(cam, selected, at).values())

    def breakdown(self, cam: CityCamera, selected: Sequence[str], at: datetime) -> dict[str, float]:
        """:meth:`cost` by what pays it: ``"backbone"``, each selected algorithm (its cost x the
        share of frames it runs on) and each shared source not itself selected (one pass on the
        frames any of its algorithms runs); the values sum to :meth:`cost`."""
        sel = list(dict.fromkeys(selected))
        if not sel:
            return {}
        share = self.shares(cam, sel, at)
        ms = self.costs.algorithm_ms
        out = {"backbone": self.costs.backbone_ms if any(self.kinds.get(a) in BACKBONE_KINDS for a in sel) else 0.0}
        out.update({a: ms.get(a, 0.0) * share[a] for a in sel})
        by_source: dict[str, float] = {}
        for a in sel:  # one pass of a source serves all its algorithms: on the frames any of them runs
            for src in self.sources.get(a, ()):
                if src not in sel:
                    by_source[src] = 1.0 - (1.0 - by_source.get(src, 0.0)) * (1.0 - share[a])
        out.update({src: ms.get(src, 0.0) * min(1.0, s) for src, s in by_source.items()})
        return out

    def every_cost(self, cam: CityCamera, at: datetime) -> float:
        """:meth:`cost` of every algorithm any camera could need (its readers a cascade too)."""
        key = (cam.camera_id, at.hour, at.weekday())
        hit = self._every.get(key)
        if hit is None:
            hit = self._every[key] = self.cost(cam, self.production, at)
        return hit

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

    def cut(self, ordered: Sequence[str], budget_ms: float, cam: CityCamera, at: datetime) -> list[str]:
        """The longest prefix (in the selector's own order) costing at most ``budget_ms``
        (:meth:`cost`); an algorithm that would overflow is skipped and cheaper later ones
        are still taken."""
        out: list[str] = []
        for a in ordered:
            if self.cost(cam, [*out, a], at) <= budget_ms + 1e-9:
                out.append(a)
        return out


@lru_cache(maxsize=65536)
def _matching(patterns: tuple[str, ...], ids: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(a for a in ids if any(fnmatch.fnmatchcase(a, p) for p in patterns))


def score_camera(judge: Judge, cam: CityCamera, selector: Selector, times: Sequence[datetime],
                 budget: Callable[[CityCamera, datetime], float] | None = None) -> CameraScore:
    weights = occurrence_weights(cam, [t.hour for t in times])
    covered = {e: 0.0 for e in weights}
    precisions, costs, sizes, always_on, every = [], [], [], [], []
    for i, at in enumerate(times):
        sel = list(dict.fromkeys(selector(cam, at)))
        if budget is not None:
            sel = judge.cut(sel, budget(cam, at), cam, at)
        detected = set().union(*(judge.events.get(a, frozenset()) for a in sel)) if sel else set()
        for e, w in weights.items():
            if e in detected:
                covered[e] += float(w[i])
        precisions.append(len(judge.useful(cam, sel, at)) / len(sel) if sel else 1.0)
        costs.append(judge.cost(cam, sel, at))
        every.append(judge.every_cost(cam, at))
        always_on.append(judge.costs.of(sel, judge.kinds))
        sizes.append(len(sel))
    recall = float(np.mean(list(covered.values()))) if covered else 1.0
    rare = [covered[e.event] for e in cam.events if e.rare]
    cost, every_cost = float(np.mean(costs)), float(np.mean(every))
    return CameraScore(cam.camera_id, cam.scene, recall, float(np.mean(rare)) if rare else None, float(np.mean(precisions)),
                       1.0 - cost / every_cost if every_cost > 0 else 0.0, cost, float(np.mean(sizes)),
                       tuple(sorted(e for e, c in covered.items() if c < 1.0 - 1e-9)),
                       1.0 - float(np.mean(always_on)) / judge.all_cost if judge.all_cost > 0 else 0.0, every_cost)


def score_cameras(judge: Judge, cams: Sequence[CityCamera], selector: Selector, times: Sequence[datetime],
                  budget: Callable[[CityCamera, datetime], float] | None = None) -> list[CameraScore]:
    return [score_camera(judge, c, selector, times, budget) for c in cams]


def summarize(scores: Sequence[CameraScore]) -> dict[str, float]:
    """Means over cameras and 5th percentiles (the worst cameras), rounded for JSON."""
    def col(name: str) -> np.ndarray:
        return np.array([getattr(s, name) for s in scores if getattr(s, name) is not None], np.float64)

    out: dict[str, float] = {}
    for name in ("recall", "precision", "compute_saved", "compute_saved_always_on"):
        v = col(name)
        out[name] = round(float(v.mean()), 4) if len(v) else float("nan")
        out[f"{name}_p5"] = round(float(np.percentile(v, 5)), 4) if len(v) else float("nan")
    rare = col("rare_recall")
    out["rare_recall"] = round(float(rare.mean()), 4) if len(rare) else 1.0
    out["cost_ms"] = round(float(col("cost_ms").mean()), 3)
    out["every_algorithm_cost_ms"] = round(float(col("every_cost_ms").mean()), 3)
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
