"""Compile an :class:`Ontology` into a networkx graph plus the indexes a query needs.

A per-camera query must not walk the graph: everything that does not depend on the camera
is precomputed here, once, per ontology version:

* per scene: the events that can happen there, each with its ranked candidate algorithms
  and the static explanation path ``scene -> event -> algorithm``;
* per scene / per region: the negative knowledge that applies;
* per region: the governance tasks that cover it (through its ancestors), with the path;
* per algorithm: the transitive dependencies, with the chain that pulls each one in, and
  which of them are evidence readers run as a cascade (only where the dependent fires);
* per zone / line kind: the track algorithms a camera with that drawing asks for.

Cameras are not nodes of the compiled graph (100,000 of them would dominate its memory);
:meth:`knowledge_graph.CityGraph.networkx` adds the ones you ask for.
"""
from __future__ import annotations

import fnmatch
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import networkx as nx

from knowledge_graph.schema import GovernanceTask, NegativeRule, Ontology
from knowledge_graph.timewindow import DAYS
from knowledge_graph.validate import cascaded_dependencies, resolved_dependencies


def node(kind: str, ident: str) -> str:
    """Graph node id, e.g. ``node("scene", "seafront") == "scene:seafront"``."""
    return f"{kind}:{ident}"


@dataclass(frozen=True, slots=True)
class EventSlot:
    """One event that can happen in a scene, and who can detect it there (best first)."""

    event: str
    candidates: tuple[str, ...]
    paths: tuple[tuple[str, ...], ...]  # per candidate: (scene node, event node, algorithm node)
    reasons: tuple[str, ...]  # per candidate, human text


@dataclass(frozen=True, slots=True)
class TaskLink:
    """A task covering a region, and the region chain that links them."""

    task: GovernanceTask
    path: tuple[str, ...]  # region:r, region:parent, ..., task:t
    region: str  # the task's region that matched


@dataclass(frozen=True, slots=True)
class Negatives:
    events: dict[str, NegativeRule]
    algorithms: dict[str, NegativeRule]


# a readout sums ImageNet classes that are *evidence* of an event's object (a trash can for
# overflowing garbage); a model trained for the event beats it wherever one exists
_KIND_RANK = {"imagenet_readout": 1}


def _rank_key(alg, scene: str) -> tuple:
    # scene-specific before generic; trained models before readouts; narrower models before
    # broad ones; then id for stability
    return (0 if scene in alg.scene_tags else 1, _KIND_RANK.get(alg.kind, 0), len(alg.scene_tags), len(alg.event_types), alg.id)


def _window_text(t: GovernanceTask) -> str:
    win = ", ".join(str(w) for w in t.windows) if t.windows else "all day"
    if len(t.days) < 7:
        win += " on " + "/".join(DAYS[d] for d in sorted(t.days))
    return win


@lru_cache(maxsize=65536)
def task_reason(t: GovernanceTask, what: str, region: str) -> str:
    return (f"governance task {t.id!r} ({t.department}) asks for {what} in region {region!r} "
            f"({_window_text(t)}) at priority {t.priority}, {t.fps:g} fps")


class CompiledOntology:
    """Read-only indexes over one :class:`Ontology`; build once, query many times."""

    def __init__(self, ont: Ontology) -> None:
        self.ontology = ont
        self.version = ont.version
        tax = ont.taxonomy
        algs = ont.algorithms
        self.deps = {a: tuple(r) for a, r in resolved_dependencies(ont).items()}
        # (dependent, reader) -> crop_from: the reader runs only where the dependent fires
        self.cascade_links: dict[tuple[str, str], str | None] = cascaded_dependencies(ont)
        self.zone_algorithms: dict[str, tuple[str, ...]] = {
            k: tuple(a for a in v if a in algs and algs[a].production) for k, v in ont.zone_algorithms.items()}

        by_event: dict[str, list] = {}
        for a in algs.values():
            if not a.production:  # the catalog holds no production version: nothing to run
                continue
            for e in a.event_types:
                by_event.setdefault(e, []).append(a)
        self.event_candidates: dict[str, tuple[str, ...]] = {
            e: tuple(a.id for a in sorted(lst, key=lambda a: (len(a.scene_tags) > 0, _KIND_RANK.get(a.kind, 0), len(a.scene_tags), a.id)))
            for e, lst in by_event.items()
        }
        self.scene_slots: dict[str, tuple[EventSlot, ...]] = {}
        # scene -> events that can happen there but that no production algorithm detects
        self.uncovered: dict[str, tuple[str, ...]] = {}
        for s in tax.scenes:
            slots = []
            uncovered = []
            for e, ev in tax.events.items():
                if s not in ev.scenes:
                    continue
                cands = sorted((a for a in by_event.get(e, ()) if not a.scene_tags or s in a.scene_tags), key=lambda a: _rank_key(a, s))
                if not cands:
                    uncovered.append(e)
                    continue
                sn, en = node("scene", s), node("event", e)
                slots.append(EventSlot(
                    e,
                    tuple(a.id for a in cands),
                    tuple((sn, en, node("algorithm", a.id)) for a in cands),
                    tuple(f"event {e!r} can happen in scene {s!r} and {a.id} detects it"
                          + ("" if a.scene_tags else " (generic model)") for a in cands),
                ))
            self.scene_slots[s] = tuple(slots)
            self.uncovered[s] = tuple(uncovered)
        self.scene_monitors: dict[str, tuple[str, ...]] = {
            s: tuple(sorted(a.id for a in algs.values() if a.kind == "imagenet_readout" and a.production and s in a.scene_tags))
            for s in tax.scenes
        }
        self.region_chain: dict[str, tuple[str, ...]] = {r: self._chain(r) for r in ont.regions}
        self.tasks_by_region: dict[str, tuple[TaskLink, ...]] = {}
        for r, chain in self.region_chain.items():
            links = []
            for t in ont.tasks.values():
                for i, anc in enumerate(chain):
                    if anc in t.regions:
                        links.append(TaskLink(t, tuple(node("region", x) for x in chain[: i + 1]) + (node("task", t.id),), anc))
                        break
            self.tasks_by_region[r] = tuple(links)
        self.negative_by_scene: dict[str, Negatives] = {s: Negatives({}, {}) for s in tax.scenes}
        region_rules: dict[str, list[NegativeRule]] = {}
        for n in ont.negative:
            if n.scene is not None:
                neg = self.negative_by_scene[n.scene]
                neg.events.update({e: n for e in n.never_events if e not in neg.events})
                neg.algorithms.update({a: n for a in n.never_algorithms if a not in neg.algorithms})
            else:
                region_rules.setdefault(n.region, []).append(n)
        self.negative_by_region: dict[str, Negatives] = {}
        for r, chain in self.region_chain.items():
            ev: dict[str, NegativeRule] = {}
            al: dict[str, NegativeRule] = {}
            for anc in chain:
                for n in region_rules.get(anc, ()):
                    ev.update({e: n for e in n.never_events if e not in ev})
                    al.update({a: n for a in n.never_algorithms if a not in al})
            self.negative_by_region[r] = Negatives(ev, al)
        self._closure: dict[str, tuple[tuple[str, tuple[str, ...], str], ...]] = {}
        self.active_tasks = lru_cache(maxsize=65536)(self._active_tasks)
        self._graph: nx.DiGraph | None = None

    def _chain(self, region: str) -> tuple[str, ...]:
        out, seen, r = [], set(), region
        while r is not None and r not in seen and r in self.ontology.regions:
            out.append(r)
            seen.add(r)
            r = self.ontology.regions[r].parent
        return tuple(out)

    def _active_tasks(self, region: str, minute_of_day: int, weekday: int) -> tuple[dict[str, tuple[TaskLink, ...]], tuple[TaskLink, ...]]:
        """(event -> active task links asking for it, active links asking for algorithms)."""
        by_event: dict[str, list[TaskLink]] = {}
        alg_links = []
        for link in self.tasks_by_region.get(region, ()):
            if link.task.active(minute_of_day, weekday):
                for e in link.task.events:
                    by_event.setdefault(e, []).append(link)
                if link.task.algorithms:
                    alg_links.append(link)
        return {e: tuple(v) for e, v in by_event.items()}, tuple(alg_links)

    def dependency_closure(self, alg_id: str) -> tuple[tuple[str, tuple[str, ...], str], ...]:
        """Every algorithm ``alg_id`` needs, transitively: (dep id, chain alg_id..dep, reason).
        Validation guarantees the dependency graph is acyclic."""
        hit = self._closure.get(alg_id)
        if hit is not None:
            return hit
        out: list[tuple[str, tuple[str, ...], str]] = []
        seen = set()
        stack = [(alg_id, (alg_id,))]
        while stack:
            cur, chain = stack.pop()
            for req, reason in self.deps.get(cur, ()):
                if req not in seen:
                    seen.add(req)
                    out.append((req, chain + (req,), reason))
                    stack.append((req, chain + (req,)))
        res = tuple(out)
        self._closure[alg_id] = res
        return res

    def unreachable(self) -> dict[str, str]:
        """Algorithms no camera can be given in the normal course (no feedback), each with the
        reason: no production version, outranked in every scene by a better model for the
        same events, or detecting nothing that a scene, task or dependency asks for."""
        ont = self.ontology
        reach: set[str] = set()
        for slots in self.scene_slots.values():
            reach.update(slot.candidates[0] for slot in slots)
        for mons in self.scene_monitors.values():
            reach.update(mons)
        for t in ont.tasks.values():
            reach.update(a for a in t.algorithms if a in ont.algorithms and ont.algorithms[a].production)
        for algs in self.zone_algorithms.values():  # a camera with that zone drawn asks for them
            reach.update(algs)
        for a in list(reach):
            reach.update(dep for dep, _chain, _r in self.dependency_closure(a))
        out: dict[str, str] = {}
        for a in ont.algorithms.values():
            if a.id in reach:
                continue
            if not a.production:
                out[a.id] = "the catalog holds no production version of it"
                continue
            winners = sorted({slot.candidates[0] for slots in self.scene_slots.values() for slot in slots
                              if a.id in slot.candidates and slot.candidates[0] != a.id})
            if winners:
                out[a.id] = (f"outranked for {sorted(a.event_types)} wherever they can happen by {', '.join(winners[:4])}"
                             + (" ..." if len(winners) > 4 else "") + "; it stands in when those are paused by operator feedback")
            elif a.event_types:
                out[a.id] = f"its events {sorted(a.event_types)} cannot happen in its scenes {sorted(a.scene_tags)}"
            else:
                out[a.id] = "detects no event type, and no governance task or dependency asks for it"
        return out

    def cascade_rules(self) -> dict[str, dict[str, Any]]:
        """Algorithm -> ``{"triggers": {pattern: crop_from}, "hold_s": s}`` (and ``"reread_s"``
        where the ontology sets one): the evidence readers (``hold_s`` 0) and the wake-up cascades, the rule the runtime's detector stage applies
        (``runtime.Cascade.of``) and the cost model assumes. Patterns as the ontology writes
        them, so they also match algorithms registered later."""
        o = self.ontology
        return cascade_rules(o.dependencies, o.wake_up, o.wake_hold_s)

    def shared_sources_of(self, algorithm_id: str) -> tuple[str, ...]:
        """Every source detector ``algorithm_id`` runs on (the track hub's detector, the crowd rule's
        counter), each one pass per frame however many algorithms of the camera use it."""
        out: list[str] = []
        for pattern, sources in self.ontology.shared_sources.items():
            if fnmatch.fnmatchcase(algorithm_id, pattern):
                out.extend(s for s in sources if s not in out)
        return tuple(out)

    @property
    def graph(self) -> nx.DiGraph:
        """The ontology as a typed networkx DiGraph (built on first use)."""
        if self._graph is None:
            self._graph = build_networkx(self)
        return self._graph


def cascade_rules(dependencies, wake_up: dict[str, tuple[str, ...]] | None = None, hold_s: float = 300.0) -> dict[str, dict[str, Any]]:
    """See :meth:`CompiledOntology.cascade_rules` (the ``cascade: true`` dependencies and ``wake_up``)."""
    out: dict[str, dict[str, Any]] = {}
    for dep in dependencies:
        if dep.cascade:
            crop = dict(dep.crop_from)
            for req in dep.requires:
                rule = out.setdefault(req, {"triggers": {}, "hold_s": 0.0})
                rule["triggers"].setdefault(dep.pattern, crop.get(req))
                if dep.reread_s is not None:  # a reader serving several dependents re-reads as often as the most eager asks
                    rule["reread_s"] = min(rule.get("reread_s", dep.reread_s), dep.reread_s)
    for alg, pats in (wake_up or {}).items():
        out[alg] = {"triggers": {p: None for p in pats}, "hold_s": float(hold_s)}
    return out


def build_networkx(idx: CompiledOntology) -> nx.DiGraph:
    ont = idx.ontology
    g = nx.DiGraph(version=ont.version, source=ont.source)
    for s, sc in ont.taxonomy.scenes.items():
        g.add_node(node("scene", s), kind="scene", name=sc.name, family=sc.family)
    for e, ev in ont.taxonomy.events.items():
        g.add_node(node("event", e), kind="event", name=ev.name)
        for s in ev.scenes:
            g.add_edge(node("scene", s), node("event", e), rel="can_happen")
        for o in ev.objects:
            g.add_edge(node("event", e), node("object", o), rel="involves")
    for o, name in ont.object_classes.items():
        g.add_node(node("object", o), kind="object", name=name)
    for a in ont.algorithms.values():
        an = node("algorithm", a.id)
        g.add_node(an, kind="algorithm", algorithm_kind=a.kind, source=a.source)
        for e in a.event_types:
            g.add_edge(node("event", e), an, rel="detected_by")
        for s in a.scene_tags:
            g.add_edge(node("scene", s), an, rel="signal" if a.kind == "imagenet_readout" else "tagged")
        for o in a.objects:
            g.add_edge(an, node("object", o), rel="detects_object")
    for a, reqs in idx.deps.items():
        for req, reason in reqs:
            g.add_edge(node("algorithm", a), node("algorithm", req), rel="requires", reason=reason,
                       cascade=(a, req) in idx.cascade_links)
    for kind, algs in ont.zone_algorithms.items():
        g.add_node(node("zone", kind), kind="zone_kind")
        for a in algs:
            g.add_edge(node("zone", kind), node("algorithm", a), rel="used_by")
    for r, reg in ont.regions.items():
        g.add_node(node("region", r), kind="region", name=reg.name)
        if reg.parent:
            g.add_edge(node("region", reg.parent), node("region", r), rel="contains")
    for t in ont.tasks.values():
        tn = node("task", t.id)
        g.add_node(tn, kind="task", department=t.department, priority=t.priority, fps=t.fps, windows=_window_text(t))
        for r in t.regions:
            g.add_edge(node("region", r), tn, rel="governed_by")
        for e in t.events:
            g.add_edge(tn, node("event", e), rel="asks_for")
        for a in t.algorithms:
            g.add_edge(tn, node("algorithm", a), rel="asks_for")
    for n in ont.negative:
        rn = node("rule", n.id)
        g.add_node(rn, kind="negative_rule", reason=n.reason)
        g.add_edge(node("scene", n.scene) if n.scene else node("region", n.region), rn, rel="never")
        for e in n.never_events:
            g.add_edge(rn, node("event", e), rel="excludes")
        for a in n.never_algorithms:
            g.add_edge(rn, node("algorithm", a), rel="excludes")
    return g
