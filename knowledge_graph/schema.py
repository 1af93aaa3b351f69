"""The ontology's records: frozen, slotted, plain data (no graph, no I/O).

Built by :func:`knowledge_graph.loader.load_ontology`, compiled into indexes by
:mod:`knowledge_graph.index`.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from catalog import Taxonomy

from knowledge_graph.timewindow import TimeWindow


@dataclass(frozen=True, slots=True)
class AlgorithmNode:
    """An algorithm as the graph sees it: what it detects, in which scenes, what it needs.

    Built from the catalog's records (:func:`knowledge_graph.algorithm_from_record`), never by
    hand: the catalog is the one list of algorithms. ``scene_tags == ()`` means "any scene
    where its events can happen" (a generic model). ``production`` is False for an algorithm
    the catalog knows but has no production version of (the graph never chooses it; it is
    reported as excluded); ``cost_ms`` is the production version's measured cost per frame
    (``CostProfile.latency_ms_per_frame``), ``None`` when the catalog holds no profile.
    """

    id: str
    kind: str
    event_types: tuple[str, ...] = ()
    scene_tags: tuple[str, ...] = ()
    objects: tuple[str, ...] = ()
    depends_on: tuple[str, ...] = ()
    source: str = "catalog"
    production: bool = True
    cost_ms: float | None = None


@dataclass(frozen=True, slots=True)
class Region:
    id: str
    name: str
    parent: str | None


@dataclass(frozen=True, slots=True)
class GovernanceTask:
    """A department asks for events (or algorithms) in regions, time windows, at a priority."""

    id: str
    department: str
    events: tuple[str, ...]
    algorithms: tuple[str, ...]
    regions: tuple[str, ...]
    scenes: tuple[str, ...]  # () = any scene
    windows: tuple[TimeWindow, ...]  # () = all day
    days: frozenset[int]  # datetime.weekday() numbers
    priority: int
    fps: float

    def active(self, minute_of_day: int, weekday: int) -> bool:
        """Is the task asking right now? The part of a window after midnight belongs to
        the day the window started on (a Friday-night window still runs at Sat 02:00)."""
        if not self.windows:
            return weekday in self.days
        for w in self.windows:
            if w.start_min < w.end_min:
                if weekday in self.days and w.start_min <= minute_of_day < w.end_min:
                    return True
            elif minute_of_day >= w.start_min:
                if weekday in self.days:
                    return True
            elif minute_of_day < w.end_min and (weekday - 1) % 7 in self.days:
                return True
        return False

    def applies_to_scene(self, scene: str) -> bool:
        return not self.scenes or scene in self.scenes


@dataclass(frozen=True, slots=True)
class Dependency:
    """Every algorithm whose id matches ``pattern`` (fnmatch) needs ``requires`` to run.

    ``cascade``: the requirements are evidence readers that run only on the frames (and in
    the regions) where the dependent fires, not at its rate (``runtime.cascade``);
    ``crop_from``: (reader, detector) pairs -- the reader reads the detector's boxes (the
    text reader reads the plate detector's plates); ``reread_s``: while the dependent keeps
    firing, a region the readers read is read again after this long (None: the runtime's
    default, ``runtime.Cascade.reread_s``); a new region is read at once.
    """

    pattern: str
    requires: tuple[str, ...]
    reason: str
    cascade: bool = False
    crop_from: tuple[tuple[str, str], ...] = ()
    reread_s: float | None = None


@dataclass(frozen=True, slots=True)
class NegativeRule:
    """What a camera never needs: by its primary scene or by its region (and below)."""

    id: str
    scene: str | None
    region: str | None
    never_events: tuple[str, ...]
    never_algorithms: tuple[str, ...]
    reason: str


@dataclass(frozen=True, slots=True)
class Defaults:
    min_scene_confidence: float = 0.25
    baseline_priority: int = 10
    baseline_fps: float = 1.0
    scene_monitor_priority: int = 1
    scene_monitor_fps: float = 0.2
    uncertain_below: float = 0.6
    uncertain_cover: float = 0.6
    uncertain_floor: float = 0.1
    uncertain_ratio: float = 0.5


@dataclass(frozen=True, slots=True)
class FeedbackPolicy:
    """Beta prior on one algorithm's precision at one camera, and when to pause it.

    >>> p = FeedbackPolicy()
    >>> round(p.precision(0, 0), 2), p.paused(0, 2), p.paused(0, 7)
    (0.8, False, True)
    """

    prior_confirmations: float = 4.0
    prior_rejections: float = 1.0
    pause_below_precision: float = 0.35
    min_rejections_to_pause: int = 3

    def precision(self, confirmations: int, rejections: int) -> float:
        a = self.prior_confirmations + confirmations
        return a / (a + self.prior_rejections + rejections)

    def factor(self, confirmations: int, rejections: int) -> float:
        """Relevance multiplier: posterior precision over prior precision, capped at 1."""
        prior = self.prior_confirmations / (self.prior_confirmations + self.prior_rejections)
        return min(1.0, self.precision(confirmations, rejections) / prior)

    def paused(self, confirmations: int, rejections: int) -> bool:
        return rejections >= self.min_rejections_to_pause and self.precision(confirmations, rejections) < self.pause_below_precision


@dataclass(frozen=True)
class Ontology:
    """Everything loaded and validated; the taxonomy supplies scenes and events."""

    version: int
    taxonomy: Taxonomy
    defaults: Defaults
    feedback: FeedbackPolicy
    object_classes: dict[str, str]
    regions: dict[str, Region]
    algorithms: dict[str, AlgorithmNode]
    dependencies: tuple[Dependency, ...]
    tasks: dict[str, GovernanceTask]
    negative: tuple[NegativeRule, ...]
    demand_only_events: frozenset[str]
    source: str = "<memory>"
    extra: dict[str, Any] = field(default_factory=dict)
    # zone / line kind drawn on a camera -> the track algorithms it asks for (runtime.tracking)
    zone_algorithms: dict[str, tuple[str, ...]] = field(default_factory=dict)
    # algorithm pattern -> the source detector one pass of which serves them all on a camera
    shared_sources: dict[str, tuple[str, ...]] = field(default_factory=dict)  # algorithm pattern -> source detectors
    # wake-up cascades: algorithm -> the head patterns that wake it; and how long it stays awake
    wake_up: dict[str, tuple[str, ...]] = field(default_factory=dict)
    wake_hold_s: float = 300.0
