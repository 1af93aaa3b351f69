"""Relevance: which algorithms one camera should run now, at what priority and rate, and why.

:func:`decide_relevance` is a pure function over the compiled ontology, one camera's record,
its feedback state and a time; :class:`knowledge_graph.CityGraph` calls it.
"""
from __future__ import annotations

import fnmatch
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from knowledge_graph.answer import (  # noqa: F401  (the answer's records, re-exported here)
    AlgorithmChoice,
    CameraFacts,
    CameraFeedback,
    Exclusion,
    Explanation,
    FeedbackCell,
    Relevance,
)
from knowledge_graph.index import CompiledOntology, node, task_reason
from knowledge_graph.schema import FeedbackPolicy


class _Pick:
    """Mutable builder for one choice while deciding (frozen into AlgorithmChoice at the end)."""

    __slots__ = ("alg", "priority", "fps", "score", "conf", "paths", "reasons", "tasks", "events", "deps", "req_by", "fb",
                 "own", "triggers", "woken")

    def __init__(self, alg: str, priority: int, fps: float, score: float, conf: float) -> None:
        self.woken: list[str] = []  # heads that wake it (a wake-up cascade)
        self.own = True  # chosen for itself (an event, a task, a zone, a miss, a scene monitor), not only as a need
        self.triggers: list[str] = []  # dependents whose firing starts it, while it is only their evidence
        self.alg, self.priority, self.fps, self.score, self.conf = alg, priority, fps, score, conf
        self.paths: list[tuple[str, ...]] = []
        self.reasons: list[str] = []
        self.tasks: list[str] = []
        self.events: list[str] = []
        self.deps: list[str] = []
        self.req_by: list[str] = []
        self.fb: tuple[str, ...] = ()

    def merge(self, priority: int, fps: float, score: float, conf: float) -> None:
        self.priority = max(self.priority, priority)
        self.fps = max(self.fps, fps)
        self.score = max(self.score, score)
        self.conf = max(self.conf, conf)

    def freeze(self) -> AlgorithmChoice:
        tasks = self.tasks
        exp = Explanation(self.alg, tuple(self.paths), tuple(self.reasons),
                          (tuple(dict.fromkeys(tasks)) if len(tasks) > 1 else tuple(tasks)) if tasks else (),
                          tuple(self.events) if self.events else (), tuple(self.deps) if self.deps else (),
                          tuple(self.req_by) if self.req_by else (), self.fb, self.conf,
                          tuple(dict.fromkeys(self.woken + (self.triggers if not self.own else []))))
        return AlgorithmChoice(self.alg, self.priority, self.fps, self.score, exp)


def feedback_note(policy: FeedbackPolicy, cell: FeedbackCell) -> tuple[float, bool, str]:
    """(relevance factor, paused?, human note) for one verdict cell."""
    rej = cell.effective_rejections
    prec = policy.precision(cell.confirmations, rej)
    paused = policy.paused(cell.confirmations, rej)
    factor = policy.factor(cell.confirmations, rej)
    note = (f"operator feedback: {cell.confirmations} confirmed / {rej} rejected alerts, estimated precision {prec:.2f}"
            + (f" < {policy.pause_below_precision:g}: paused on this camera" if paused else f", relevance x{factor:.2f}"))
    return factor, paused, note


def decide_relevance(
    idx: CompiledOntology,
    cam: CameraFacts,
    feedback: CameraFeedback | None,
    at: datetime,
) -> Relevance:
    """The algorithms camera ``cam`` should run at ``at``; pure (no I/O, no mutation)."""
    ont = idx.ontology
    d = ont.defaults
    policy = ont.feedback
    cam_node = node("camera", cam.camera_id)
    primary = cam.primary_scene
    neg_s = idx.negative_by_scene.get(primary) if primary else None
    neg_r = idx.negative_by_region.get(cam.region)
    excluded: list[Exclusion] = []
    reported: set[str] = set()

    def neg_event(e: str) -> str | None:
        if e in cam.exclude_events:
            return "hint"
        if neg_s is not None and e in neg_s.events:
            return neg_s.events[e].id
        if neg_r is not None and e in neg_r.events:
            return neg_r.events[e].id
        return None

    def neg_alg(a: str) -> str | None:
        if a in cam.exclude_algorithms:
            return "hint"
        if neg_s is not None and a in neg_s.algorithms:
            return neg_s.algorithms[a].id
        if neg_r is not None and a in neg_r.algorithms:
            return neg_r.algorithms[a].id
        return None

    def exclude(subject: str, rule: str, what: str) -> None:
        if subject not in reported:
            reported.add(subject)
            why = ("the camera's registration hints exclude it" if rule == "hint"
                   else f"negative rule {rule!r}: {_rule_reason(ont, rule)}")
            excluded.append(Exclusion(subject, f"{what}: {why}", None if rule == "hint" else rule))

    cells = feedback.cells if feedback is not None else {}

    def verdict(a: str) -> tuple[float, bool, tuple[str, ...]]:
        cell = cells.get(a)
        if cell is None:
            return 1.0, False, ()
        f, paused, note = feedback_note(policy, cell)
        return f, paused, (note,)

    def wake_head(slot, i: int, a: str) -> tuple[int, str, float, tuple[str, ...]] | None:
        """The best candidate of ``slot`` (other than ``a``) that wakes ``a`` and may run here."""
        pats = ont.wake_up.get(a)
        if not pats:
            return None
        for j, h in enumerate(slot.candidates):
            if j == i or h in zone_asked or not any(fnmatch.fnmatchcase(h, pt) for pt in pats) or neg_alg(h) is not None:
                continue
            f, paused, note = verdict(h)
            if not paused:
                return j, h, f, note
        return None

    def add_waker(p: _Pick, slot, i: int, prio: int, fps: float, conf: float) -> bool:
        """Select the scene head that wakes track algorithm ``p`` (a wake-up cascade) beside it."""
        waker = wake_head(slot, i, p.alg)
        if waker is None:
            return False
        j, h, hfactor, hnote = waker
        hp = picks.get(h)
        if hp is None:
            hp = picks[h] = _Pick(h, prio, fps, conf * hfactor, conf)
            hp.fb = hnote
        else:
            hp.merge(prio, fps, conf * hfactor, conf)
        hp.events.append(slot.event)
        hp.paths.append((cam_node,) + slot.paths[j])
        hp.reasons.append(slot.reasons[j] + f"; it wakes {p.alg} (runs while it fired within the last {ont.wake_hold_s:g} s)")
        if h not in p.woken:
            p.woken.append(h)
        return True

    by_event, alg_links = idx.active_tasks(cam.region, at.hour * 60 + at.minute, at.weekday())
    picks: dict[str, _Pick] = {}
    seen_events: set[str] = set()
    min_conf = d.min_scene_confidence
    linked = linked_scenes(cam.scenes, d)
    # the track algorithms the camera's drawn zones and lines ask for: algorithm -> zone kinds
    zone_asked: dict[str, list[str]] = {}
    for kind in sorted(cam.zones):
        for a in idx.zone_algorithms.get(kind, ()):
            zone_asked.setdefault(a, []).append(kind)

    for scene, conf in linked:
        for e in idx.uncovered.get(scene, ()):
            if e not in seen_events and neg_event(e) is None and node("event", e) not in reported:
                reported.add(node("event", e))
                excluded.append(Exclusion(node("event", e), f"event {e!r} can happen in scene {scene!r} but no algorithm "
                                          "with a production version detects it; register and promote one in the catalog"))
        for slot in idx.scene_slots.get(scene, ()):
            e = slot.event
            if e in seen_events:
                continue
            seen_events.add(e)
            rule = neg_event(e)
            if rule is not None:
                exclude(node("event", e), rule, f"event {e!r} is never needed here")
                continue
            links = by_event.get(e)
            if links:
                links = tuple(lk for lk in links if lk.task.applies_to_scene(scene))
            if not links and e in ont.demand_only_events:
                continue
            chosen = None
            order = range(len(slot.candidates))
            if zone_asked:  # a zone drawn for this event: its track algorithm before the scene head
                order = sorted(order, key=lambda j: slot.candidates[j] not in zone_asked)
            for i in order:
                a = slot.candidates[i]
                rule = neg_alg(a)
                if rule is not None:
                    exclude(node("algorithm", a), rule, f"algorithm {a!r} is never needed here")
                    continue
                factor, paused, note = verdict(a)
                if paused:
                    excluded.append(Exclusion(node("algorithm", a), f"algorithm {a!r} for {e!r}: {note[0]}"))
                    continue
                chosen = (i, a, factor, note)
                break
            if chosen is None:
                continue
            i, a, factor, note = chosen
            if links:
                prio = max(lk.task.priority for lk in links)
                fps = max(lk.task.fps for lk in links)
            else:
                prio, fps = d.baseline_priority, d.baseline_fps
            p = picks.get(a)
            if p is None:
                p = picks[a] = _Pick(a, prio, fps, conf * factor, conf)
                p.fb = note
            else:
                p.merge(prio, fps, conf * factor, conf)
            p.events.append(e)
            p.paths.append((cam_node,) + slot.paths[i])
            if a in zone_asked:
                kinds = zone_asked[a]
                p.reasons.append(slot.reasons[i] + ("" if i == 0 else f" (chosen over {slot.candidates[0]}: "
                                                    f"{'/'.join(kinds)} drawn on this camera)"))
                for kind in kinds:
                    p.paths.append((cam_node, node("zone", kind), node("algorithm", a)))
                    p.reasons.append(f"a {kind!r} zone or line is drawn on this camera and {a} uses it")
                add_waker(p, slot, i, prio, fps, conf)
            else:
                p.reasons.append(slot.reasons[i] + ("" if i == 0 else f" (stands in for paused {slot.candidates[0]})"))
            if links:
                an = node("algorithm", a)
                en = node("event", e)
                for lk in links:
                    p.tasks.append(lk.task.id)
                    p.paths.append((cam_node,) + lk.path + (en, an))
                    p.reasons.append(task_reason(lk.task, repr(e), lk.region))

    for lk in alg_links:
        t = lk.task
        confs = [c for s, c in linked if t.applies_to_scene(s)]
        if not confs:
            continue
        conf = max(confs)
        for a in t.algorithms:
            node_a = ont.algorithms.get(a)
            if node_a is None or not node_a.production:
                excluded.append(Exclusion(node("algorithm", a), f"algorithm {a!r} asked for by task {t.id!r}: "
                                          + ("the catalog does not hold it" if node_a is None else "it has no production version")))
                continue
            rule = neg_alg(a)
            if rule is not None:
                exclude(node("algorithm", a), rule, f"algorithm {a!r} is never needed here")
                continue
            factor, paused, note = verdict(a)
            if paused:
                excluded.append(Exclusion(node("algorithm", a), f"algorithm {a!r} for task {t.id!r}: {note[0]}"))
                continue
            p = picks.get(a)
            if p is None:
                p = picks[a] = _Pick(a, t.priority, t.fps, conf * factor, conf)
                p.fb = note
            else:
                p.merge(t.priority, t.fps, conf * factor, conf)
            p.tasks.append(t.id)
            p.paths.append((cam_node,) + lk.path + (node("algorithm", a),))
            p.reasons.append(task_reason(t, f"algorithm {a!r}", lk.region))

    for a, kinds in zone_asked.items():  # a drawing asks for its algorithm even where no linked scene has the event
        kinds = [k for k in kinds if idx.zone_algorithms[k][:1] == (a,)]  # only for the kind's purpose
        if a in picks or not kinds:
            continue
        node_a = ont.algorithms[a]
        if any(neg_event(e) is not None for e in node_a.event_types):
            exclude(node("algorithm", a), next(neg_event(e) for e in node_a.event_types if neg_event(e) is not None),
                    f"algorithm {a!r} asked for by the camera's {'/'.join(kinds)} zone")
            continue
        rule = neg_alg(a)
        if rule is not None:
            exclude(node("algorithm", a), rule, f"algorithm {a!r} is never needed here")
            continue
        factor, paused, note = verdict(a)
        if paused:
            excluded.append(Exclusion(node("algorithm", a), f"algorithm {a!r} for the camera's {'/'.join(kinds)} zone: {note[0]}"))
            continue
        links = [lk for e in node_a.event_types for lk in by_event.get(e, ())]
        prio = max((lk.task.priority for lk in links), default=d.baseline_priority)
        fps = max((lk.task.fps for lk in links), default=d.baseline_fps)
        conf = cam.scenes[0][1] if cam.scenes else 1.0
        p = picks[a] = _Pick(a, prio, fps, conf * factor, conf)
        p.fb = note
        p.events.extend(node_a.event_types)
        p.tasks.extend(lk.task.id for lk in links)
        for kind in kinds:
            p.paths.append((cam_node, node("zone", kind), node("algorithm", a)))
            p.reasons.append(f"a {kind!r} zone or line is drawn on this camera: the operator asks for {a} "
                             f"({', '.join(node_a.event_types)}) there")
        # a linked scene with a head for the event (watched only on demand, e.g. intrusion after hours): it wakes a
        woken = False
        for _scene, c in linked:
            for slot in idx.scene_slots.get(_scene, ()):
                if not woken and slot.event in node_a.event_types:
                    woken = add_waker(p, slot, -1, prio, fps, c)

    overrides: set[str] = set()  # added after a miss: they and their needs beat negative knowledge
    if feedback is not None and feedback.added:
        for e, (a, miss_id, change_id) in feedback.added.items():
            overrides.add(a)
            links = by_event.get(e, ())
            prio = max((lk.task.priority for lk in links), default=d.baseline_priority)
            fps = max((lk.task.fps for lk in links), default=d.baseline_fps)
            factor, paused, note = verdict(a)
            p = picks.get(a)
            if p is None:
                p = picks[a] = _Pick(a, prio, fps, factor, 1.0)
                p.fb = note
            else:
                p.merge(prio, fps, factor, 1.0)
            p.events.append(e)
            p.tasks.extend(lk.task.id for lk in links)
            p.paths.append((cam_node, node("miss", miss_id), node("event", e), node("algorithm", a)))
            p.reasons.append(f"added by change {change_id}: an inspector reported a missed {e!r} (miss {miss_id}) "
                             "that no algorithm of this camera covered; this overrides negative knowledge")

    if primary is not None and d.scene_monitor_fps > 0 and cam.scenes[0][1] >= min_conf:
        conf = cam.scenes[0][1]
        for a in idx.scene_monitors.get(primary, ()):
            if a in picks or neg_alg(a) is not None:
                continue
            p = picks[a] = _Pick(a, d.scene_monitor_priority, d.scene_monitor_fps, conf, conf)
            p.paths.append((cam_node, node("scene", primary), node("algorithm", a)))
            p.reasons.append(f"{a} reads an ImageNet signal of the primary scene {primary!r}, watching for scene drift")

    # dependencies: each need is pulled in with its dependent; a need that cannot run here
    # (not in the catalog, no production version, excluded, paused) is left out, and the
    # dependent runs without it (its alert lacks that evidence; the note says so)
    for a in [a for a in picks if idx.deps.get(a)]:
        p = picks.get(a)
        if p is None:
            continue
        base = p.paths[0]
        blocked_deps: set[str] = set()
        for dep, chain, reason in idx.dependency_closure(a):
            if blocked_deps.intersection(chain[1:-1]):
                blocked_deps.add(dep)
                continue
            dep_node = ont.algorithms.get(dep)
            rule = None if a in overrides else neg_alg(dep)
            why = None
            if dep_node is None or not dep_node.production:
                why = "the catalog does not hold it" if dep_node is None else "it has no production version"
            elif rule is not None:
                why = "the camera's hints exclude it" if rule == "hint" else f"negative rule {rule!r}: {_rule_reason(ont, rule)}"
            elif verdict(dep)[1]:
                why = "it is paused on this camera by operator feedback"
            if why is not None:
                blocked_deps.add(dep)
                p.fb = p.fb + (f"runs without {dep} ({reason}): {why}",)
                if node("algorithm", dep) not in reported:
                    reported.add(node("algorithm", dep))
                    excluded.append(Exclusion(node("algorithm", dep), f"algorithm {dep!r} needed by {a!r}: {why}",
                                              None if rule in (None, "hint") else rule))
                continue
            dp = picks.get(dep)
            if dp is None:
                dp = picks[dep] = _Pick(dep, p.priority, p.fps, p.score, p.conf)
                dp.fb = verdict(dep)[2]
                dp.own = False
            else:
                dp.merge(p.priority, p.fps, p.score, p.conf)
            if (chain[-2], dep) in idx.cascade_links:
                dp.triggers.append(chain[-2])
            else:  # a need that runs with its dependent at its rate (the tracks' detector)
                dp.own = True
            dp.req_by.append(a)
            dp.tasks.extend(p.tasks)
            dp.paths.append(base + tuple(node("algorithm", x) for x in chain[1:]))
            dp.reasons.append(f"required by {chain[-2]}: {reason}")
            parent = picks.get(chain[-2])
            if parent is not None and dep not in parent.deps:
                parent.deps.append(dep)

    choices = sorted((p.freeze() for p in picks.values()), key=lambda c: (-c.priority, -c.score, c.algorithm_id))
    return Relevance(cam.camera_id, at, idx.version, tuple(choices), tuple(excluded))


def linked_scenes(scenes: tuple[tuple[str, float], ...], d) -> list[tuple[str, float]]:
    """The scene links relevance follows: every link at or above ``min_scene_confidence``;
    and when the primary link is uncertain (below ``uncertain_below``, what discovery flags
    for review), also the weaker links at least ``uncertain_ratio`` as likely as the primary
    (and above ``uncertain_floor``), strongest first, until they hold ``uncertain_cover`` of
    the confidence: an unsure camera runs the algorithms of every scene it may well be
    (recall first; operators' feedback then prunes, see :mod:`knowledge_graph.revision`)."""
    out = [(s, c) for s, c in scenes if c >= d.min_scene_confidence]
    if not scenes or scenes[0][1] >= d.uncertain_below:
        return out
    floor = max(d.uncertain_floor, d.uncertain_ratio * scenes[0][1])
    total = 0.0
    for s, c in scenes:
        if c < floor or total >= d.uncertain_cover:
            break
        total += c
        if c < d.min_scene_confidence:
            out.append((s, c))
    return out


def _rule_reason(ont, rule_id: str) -> str:
    for n in ont.negative:
        if n.id == rule_id:
            return n.reason
    return ""


def camera_facts(camera_id: str, region: str, scenes: Mapping[str, float], hints: Mapping[str, Any] | None = None) -> CameraFacts:
    """Normalise registration input (validation happens in :class:`CityGraph`)."""
    hints = hints or {}
    ordered = tuple(sorted(((s, float(c)) for s, c in scenes.items()), key=lambda sc: (-sc[1], sc[0])))
    return CameraFacts(camera_id, region, ordered, frozenset(hints.get("exclude_events", ())),
                        frozenset(hints.get("exclude_algorithms", ())), frozenset(_listed(hints.get("zones", ()))))


def _listed(values: Any) -> tuple[str, ...]:
    return (values,) if isinstance(values, str) else tuple(values)
