"""What the detector stage runs, and when (pure): detector specs, rates, event mappings, stats.

:class:`DetectorSpec` says how one real detector (``runtime.detectors``) is built, at which
rate it runs per camera and which of its detections make its event (:class:`EventMapping`);
:func:`detector_due` / :func:`next_anchor_ms` decide from frame timestamps when it is due,
:func:`backoff_ms` how long a failing one rests, and :func:`event_inputs` turns its results
into the ``runtime.Detection`` inputs of the event logic. The stage that runs them is
:class:`runtime.detector_stage.DetectorStage`.
"""
from __future__ import annotations

import dataclasses
import functools
import math
import re
from dataclasses import dataclass
from typing import Any, Callable, Mapping, Sequence

from runtime.detection import Detection
from runtime.detectors.base import DetectorError

__all__ = [
    "AlgorithmStats", "DetectorHealth", "DetectorSpec", "DetectorStageConfigError", "DetectorStageError", "EventMapping",
    "StageStats", "UnknownAlgorithmError", "backoff_ms", "detector_due", "event_inputs", "next_anchor_ms",
    "registry_factory",
]


class DetectorStageError(DetectorError):
    """Base of the detector stage's errors (a ``RuntimeError``, like every detector error)."""


class DetectorStageConfigError(DetectorStageError, ValueError):
    """A spec, rate, backoff or assignment the stage cannot use; the message names the fix."""


class UnknownAlgorithmError(DetectorStageError, KeyError):
    """An algorithm id the stage has no detector for; the message lists the valid ids."""

    def __str__(self) -> str:  # KeyError would show the repr of the message
        return str(self.args[0])


# -- rate control (pure) -----------------------------------------------------------------
def detector_due(anchor_ms: float | None, now_ts_ms: float, rate_fps: float) -> bool:
    """Whether a detector at ``rate_fps`` is due on a frame at ``now_ts_ms`` (pure).

    ``anchor_ms`` is the grid time of its last run (:func:`next_anchor_ms`; ``None``: never
    ran). Due once a whole period has passed since the anchor, or when time went back by
    more than a period (a looped file).

    >>> [t for t in range(0, 1000, 100) if detector_due(0, t, 2.5)], detector_due(None, 5, 1)
    ([400, 500, 600, 700, 800, 900], True)
    """
    if anchor_ms is None:
        return True
    period_ms = 1000.0 / rate_fps
    return now_ts_ms - anchor_ms >= period_ms or now_ts_ms < anchor_ms - period_ms


def next_anchor_ms(anchor_ms: float | None, now_ts_ms: float, rate_fps: float) -> float:
    """The anchor to keep after running at ``now_ts_ms`` (pure).

    On the grid (``anchor + period``) while the stream keeps up, so timestamp jitter does not
    drag the rate down (3 fps on a 10 fps camera runs 3 times a second, not 2.5); restarted at
    ``now`` after a gap of two periods or more (no catch-up burst) or when time went back.
    The anchor never passes ``now``, so the next run comes at most one period after this one
    plus the wait for the next frame that reaches the stage.

    >>> next_anchor_ms(0, 400, 3.0), next_anchor_ms(0, 5000, 3.0), next_anchor_ms(None, 70, 1)
    (333.3333333333333, 5000, 70)
    """
    period_ms = 1000.0 / rate_fps
    if anchor_ms is None or now_ts_ms < anchor_ms or now_ts_ms - anchor_ms >= 2 * period_ms:
        return now_ts_ms
    return anchor_ms + period_ms


def backoff_ms(consecutive_failures: int, *, base_s: float, max_s: float) -> float:
    """How long a failing detector rests after its n-th failure in a row: base doubling to max (pure).

    >>> [backoff_ms(n, base_s=2, max_s=10) for n in (1, 2, 3, 4)]
    [2000.0, 4000.0, 8000.0, 10000.0]
    """
    return 1000.0 * min(max_s, base_s * 2.0 ** max(0, consecutive_failures - 1))


# -- records -------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class EventMapping:
    """Which detections of an algorithm are evidence for its event.

    ``labels``: only these detection labels count (``None``: all); ``text_regex``: OCR text
    must match (``re.search``, e.g. ``"NO (PARKING|DUMPING)"``); ``min_score``: lower scores
    are ignored (the event policy's threshold still applies afterwards).
    """

    labels: frozenset[str] | None = None
    text_regex: str | None = None
    min_score: float = 0.0

    def __post_init__(self) -> None:
        if self.labels is not None:
            object.__setattr__(self, "labels", frozenset([self.labels] if isinstance(self.labels, str) else self.labels))
        if self.text_regex is not None:
            try:
                re.compile(self.text_regex)
            except re.error as exc:
                raise DetectorStageConfigError(f"text_regex {self.text_regex!r} is not a valid regular expression ({exc})") from None
        if not 0.0 <= float(self.min_score) <= 1.0:
            raise DetectorStageConfigError(f"min_score={self.min_score!r}; expected a score in [0, 1]")

    def accepts(self, d: Detection) -> bool:
        if d.score < self.min_score or (self.labels is not None and d.label not in self.labels):
            return False
        return self.text_regex is None or (d.text is not None and re.search(self.text_regex, d.text) is not None)


@dataclass(frozen=True, slots=True)
class DetectorSpec:
    """One algorithm served by a real detector.

    ``detector``: a ready detector (anything with ``detect(image_bgr)``) or a zero-argument
    factory building one (a class, :func:`registry_factory`, :func:`runtime.detectors.bundle.bundle_factory`); only a
    factory frees memory when evicted. ``memory_mib`` is what it counts against the budget.
    """

    detector: Any
    rate_fps: float
    version: str = ""
    events: EventMapping | None = None
    memory_mib: float = 0.0
    pinned: bool = False

    def __post_init__(self) -> None:
        if not (callable(self.detector) or callable(getattr(self.detector, "detect", None))):
            raise DetectorStageConfigError(f"detector {self.detector!r} is neither a detector (with .detect) nor a factory; "
                                           "pass registry_factory(default_detector_registry(), name) or an instance")
        if not (isinstance(self.rate_fps, (int, float)) and math.isfinite(self.rate_fps) and self.rate_fps > 0):
            raise DetectorStageConfigError(f"rate_fps={self.rate_fps!r}; expected a rate > 0, e.g. 1 or 0.2")
        if not (isinstance(self.memory_mib, (int, float)) and self.memory_mib >= 0):
            raise DetectorStageConfigError(f"memory_mib={self.memory_mib!r}; expected MiB >= 0 (the weights' size)")
        if self.events is not None and not isinstance(self.events, EventMapping):
            raise DetectorStageConfigError(f"events={self.events!r}; expected an EventMapping or None")

    def load(self) -> Any:
        d = self.detector
        if isinstance(d, type) or not callable(getattr(d, "detect", None)):
            d = d()  # a factory: weights are loaded now
        if not callable(getattr(d, "detect", None)):
            raise DetectorStageError(f"factory {self.detector!r} returned {type(d).__name__}; expected a detector with .detect(image_bgr)")
        return d


def registry_factory(registry: Any, name: str, **kwargs: Any) -> Callable[[], Any]:
    """A picklable factory for ``registry.create(name, **kwargs)`` (checks the name now)."""
    if name not in registry:
        registry.create(name)  # raises UnknownDetectorError listing the valid names
    return functools.partial(registry.create, name, **kwargs)


@dataclass(frozen=True, slots=True)
class AlgorithmStats:
    algorithm_id: str
    runs: int
    skipped_not_due: int
    skipped_unhealthy: int
    errors: int
    run_ms_total: float
    run_ms_max: float
    skipped_not_triggered: int = 0  # a cascaded reader on frames where none of its triggers fired
    crops: int = 0  # regions a cascaded reader read (a whole frame counts one)

    @property
    def run_ms_mean(self) -> float:
        return self.run_ms_total / self.runs if self.runs else 0.0


@dataclass(frozen=True, slots=True)
class StageStats:
    frames: int  # frames handed to run() for cameras with detectors
    frames_with_runs: int
    overhead_ms_total: float  # time in run() outside the detectors (decisions, bookkeeping)
    algorithms: tuple[AlgorithmStats, ...]

    def of(self, algorithm_id: str) -> AlgorithmStats:
        for a in self.algorithms:
            if a.algorithm_id == algorithm_id:
                return a
        raise UnknownAlgorithmError(f"no statistics for {algorithm_id!r}; known: {[a.algorithm_id for a in self.algorithms]}")


@dataclass(frozen=True, slots=True)
class DetectorHealth:
    camera_id: str
    algorithm_id: str
    healthy: bool
    consecutive_failures: int
    retry_at_ts_ms: float
    last_error: str


def event_inputs(results: Mapping[str, Sequence[Detection]], *, image_wh: tuple[int, int],
                 model_versions: Mapping[str, str] | None = None,
                 mappings: Mapping[str, EventMapping | None] | None = None) -> dict[str, Detection]:
    """Detector results -> one ``runtime.Detection`` per algorithm for ``EventDetector.update`` (pure).

    The best-scoring detection that the algorithm's :class:`EventMapping` accepts, with its
    box; an algorithm that ran and found nothing gives score 0 on the whole frame, so the
    persistence window sees the miss (an algorithm that did not run is absent: not a miss).

    >>> r = {"face": [Detection(label="face", score=0.6, xyxy=(1, 2, 3, 4)), Detection(label="face", score=0.9, xyxy=(5, 6, 7, 8))],
    ...      "ocr": []}
    >>> ev = event_inputs(r, image_wh=(64, 48), model_versions={"face": "3"})
    >>> str(ev["face"]), ev["face"].model_version, ev["ocr"].score, ev["ocr"].xyxy
    ('face 0.90 [5,6,7,8]', '3', 0.0, (0.0, 0.0, 64.0, 48.0))
    """
    versions, maps = model_versions or {}, mappings or {}
    out: dict[str, Detection] = {}
    for alg, dets in results.items():
        m = maps.get(alg)
        kept = [d for d in dets if m is None or m.accepts(d)]
        version = versions.get(alg, "")
        if kept:
            best = max(kept, key=lambda d: d.score)
            out[alg] = dataclasses.replace(best, model_version=version or best.model_version)
        else:
            out[alg] = Detection(score=0.0, xyxy=(0.0, 0.0, float(image_wh[0]), float(image_wh[1])), model_version=version)
    return out
