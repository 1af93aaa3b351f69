"""CityGraph: the city's knowledge graph, per-camera relevance with explanations, and learning.

>>> from datetime import datetime
>>> g = CityGraph.from_catalog(catalog)     # bundled ontology + the catalog records  # doctest: +SKIP
>>> _ = g.add_camera("cam-sea-1", region="coast", scenes={"seafront": 0.92, "road": 0.3})
>>> rel = g.relevance("cam-sea-1", at=datetime(2024, 5, 1, 23, 0))
>>> any("parking" in a for a in rel.algorithm_ids())       # a camera facing the sea
False
>>> rel.choices[0].explanation.paths[0][-1] == "algorithm:" + rel.choices[0].algorithm_id
True
"""
from __future__ import annotations

import dataclasses
import logging
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import networkx as nx

from knowledge_graph.errors import KnowledgeGraphError, UnknownCameraError
from knowledge_graph.index import CompiledOntology, node
from knowledge_graph.journal import ChangeJournal, GraphChange
from knowledge_graph.loader import algorithm_from_record, algorithms_from_catalog, load_ontology
from knowledge_graph.relevance import CameraFacts, Explanation, Relevance, camera_facts, decide_relevance
from knowledge_graph.feedback import FeedbackLearner
from knowledge_graph.schema import AlgorithmNode, Ontology
from knowledge_graph.validate import catalog_gaps

log = logging.getLogger(__name__)

HINT_KEYS = ("exclude_events", "exclude_algorithms", "scene", "zones")
HINT_SCENE_CONFIDENCE = 0.9  # an installer's scene hint: trusted, not certain


@dataclass(frozen=True, slots=True)
class CameraReport:
    """What ``warehouse graph explain`` shows: the camera, its relevance, and its history."""

    camera: CameraFacts
    relevance: Relevance
    changes: tuple[GraphChange, ...]

    def to_dict(self) -> dict[str, Any]:
        c = self.camera
        return {
            "camera": {"camera_id": c.camera_id, "region": c.region, "scenes": dict(c.scenes),
                       "primary_scene": c.primary_scene, "hints": {"exclude_events": sorted(c.exclude_events),
                                                                   "exclude_algorithms": sorted(c.exclude_algorithms),
                                                                   "zones": sorted(c.zones)}},
            **self.relevance.to_dict(),
            "changes": [ch.to_dict() for ch in self.changes],
        }

    def text(self) -> str:
        c, r = self.camera, self.relevance
        scenes = ", ".join(f"{s} {conf:.2f}" for s, conf in c.scenes)
        lines = [f"camera {c.camera_id} in region {c.region}; scenes: {scenes or 'none'}; at {r.at:%Y-%m-%d %H:%M} "
                 f"(ontology v{r.ontology_version}); {len(r.choices)} algorithms"]
        for ch in r.choices:
            lines.append(f"  [{ch.priority:3d}] {ch.algorithm_id}  {ch.fps:g} fps  score {ch.score:.2f}")
            for path, why in zip(ch.explanation.paths, ch.explanation.reasons):
                lines.append(f"        {' -> '.join(path)}")
                lines.append(f"          because {why}")
            for note in ch.explanation.feedback:
                lines.append(f"          {note}")
        if r.excluded:
            lines.append("  not run:")
            lines.extend(f"    {x.subject}: {x.reason}" for x in r.excluded)
        if self.changes:
            lines.append("  changes:")
            lines.extend(f"    {ch}  -- {ch.reason}" for ch in self.changes)
        return "\n".join(lines)


class CityGraph:
    """Ontology + cameras + learned feedback; answers relevance queries fast.

    Build with :meth:`load`; pass ``journal=`` to persist cameras and feedback as an
    append-only JSONL journal that is replayed on the next :meth:`load`.
    """

    def __init__(self, ontology: Ontology, *, journal: str | Path | None = None, fsync: bool = True) -> None:
        self._cameras: dict[str, CameraFacts] = {}
        jr = ChangeJournal(journal, fsync=fsync) if journal is not None else None
        self._learner = FeedbackLearner(CompiledOntology(ontology), self._cameras, jr)
        if jr is not None:
            changes = jr.read()
            self._learner.replay(changes)
            log.info("graph journal %s replayed: %d changes, %d cameras", jr.path, len(changes), len(self._cameras))

    @classmethod
    def load(
        cls,
        ontology: str | Path | Mapping[str, Any] | None = None,
        *,
        algorithms: Iterable[Any] | None,
        journal: str | Path | None = None,
        fsync: bool = True,
    ) -> "CityGraph":
        """Load the ontology YAML (default: bundled ``city.yaml``) over the catalog's algorithm
        records (``Catalog.list_algorithms()`` or :func:`knowledge_graph.algorithms_from_catalog`),
        and replay ``journal`` if given."""
        ont = load_ontology(ontology, algorithms=algorithms)
        return cls(ont, journal=journal, fsync=fsync)

    @classmethod
    def from_catalog(cls, catalog: Any, ontology: str | Path | Mapping[str, Any] | None = None, *,
                     journal: str | Path | None = None, fsync: bool = True) -> "CityGraph":
        """The graph over a live :class:`catalog.Catalog`: every registered algorithm is a node,
        chosen only if it has a production version, with its measured cost."""
        return cls.load(ontology, algorithms=algorithms_from_catalog(catalog), journal=journal, fsync=fsync)

    @property
    def index(self) -> CompiledOntology:
        return self._learner.index

    @property
    def ontology(self) -> Ontology:
        return self._learner.index.ontology

    def catalog_gaps(self) -> list[str]:
        """What the ontology expects that the catalog does not hold (see :func:`knowledge_graph.validate.catalog_gaps`)."""
        return catalog_gaps(self.ontology)

    # -- cameras ---------------------------------------------------------------------------
    def add_camera(
        self,
        camera_id: str,
        region: str,
        scenes: Mapping[str, float],
        hints: Mapping[str, Iterable[str]] | None = None,
        *,
        reason: str = "registered by operator",
    ) -> GraphChange:
        """Register (or re-register) a camera with its scene links ``{scene: confidence}``.

        ``hints``: ``exclude_events`` / ``exclude_algorithms`` this camera never needs, and
        ``scene`` (a scene id or a list): what the installer typed, respected as the primary
        link at confidence >= 0.9 beside the other links; ``zones``: the kinds of the zones and
        lines drawn on the camera (``no_parking``, ``lane``, ...), which ask for the track
        algorithms that use them (the ontology's ``zone_algorithms``)."""
        self._validate_camera(camera_id, region, scenes, hints)
        hinted = (hints or {}).get("scene")
        if hinted:
            scenes = dict(scenes)
            for sc in [hinted] if isinstance(hinted, str) else hinted:
                scenes[sc] = max(scenes.get(sc, 0.0), HINT_SCENE_CONFIDENCE)
            reason += f"; scene hint {hinted!r} respected"
        return self._learner.register_camera(camera_facts(camera_id, region, scenes, hints), reason)

    def region_scene_prior(self, region: str, *, exclude: str | None = None, alpha: float = 0.5) -> dict[str, float]:
        """P(scene | region) from the primary scenes of the cameras registered in ``region``,
        its ancestors' other descendants excluded (add-``alpha`` smoothing over all scenes);
        ``{}`` when the region has no other camera."""
        counts: dict[str, int] = {}
        for cid, cam in self._cameras.items():
            if cid != exclude and cam.region == region and cam.primary_scene is not None:
                counts[cam.primary_scene] = counts.get(cam.primary_scene, 0) + 1
        if not counts:
            return {}
        scenes = self.ontology.taxonomy.scenes
        n = sum(counts.values())
        return {s: (counts.get(s, 0) + alpha) / (n + alpha * len(scenes)) for s in scenes}

    def add_discovered_camera(self, camera_id: str, region: str, estimate: Any, hints: Mapping[str, Iterable[str]] | None = None,
                              *, prior_weight: float = 0.5) -> GraphChange:
        """Register a camera from scene discovery (a :class:`~knowledge_graph.SceneEstimate`),
        its confidences reweighted by the scenes of neighbouring cameras in the same region
        (``prior_weight=0`` to ignore them). The reason records both."""
        prior = self.region_scene_prior(region, exclude=camera_id)
        est = estimate.with_prior(prior, weight=prior_weight) if prior and prior_weight > 0 else estimate
        n = sum(1 for c in self._cameras.values() if c.region == region and c.camera_id != camera_id)
        reason = (f"scene discovery from {estimate.frames} frames: {estimate.primary} {estimate.primary_confidence:.2f}"
                  + (f"; with the scenes of {n} neighbouring cameras in {region}: {est.primary} {est.primary_confidence:.2f}" if est is not estimate else "")
                  + ("; flagged for review" if est.needs_review else ""))
        return self.add_camera(camera_id, region, est.links(self.ontology.defaults.uncertain_floor), hints, reason=reason)

    def set_camera_zones(self, camera_id: str, kinds: Iterable[str], *, reason: str = "zones edited by operator") -> GraphChange | None:
        """The kinds of the zones and lines now drawn on a registered camera (the operations
        record changed): its track algorithms follow, its scene links and learned feedback stay
        (unlike a re-registration). Journaled and undoable; ``None`` when nothing changed.

        >>> g.set_camera_zones("cam-7", ["no_parking", "lane"])   # doctest: +SKIP
        """
        cam = self.camera(camera_id)
        new = frozenset([kinds] if isinstance(kinds, str) else kinds)
        self._validate_camera(camera_id, cam.region, dict(cam.scenes), {"zones": sorted(new)})
        if new == cam.zones:
            return None
        return self._learner.register_camera(dataclasses.replace(cam, zones=new),
                                             f"{reason}: zones {sorted(cam.zones)} -> {sorted(new)}")

    def remove_camera(self, camera_id: str, *, reason: str = "removed by operator") -> GraphChange:
        """Forget a camera (journaled; :meth:`undo` restores it). Its learned feedback is kept,
        so a camera removed and registered again does not relearn its operators' verdicts."""
        return self._learner.remove_camera(camera_id, reason)

    # -- the ontology at run time ------------------------------------------------------------
    def add_algorithm(self, record: Any, *, reason: str = "registered in the catalog") -> GraphChange:
        """Add (or replace) one algorithm node at run time from its catalog record (an
        :class:`catalog.AlgorithmSpec`, a dict, or an :class:`AlgorithmNode`); journaled and
        undoable. Cameras whose scenes allow its events get it from the next query on.

        >>> ch = g.add_algorithm(catalog.get_algorithm("scene.road.kite"))   # doctest: +SKIP
        >>> _ = g.undo(ch.change_id)                                         # doctest: +SKIP
        """
        alg = algorithm_from_record(record, object_classes=self.ontology.object_classes)
        return self._learner.add_algorithm(alg, reason)

    def sync_catalog(self, catalog: Any, *, reason: str = "catalog re-read") -> list[GraphChange]:
        """Bring the algorithm nodes in line with a live catalog: each record that is new or
        changed (a version promoted, rolled back or retired, a cost re-measured) becomes one
        journaled :meth:`add_algorithm` change. What the control plane calls when it wakes on
        ``model-updates`` or re-reads the catalog; a no-op when nothing changed."""
        out = []
        for n in algorithms_from_catalog(catalog):
            if self.ontology.algorithms.get(n.id) != n:
                state = "production" if n.production else "no production version"
                out.append(self._learner.add_algorithm(n, f"{reason}: {n.id} ({state})"))
        return out

    def add_event_type(self, event: str, scenes: Iterable[str], *, name: str | None = None, objects: Iterable[str] = (),
                       reason: str = "new event type") -> GraphChange:
        """Add an event type that can happen in ``scenes`` (journaled, undoable once no
        algorithm detects it); then :meth:`add_algorithm` a detector for it."""
        return self._learner.add_event_type(event, tuple(scenes), name or event.replace("_", " ").capitalize(), tuple(objects), reason)

    def _validate_camera(self, camera_id: str, region: str, scenes: Mapping[str, float], hints: Mapping[str, Any] | None) -> None:
        ont = self.ontology
        if not camera_id or not isinstance(camera_id, str):
            raise KnowledgeGraphError(f"camera id {camera_id!r} must be a non-empty string")
        if region not in ont.regions:
            raise KnowledgeGraphError(f"camera {camera_id!r}: unknown region {region!r}; use one of {sorted(ont.regions)} "
                                      "or add it under `regions` in the ontology YAML")
        for s, conf in scenes.items():
            if s not in ont.taxonomy.scenes:
                ont.taxonomy.require_scene(s)  # TaxonomyError names close matches and the fix
            if not 0.0 <= float(conf) <= 1.0:
                raise KnowledgeGraphError(f"camera {camera_id!r}: confidence {conf!r} for scene {s!r} is outside [0, 1]")
        for key, values in (hints or {}).items():
            if key not in HINT_KEYS:
                raise KnowledgeGraphError(f"camera {camera_id!r}: unknown hint {key!r}; valid hints are {list(HINT_KEYS)}")
            if key == "scene":
                for sc in [values] if isinstance(values, str) else values:
                    ont.taxonomy.require_scene(sc)  # TaxonomyError names close matches
                continue
            if key == "zones":
                bad = [v for v in ([values] if isinstance(values, str) else values) if v not in ont.zone_algorithms]
                if bad:
                    raise KnowledgeGraphError(f"camera {camera_id!r}: zone kinds {bad} are not known to the ontology; "
                                              f"use {sorted(ont.zone_algorithms)} (zone_algorithms in the ontology YAML)")
                continue
            known = ont.taxonomy.events if key == "exclude_events" else ont.algorithms
            bad = [v for v in values if v not in known]
            if bad:
                raise KnowledgeGraphError(f"camera {camera_id!r}: hint {key} names unknown ids {bad}; use taxonomy event ids / catalog algorithm ids")

    def algorithm(self, algorithm_id: str) -> AlgorithmNode:
        try:
            return self.ontology.algorithms[algorithm_id]
        except KeyError:
            raise KnowledgeGraphError(f"unknown algorithm {algorithm_id!r}; the graph knows the catalog's "
                                      f"{len(self.ontology.algorithms)} algorithms") from None

    def camera(self, camera_id: str) -> CameraFacts:
        try:
            return self._cameras[camera_id]
        except KeyError:
            raise UnknownCameraError(camera_id, len(self._cameras)) from None

    @property
    def camera_ids(self) -> list[str]:
        return list(self._cameras)

    def __len__(self) -> int:
        return len(self._cameras)

    def __contains__(self, camera_id: object) -> bool:
        return camera_id in self._cameras

    # -- queries ---------------------------------------------------------------------------
    def relevance(self, camera_id: str, at: datetime | None = None) -> Relevance:
        """Algorithms camera ``camera_id`` should run at ``at`` (local time; default now)."""
        cam = self.camera(camera_id)
        return decide_relevance(self.index, cam, self._learner.state.get(camera_id), at or datetime.now())

    def relevance_all(self, at: datetime | None = None) -> Iterator[Relevance]:
        """Relevance of every camera at one time (what the scheduler plans from)."""
        at = at or datetime.now()
        state, idx = self._learner.state, self.index
        for cid, cam in self._cameras.items():
            yield decide_relevance(idx, cam, state.get(cid), at)

    def explain(self, camera_id: str, at: datetime | None = None, *, algorithm_id: str | None = None) -> CameraReport | Explanation:
        """The full report for a camera, or the :class:`Explanation` of one algorithm on it."""
        rel = self.relevance(camera_id, at)
        if algorithm_id is None:
            return CameraReport(self.camera(camera_id), rel, tuple(self._learner.changes_for(camera_id)))
        choice = rel.get(algorithm_id)
        if choice is None:
            why = [x.reason for x in rel.excluded if x.subject == node("algorithm", algorithm_id)]
            raise KnowledgeGraphError(
                f"algorithm {algorithm_id!r} does not run on camera {camera_id!r}"
                + (f": {why[0]}" if why else "; none of its scenes, tasks or misses asks for it")
                + "; see CityGraph.explain(camera_id) for what does")
        return choice.explanation

    # -- learning --------------------------------------------------------------------------
    def record_rejection(self, camera_id: str, algorithm_id: str, alert_id: str, *, reason: str | None = None) -> GraphChange:
        """An operator rejected alert ``alert_id``: lowers the algorithm's relevance on this
        camera; past the policy's threshold the algorithm is paused there. Idempotent per alert."""
        return self._learner.record_verdict("rejection", camera_id, algorithm_id, alert_id, reason)

    def record_confirmation(self, camera_id: str, algorithm_id: str, alert_id: str, *, reason: str | None = None) -> GraphChange:
        """An operator confirmed alert ``alert_id``: raises the precision estimate back."""
        return self._learner.record_verdict("confirmation", camera_id, algorithm_id, alert_id, reason)

    def record_miss(self, camera_id: str, event_type: str, miss_id: str, *, at: datetime | None = None,
                    reason: str | None = None) -> GraphChange:
        """An inspector reported a missed ``event_type``: if no algorithm of the camera covers
        it, one is added (resumed if it had been paused); otherwise it is only recorded."""
        rel = self.relevance(camera_id, at)
        return self._learner.record_miss(camera_id, event_type, miss_id, rel, reason)

    def undo(self, change_id: str, *, reason: str | None = None) -> GraphChange:
        """Revert one recorded change; the undo is itself a recorded change."""
        return self._learner.undo(change_id, reason)

    def undone_by(self, change_id: str) -> str | None:
        """The id of the change that undid ``change_id``, or ``None``."""
        return self._learner.undone.get(change_id)

    def changes(self, camera_id: str | None = None) -> list[GraphChange]:
        return self._learner.changes_for(camera_id)

    def is_paused(self, camera_id: str, algorithm_id: str) -> bool:
        fb = self._learner.state.get(camera_id)
        cell = fb.cells.get(algorithm_id) if fb else None
        return bool(cell) and self.ontology.feedback.paused(cell.confirmations, cell.effective_rejections)

    # -- graph view ------------------------------------------------------------------------
    def networkx(self, camera_ids: Iterable[str] | None = None) -> nx.DiGraph:
        """A copy of the ontology graph with the given cameras (default: all) as nodes, linked
        to their scenes (``confidence``), region, and algorithms added after misses."""
        g = self.index.graph.copy()
        for cid in (self._cameras if camera_ids is None else camera_ids):
            cam = self.camera(cid)
            cn = node("camera", cid)
            g.add_node(cn, kind="camera")
            g.add_edge(cn, node("region", cam.region), rel="located_in")
            for s, conf in cam.scenes:
                g.add_edge(cn, node("scene", s), rel="sees", confidence=conf)
            for kind in sorted(cam.zones):
                g.add_edge(cn, node("zone", kind), rel="has_zone")
            fb = self._learner.state.get(cid)
            for e, (a, miss_id, _ch) in (fb.added.items() if fb else ()):
                g.add_edge(cn, node("algorithm", a), rel="added_after_miss", event=e, miss_id=miss_id)
        return g

    def close(self) -> None:
        if self._learner.journal is not None:
            self._learner.journal.close()
