"""Learning from operators: rejected alerts lower an algorithm's relevance on a camera (and
pause it past a threshold), confirmed ones restore it, a reported miss adds an algorithm.

Every change is a :class:`GraphChange` with its reason, appended to the journal *before* it
is applied (so a crash never applies an unrecorded change) and undoable by id.
"""
from __future__ import annotations

import dataclasses
import itertools
import logging
import uuid
from datetime import datetime, timezone
from typing import Any

from catalog import EventType, Taxonomy

from knowledge_graph.errors import KnowledgeGraphError, UnknownCameraError, UnknownChangeError
from knowledge_graph.index import CompiledOntology
from knowledge_graph.journal import GRAPH_WIDE, ChangeJournal, GraphChange
from knowledge_graph.revision import revise_scenes
from knowledge_graph.schema import AlgorithmNode
from knowledge_graph.relevance import CameraFeedback, CameraFacts, FeedbackCell, Relevance, feedback_note

log = logging.getLogger(__name__)

# an algorithm whose alerts on a camera were all rejected, this many times, looks like one
# whose event does not occur there (scene evidence; pausing follows the policy, later)
ABSENT_AFTER_REJECTIONS = 1


def record_to_dict(rec: CameraFacts | None) -> dict[str, Any] | None:
    if rec is None:
        return None
    return {"camera_id": rec.camera_id, "region": rec.region, "scenes": [list(sc) for sc in rec.scenes],
            "exclude_events": sorted(rec.exclude_events), "exclude_algorithms": sorted(rec.exclude_algorithms),
            **({"zones": sorted(rec.zones)} if rec.zones else {})}


def record_from_dict(d: dict[str, Any] | None) -> CameraFacts | None:
    if d is None:
        return None
    return CameraFacts(d["camera_id"], d["region"], tuple((s, float(c)) for s, c in d["scenes"]),
                        frozenset(d.get("exclude_events", ())), frozenset(d.get("exclude_algorithms", ())),
                        frozenset(d.get("zones", ())))


class FeedbackLearner:
    """Owns per-camera learned state and the change log; :class:`CityGraph` delegates to it."""

    def __init__(self, index: CompiledOntology, cameras: dict[str, CameraFacts], journal: ChangeJournal | None) -> None:
        self.index = index
        self.cameras = cameras
        self.journal = journal
        self.state: dict[str, CameraFeedback] = {}
        self.changes: dict[str, GraphChange] = {}
        self.undone: dict[str, str] = {}  # change id -> id of the undo change
        self._by_camera: dict[str, list[str]] = {}  # camera id -> its change ids, oldest first
        self._refs: dict[tuple[str, str, str], str] = {}  # (group, camera, alert/miss id) -> change id
        self._seq = itertools.count(1)

    # -- recording ---------------------------------------------------------------------
    def _new(self, kind: str, camera_id: str, reason: str, effect: str, **kw: Any) -> GraphChange:
        seq = next(self._seq)
        ch = GraphChange(f"c{seq:07d}-{uuid.uuid4().hex[:6]}", seq, kind, camera_id,
                         datetime.now(timezone.utc).isoformat(timespec="milliseconds"), reason, effect, **kw)
        if self.journal is not None:
            self.journal.append(ch)
        self._apply(ch)
        log.info("graph change %s", ch)
        return ch

    def _require_camera(self, camera_id: str) -> None:
        if camera_id not in self.cameras:
            raise UnknownCameraError(camera_id, len(self.cameras))

    def _require_algorithm(self, algorithm_id: str) -> None:
        if algorithm_id not in self.index.ontology.algorithms:
            raise KnowledgeGraphError(
                f"unknown algorithm {algorithm_id!r}; feedback must name an algorithm of the catalog "
                f"({len(self.index.ontology.algorithms)} known), e.g. one from CityGraph.relevance(camera).algorithm_ids()")

    def register_camera(self, rec: CameraFacts, reason: str) -> GraphChange:
        before = self.cameras.get(rec.camera_id)
        effect = "registered" if before is None else "re-registered (scenes/region/hints replaced)"
        return self._new("camera_registered", rec.camera_id, reason, effect,
                         data={"record": record_to_dict(rec), "before": record_to_dict(before)})

    def remove_camera(self, camera_id: str, reason: str) -> GraphChange:
        self._require_camera(camera_id)
        return self._new("camera_removed", camera_id, reason, "removed (its learned feedback is kept for a re-registration)",
                         data={"before": record_to_dict(self.cameras[camera_id])})

    # -- the ontology at run time (the flywheel's new algorithm, a new event type) ----------
    def add_algorithm(self, alg: AlgorithmNode, reason: str) -> GraphChange:
        ont = self.index.ontology
        bad_scenes = [s for s in alg.scene_tags if s not in ont.taxonomy.scenes]
        bad_events = [e for e in alg.event_types if e not in ont.taxonomy.events]
        if bad_scenes or bad_events:
            raise KnowledgeGraphError(
                f"algorithm {alg.id!r}: unknown scene tags {bad_scenes} / event types {bad_events}; use taxonomy ids, "
                "or add a new event type first with CityGraph.add_event_type(event, scenes)")
        before = ont.algorithms.get(alg.id)
        effect = ("added" if before is None else "replaced") + f" algorithm {alg.id} (events {list(alg.event_types)}, scenes {list(alg.scene_tags) or 'any'})"
        return self._new("algorithm_added", GRAPH_WIDE, reason, effect, algorithm_id=alg.id,
                         data={"algorithm": dataclasses.asdict(alg), "before": dataclasses.asdict(before) if before else None})

    def add_event_type(self, event: str, scenes: tuple[str, ...], name: str, objects: tuple[str, ...], reason: str) -> GraphChange:
        tax = self.index.ontology.taxonomy
        if not event or not isinstance(event, str) or not event.replace("_", "").isalnum() or event.lower() != event:
            raise KnowledgeGraphError(f"event type {event!r} must be a lowercase id of letters, digits and '_' (e.g. 'kite_flying')")
        if event in tax.events:
            raise KnowledgeGraphError(f"event type {event!r} already exists (it can happen in {list(tax.events[event].scenes)}); "
                                      "register algorithms for it with CityGraph.add_algorithm")
        if not scenes:
            raise KnowledgeGraphError(f"event type {event!r}: give the scenes it can happen in, e.g. scenes=['road']")
        for s in scenes:
            tax.require_scene(s)  # TaxonomyError names close matches
        return self._new("event_type_added", GRAPH_WIDE, reason, f"added event type {event!r} in scenes {list(scenes)}",
                         event_type=event, data={"scenes": list(scenes), "name": name, "objects": list(objects)})

    def _set_ontology(self, ont) -> None:
        self.index = CompiledOntology(ont)

    def record_verdict(self, kind: str, camera_id: str, algorithm_id: str, alert_id: str, reason: str | None) -> GraphChange:
        self._require_camera(camera_id)
        self._require_algorithm(algorithm_id)
        key = ("verdict", camera_id, str(alert_id))
        if key in self._refs:  # at-least-once delivery: the same alert twice counts once
            return self.changes[self._refs[key]]
        policy = self.index.ontology.feedback
        cell = self.state.get(camera_id, CameraFeedback()).cells.get(algorithm_id, FeedbackCell())
        after = FeedbackCell(cell.confirmations + (kind == "confirmation"), cell.rejections + (kind == "rejection"), cell.rejection_offset)
        was_paused = feedback_note(policy, cell)[1]
        factor, paused, note = feedback_note(policy, after)
        if paused and not was_paused:
            effect = f"paused {algorithm_id} on {camera_id}"
        elif was_paused and not paused:
            effect = f"resumed {algorithm_id} on {camera_id}"
        else:
            effect = f"relevance x{factor:.2f}" + (" (still paused)" if paused else "")
        why = reason or f"operator {'rejected' if kind == 'rejection' else 'confirmed'} alert {alert_id}; {note}"
        ch = self._new(kind, camera_id, why, effect, algorithm_id=algorithm_id, reference_id=str(alert_id))
        if kind == "rejection" and after.confirmations == 0 and after.effective_rejections == ABSENT_AFTER_REJECTIONS:
            self.maybe_revise_scene(camera_id)  # the algorithm's event now looks absent here
        return ch

    def record_miss(self, camera_id: str, event_type: str, miss_id: str, relevance: Relevance, reason: str | None) -> GraphChange:
        self._require_camera(camera_id)
        if event_type not in self.index.ontology.taxonomy.events:
            self.index.ontology.taxonomy.require_event(event_type)  # raises with close matches
        key = ("miss", camera_id, str(miss_id))
        if key in self._refs:
            return self.changes[self._refs[key]]
        covering = [c.algorithm_id for c in relevance.choices if event_type in c.explanation.event_types]
        preferred = self._pick_for_miss(self.cameras[camera_id], event_type, required=False)
        if covering and preferred is not None and preferred not in covering and self._paused(camera_id, preferred):
            covering = []  # only a stand-in covers it: the miss resumes the paused, better model
        if covering:
            return self._new("miss_covered", camera_id,
                             reason or f"inspector reported missed {event_type!r} (miss {miss_id}); {covering[0]} already covers it",
                             f"no graph change; the miss goes to {covering[0]}'s retraining loop",
                             algorithm_id=covering[0], event_type=event_type, reference_id=str(miss_id))
        alg = preferred if preferred is not None else self._pick_for_miss(self.cameras[camera_id], event_type)
        cell = self.state.get(camera_id, CameraFeedback()).cells.get(alg)
        data: dict[str, Any] = {}
        effect = f"added {alg} for {event_type!r} on {camera_id}"
        if cell is not None and feedback_note(self.index.ontology.feedback, cell)[1]:
            data = {"offset_before": cell.rejection_offset, "offset_after": cell.rejections}
            effect += " (resumed: its earlier rejections no longer count)"
        ch = self._new("miss_added", camera_id,
                       reason or f"inspector reported missed {event_type!r} (miss {miss_id}) and no algorithm of this camera covers it",
                       effect, algorithm_id=alg, event_type=event_type, reference_id=str(miss_id), data=data)
        self.maybe_revise_scene(camera_id)
        if event_type in self.index.ontology.demand_only_events:
            self._tell_neighbours(camera_id, event_type, str(miss_id))
        return ch

    def _tell_neighbours(self, camera_id: str, event_type: str, miss_id: str) -> None:
        """A demand-only event (watched only while a governance task asks for it) was missed:
        the task that should ask for it is missing or too narrow, which concerns the region,
        not one camera. Cameras of the same primary scene in the same region get the event's
        algorithm too, each as its own explained, undoable change."""
        cam = self.cameras[camera_id]
        for other in list(self.cameras.values()):
            if other.camera_id == camera_id or other.region != cam.region or other.primary_scene != cam.primary_scene:
                continue
            fb = self.state.get(other.camera_id)
            ref = f"{miss_id}@{camera_id}"
            if (fb is not None and event_type in fb.added) or ("miss", other.camera_id, ref) in self._refs:
                continue
            alg = self._pick_for_miss(other, event_type, required=False)
            if alg is None:
                continue
            self._new("miss_added", other.camera_id,
                      f"neighbour camera {camera_id} ({cam.primary_scene} in {cam.region}) had a missed {event_type!r} "
                      f"(miss {miss_id}) that no governance task asked for; cameras of the same scene in the region watch for it too",
                      f"added {alg} for {event_type!r} on {other.camera_id}", algorithm_id=alg, event_type=event_type, reference_id=ref)

    def scene_evidence(self, camera_id: str) -> tuple[list[str], list[str]]:
        """(events seen occurring: misses and confirmed alerts; events of algorithms paused by
        rejections) on this camera, from its live (not undone) changes."""
        algs = self.index.ontology.algorithms
        occurred: list[str] = []
        for cid in self._by_camera.get(camera_id, ()):
            ch = self.changes[cid]
            if ch.change_id in self.undone:
                continue
            if ch.kind in ("miss_added", "miss_covered") and ch.event_type:
                occurred.append(ch.event_type)
            elif ch.kind == "confirmation" and ch.algorithm_id in algs and len(algs[ch.algorithm_id].event_types) == 1:
                occurred.append(algs[ch.algorithm_id].event_types[0])
        absent = []
        fb = self.state.get(camera_id)
        for a, cell in (fb.cells.items() if fb else ()):
            node = algs.get(a)
            if node is not None and len(node.event_types) == 1 and cell.confirmations == 0 \
                    and cell.effective_rejections >= ABSENT_AFTER_REJECTIONS:
                absent.append(node.event_types[0])
        return occurred, absent

    def maybe_revise_scene(self, camera_id: str) -> GraphChange | None:
        """Re-link the camera's scenes when its feedback contradicts them (see :mod:`knowledge_graph.revision`)."""
        cam = self.cameras[camera_id]
        occurred, absent = self.scene_evidence(camera_id)
        rev = revise_scenes(self.index.ontology.taxonomy, cam.scenes, occurred=occurred, absent=absent,
                            min_link=self.index.ontology.defaults.min_scene_confidence)
        if rev is None:
            return None
        after = CameraFacts(cam.camera_id, cam.region, tuple(sorted(rev.scenes.items(), key=lambda sc: (-sc[1], sc[0]))),
                            cam.exclude_events, cam.exclude_algorithms, cam.zones)
        return self._new("scene_revised", camera_id, rev.reason,
                         f"scenes {dict(cam.scenes)} -> {dict(after.scenes)}",
                         data={"record": record_to_dict(after), "before": record_to_dict(cam)})

    def _paused(self, camera_id: str, algorithm_id: str) -> bool:
        cell = self.state.get(camera_id, CameraFeedback()).cells.get(algorithm_id)
        return cell is not None and feedback_note(self.index.ontology.feedback, cell)[1]

    def _pick_for_miss(self, cam: CameraFacts, event_type: str, *, required: bool = True) -> str | None:
        """The algorithm to add: the best candidate for the event in the camera's strongest
        scene that allows it, else a generic model, else any model of that event."""
        for scene, _conf in cam.scenes:
            for slot in self.index.scene_slots.get(scene, ()):
                if slot.event == event_type:
                    return slot.candidates[0]
        cands = self.index.event_candidates.get(event_type, ())
        if not cands:
            if not required:
                return None
            raise KnowledgeGraphError(f"no algorithm with a production version detects {event_type!r}; register and promote one "
                                      "in the catalog first (CityGraph.add_algorithm adds it to the graph at run time)")
        return cands[0]

    def undo(self, change_id: str, reason: str | None) -> GraphChange:
        target = self.changes.get(change_id)
        if target is None:
            raise UnknownChangeError(f"unknown change id {change_id!r}; list changes with CityGraph.changes(camera_id) "
                                     "or `warehouse graph changes`")
        if target.kind == "event_type_added":
            users = [a.id for a in self.index.ontology.algorithms.values() if target.event_type in a.event_types]
            if users:
                raise UnknownChangeError(f"change {change_id!r} added event type {target.event_type!r}, which algorithms {users} "
                                         "still detect; undo their algorithm_added changes first")
        if target.kind == "undo":
            raise UnknownChangeError(f"change {change_id!r} is itself an undo; record the original change again instead")
        if change_id in self.undone:
            raise UnknownChangeError(f"change {change_id!r} was already undone by {self.undone[change_id]!r}")
        return self._new("undo", target.camera_id, reason or f"operator undid {change_id} ({target.kind})",
                         f"reverted {target.kind}: {target.effect}", algorithm_id=target.algorithm_id,
                         event_type=target.event_type, reference_id=change_id)

    # -- state transitions (shared by live recording and journal replay) -------------------
    def replay(self, changes: list[GraphChange]) -> None:
        for ch in changes:
            self._apply(ch)
        self._seq = itertools.count(max((c.seq for c in changes), default=0) + 1)

    def _cell(self, camera_id: str, algorithm_id: str) -> FeedbackCell:
        fb = self.state.setdefault(camera_id, CameraFeedback())
        return fb.cells.setdefault(algorithm_id, FeedbackCell())

    def _apply(self, ch: GraphChange) -> None:
        self.changes[ch.change_id] = ch
        self._by_camera.setdefault(ch.camera_id, []).append(ch.change_id)
        k = ch.kind
        if k in ("camera_registered", "scene_revised"):
            self.cameras[ch.camera_id] = record_from_dict(ch.data["record"])
        elif k == "camera_removed":
            self.cameras.pop(ch.camera_id, None)
        elif k == "algorithm_added":
            ont = self.index.ontology
            alg = _node_from_dict(ch.data["algorithm"])
            self._set_ontology(dataclasses.replace(ont, algorithms={**ont.algorithms, alg.id: alg}))
        elif k == "event_type_added":
            ont = self.index.ontology
            tax = ont.taxonomy
            ev = EventType(ch.event_type, ch.data.get("name") or ch.event_type, tuple(ch.data["scenes"]), tuple(ch.data.get("objects", ())))
            self._set_ontology(dataclasses.replace(ont, taxonomy=Taxonomy(tax.version, tax.scenes, {**tax.events, ev.id: ev})))
        elif k in ("rejection", "confirmation"):
            cell = self._cell(ch.camera_id, ch.algorithm_id)
            if k == "rejection":
                cell.rejections += 1
            else:
                cell.confirmations += 1
            self._refs[("verdict", ch.camera_id, ch.reference_id)] = ch.change_id
        elif k == "miss_added":
            fb = self.state.setdefault(ch.camera_id, CameraFeedback())
            fb.added[ch.event_type] = (ch.algorithm_id, ch.reference_id, ch.change_id)
            if "offset_after" in ch.data:
                self._cell(ch.camera_id, ch.algorithm_id).rejection_offset = ch.data["offset_after"]
            self._refs[("miss", ch.camera_id, ch.reference_id)] = ch.change_id
        elif k == "miss_covered":
            self._refs[("miss", ch.camera_id, ch.reference_id)] = ch.change_id
        elif k == "undo":
            self._revert(self.changes[ch.reference_id])
            self.undone[ch.reference_id] = ch.change_id

    def _revert(self, ch: GraphChange) -> None:
        k = ch.kind
        if k == "camera_removed":
            self.cameras[ch.camera_id] = record_from_dict(ch.data["before"])
        elif k == "algorithm_added":
            ont = self.index.ontology
            algs = {a: n for a, n in ont.algorithms.items() if a != ch.algorithm_id}
            if ch.data.get("before"):
                algs[ch.algorithm_id] = _node_from_dict(ch.data["before"])
            self._set_ontology(dataclasses.replace(ont, algorithms=algs))
        elif k == "event_type_added":
            ont = self.index.ontology
            tax = ont.taxonomy
            events = {e: v for e, v in tax.events.items() if e != ch.event_type}
            self._set_ontology(dataclasses.replace(ont, taxonomy=Taxonomy(tax.version, tax.scenes, events)))
        elif k in ("camera_registered", "scene_revised"):
            before = record_from_dict(ch.data.get("before"))
            if before is None:
                self.cameras.pop(ch.camera_id, None)
            else:
                self.cameras[ch.camera_id] = before
        elif k in ("rejection", "confirmation"):
            cell = self._cell(ch.camera_id, ch.algorithm_id)
            if k == "rejection":
                cell.rejections = max(0, cell.rejections - 1)
            else:
                cell.confirmations = max(0, cell.confirmations - 1)
        elif k == "miss_added":
            fb = self.state.get(ch.camera_id)
            if fb is not None and fb.added.get(ch.event_type, ("", "", ""))[2] == ch.change_id:
                del fb.added[ch.event_type]
            if "offset_before" in ch.data:
                self._cell(ch.camera_id, ch.algorithm_id).rejection_offset = ch.data["offset_before"]

    def changes_for(self, camera_id: str | None = None) -> list[GraphChange]:
        if camera_id is None:
            return list(self.changes.values())
        return [self.changes[c] for c in self._by_camera.get(camera_id, ())]

    def feedback_for(self, camera_id: str) -> CameraFeedback | None:
        return self.state.get(camera_id)


def _node_from_dict(d: dict[str, Any]) -> AlgorithmNode:
    return AlgorithmNode(**{k: (tuple(v) if isinstance(v, list) else v) for k, v in d.items()})
