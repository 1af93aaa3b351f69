"""The records of a relevance answer: what the graph knows of a camera, its learned feedback
state, and the choices with their explanations (plain frozen data; :mod:`knowledge_graph.relevance`
decides them).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


@dataclass(frozen=True, slots=True)
class CameraFacts:
    """What the graph knows of one camera (region, scene links, hints): small, immutable,
    replaced on re-registration. Derived from the operations store's camera record by the
    control plane; the graph keeps no camera registry of its own."""

    camera_id: str
    region: str
    scenes: tuple[tuple[str, float], ...]  # (scene, confidence), strongest first
    exclude_events: frozenset[str] = frozenset()
    exclude_algorithms: frozenset[str] = frozenset()
    zones: frozenset[str] = frozenset()  # kinds of the zones and lines drawn on the camera (no_parking, lane, ...)

    @property
    def primary_scene(self) -> str | None:
        return self.scenes[0][0] if self.scenes else None


@dataclass(slots=True)
class FeedbackCell:
    """Operator verdicts on one algorithm at one camera. ``rejection_offset`` forgets the
    rejections before a resume (an inspector's miss report on a paused algorithm)."""

    confirmations: int = 0
    rejections: int = 0
    rejection_offset: int = 0

    @property
    def effective_rejections(self) -> int:
        return max(0, self.rejections - self.rejection_offset)


@dataclass(slots=True)
class CameraFeedback:
    """Per-camera learned state: verdict counts per algorithm and algorithms added after misses."""

    cells: dict[str, FeedbackCell] = field(default_factory=dict)
    added: dict[str, tuple[str, str, str]] = field(default_factory=dict)  # event -> (algorithm, miss_id, change_id)


@dataclass(frozen=True, slots=True)
class Explanation:
    """Why one algorithm runs on one camera.

    ``paths``: node-id paths through the graph, each ending at the algorithm node
    (``camera:c -> scene:s -> event:e -> algorithm:a``, ``camera:c -> region:r -> task:t ->
    event:e -> algorithm:a``, dependency chains ``... -> algorithm:a -> algorithm:dep``);
    ``reasons`` one sentence per path.
    """

    algorithm_id: str
    paths: tuple[tuple[str, ...], ...]
    reasons: tuple[str, ...]
    governance_task_ids: tuple[str, ...] = ()
    event_types: tuple[str, ...] = ()
    dependencies: tuple[str, ...] = ()  # algorithms this one pulled in
    required_by: tuple[str, ...] = ()  # algorithms that pulled this one in
    feedback: tuple[str, ...] = ()  # adjustments learned from operators
    scene_confidence: float = 1.0
    # a cascade: an evidence reader pulled in only as a need runs on the frames where these fire;
    # a track algorithm woken by its scene head runs while the head fired within the last hold_s
    triggered_by: tuple[str, ...] = ()

    @property
    def text(self) -> str:
        parts = list(self.reasons)
        if self.dependencies:
            parts.append("pulls in " + ", ".join(self.dependencies))
        if self.triggered_by:
            parts.append("runs only while " + " or ".join(self.triggered_by) + " fires (cascade)")
        parts.extend(self.feedback)
        return "; ".join(parts) + f" (scene confidence {self.scene_confidence:.2f})"

    def to_dict(self) -> dict[str, Any]:
        return {
            "algorithm_id": self.algorithm_id, "paths": [list(p) for p in self.paths], "reasons": list(self.reasons),
            "text": self.text, "governance_task_ids": list(self.governance_task_ids), "event_types": list(self.event_types),
            "dependencies": list(self.dependencies), "required_by": list(self.required_by),
            "feedback": list(self.feedback), "scene_confidence": self.scene_confidence,
            "triggered_by": list(self.triggered_by),
        }


@dataclass(frozen=True, slots=True)
class AlgorithmChoice:
    algorithm_id: str
    priority: int  # 0..100, higher first
    fps: float
    score: float  # scene confidence x feedback factor, 0..1
    explanation: Explanation

    @property
    def cascaded(self) -> bool:
        """An evidence reader that runs only where its dependents fire (``explanation.triggered_by``)."""
        return bool(self.explanation.triggered_by)

    def to_dict(self) -> dict[str, Any]:
        return {"algorithm_id": self.algorithm_id, "priority": self.priority, "fps": self.fps, "score": round(self.score, 4),
                "cascaded": self.cascaded, "explanation": self.explanation.to_dict()}


@dataclass(frozen=True, slots=True)
class Exclusion:
    """Something the camera would have run but does not, and why."""

    subject: str  # node id: event:e or algorithm:a
    reason: str
    rule_id: str | None = None


@dataclass(frozen=True, slots=True)
class Relevance:
    """The answer for one camera at one time; ``choices`` sorted by priority then score.

    >>> rel = graph.relevance("cam-1", at=datetime(2024, 5, 1, 23, 0))   # doctest: +SKIP
    >>> [c.algorithm_id for c in rel.choices][:2]                         # doctest: +SKIP
    """

    camera_id: str
    at: datetime
    ontology_version: int
    choices: tuple[AlgorithmChoice, ...]
    excluded: tuple[Exclusion, ...] = ()

    def algorithm_ids(self) -> list[str]:
        return [c.algorithm_id for c in self.choices]

    def get(self, algorithm_id: str) -> AlgorithmChoice | None:
        return next((c for c in self.choices if c.algorithm_id == algorithm_id), None)

    def to_dict(self) -> dict[str, Any]:
        return {
            "camera_id": self.camera_id, "at": self.at.isoformat(), "ontology_version": self.ontology_version,
            "choices": [c.to_dict() for c in self.choices],
            "excluded": [{"subject": x.subject, "reason": x.reason, "rule_id": x.rule_id} for x in self.excluded],
        }
