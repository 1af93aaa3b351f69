"""The real detectors (OCR, faces, people, plates...) inside the runtime, each at its own rate.

Next to the shared backbone + fused head bank (``InferenceCore``), a camera may run real
detectors with their own networks (``runtime.detectors``). They are far dearer than a head
(MTCNN ~60 ms, OCR ~260 ms of CPU per frame), so each runs at its own rate per camera:
a detector at 1 fps on a 10 fps camera runs on 1 frame in 10. The rate is decided by a
pure function of frame timestamps (:func:`detector_due`), so frames skipped by the change
gate (which never reach the stage) do not count, and a detector runs on the first frame
that reaches the stage once its period has passed (it cannot starve).

Detectors are loaded on first use through a :class:`~runtime.residency.ModelResidency`
(evicted under its memory budget, reloaded on next use; pinned ones stay). A detector that
raises is logged with its camera and algorithm ids and backs off (in frame time) on that
camera; the others carry on. :meth:`DetectorStage.event_inputs` turns the results into
``runtime.Detection`` inputs for ``EventDetector.update``, so detector alerts flow exactly
like head alerts.

Evidence readers run as a cascade (:mod:`runtime.cascade`, DeepStream's secondary inference):
a reader with a :class:`~runtime.cascade.Cascade` rule runs only on the frames where one of its
triggers fired -- a head over its threshold (``run(frame, fired=..., assigned=...)``, the
worker passes the heads that fired) or a detector of the stage that found what its event
mapping accepts -- inside the trigger's regions (the plate detector's plates for the text
reader), at most every ``reread_s`` while they keep firing. On a camera that runs none of its
triggers a reader runs at its rate like any detector.

>>> from runtime.detectors import default_detector_registry
>>> stage = DetectorStage({"detector.face_mtcnn": DetectorSpec(
...     registry_factory(default_detector_registry(), "detector.face_mtcnn"), rate_fps=1, version="1")})
>>> stage.assign("cam-1", ["detector.face_mtcnn"])
>>> results = stage.run(frame)                             # doctest: +SKIP
>>> alerts = event_detector.update(frame, stage.event_inputs(frame, results))   # doctest: +SKIP
"""
from __future__ import annotations

import dataclasses
import functools
import logging
import math
import re
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Mapping, Sequence

from runtime.cascade import Cascade, cascade_order, fired_of, offset_detections, reader_regions
from runtime.detection import Detection
from runtime.detectors.base import DetectorError
from runtime.residency import ModelResidency
from runtime.streams.base import FrameEvent

log = logging.getLogger(__name__)


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
    factory building one (a class, :func:`registry_factory`, :func:`bundle_factory`); only a
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


def bundle_factory(bundle: bytes, fetch: Callable[[str], bytes], **kwargs: Any) -> Callable[[], Any]:
    """A factory rebuilding a detector from its catalog bundle (``detector_from_bundle``)."""
    from runtime.detectors.bundle import detector_from_bundle, read_bundle

    read_bundle(bundle)  # a wrong artifact fails at construction, not at first use
    return functools.partial(detector_from_bundle, bundle, fetch, **kwargs)


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


@dataclass(slots=True)
class _Slot:  # per (camera, algorithm)
    rate_fps: float
    anchor_ms: float | None = None
    awake_until_ms: float = -math.inf  # a wake-up cascade runs until then (its trigger's last firing + hold_s)
    failures: int = 0
    failed_at_ms: float = math.inf
    retry_at_ms: float = -math.inf
    last_error: str = ""


@dataclass(slots=True)
class _Counts:
    runs: int = 0
    skipped_not_due: int = 0
    skipped_unhealthy: int = 0
    errors: int = 0
    run_ms_total: float = 0.0
    run_ms_max: float = 0.0
    skipped_not_triggered: int = 0
    crops: int = 0


class DetectorStage:
    """Runs each camera's real detectors on the frames where they are due (see module doc).

    ``specs``: algorithm id -> :class:`DetectorSpec` or a tuple ``(detector, rate_fps,
    version[, events])``. ``residency``: where detectors live (default: no budget); they are
    registered under their algorithm ids. ``backoff_s``: (base, max) rest of a failing
    detector, doubling per failure in a row, in the camera's frame time. ``cascades``: reader
    id -> :class:`~runtime.cascade.Cascade` (or its plain form, ``{trigger pattern: crop_from}``):
    those readers run only where a trigger fired (module doc); rules for readers this stage
    does not serve are ignored (the city's rules cover every reader, a stage serves some).
    """

    def __init__(self, specs: Mapping[str, DetectorSpec | Sequence[Any]], *, residency: ModelResidency | None = None,
                 backoff_s: tuple[float, float] = (2.0, 60.0), track_hub: Any = None,
                 cascades: Mapping[str, Any] | None = None) -> None:
        # track_hub: the runtime.tracking.TrackHub the city algorithms (track.*) of these specs share
        self.track_hub = track_hub
        if not specs:
            raise DetectorStageConfigError("specs is empty; give algorithm id -> DetectorSpec(detector, rate_fps, version)")
        base_s, max_s = backoff_s
        if not (0 < base_s <= max_s):
            raise DetectorStageConfigError(f"backoff_s={backoff_s!r}; expected (base, max) seconds with 0 < base <= max")
        self._backoff = (float(base_s), float(max_s))
        self._specs: dict[str, DetectorSpec] = {}
        for alg, spec in specs.items():
            if not isinstance(spec, DetectorSpec):
                if not isinstance(spec, (tuple, list)) or not 2 <= len(spec) <= 4:
                    raise DetectorStageConfigError(f"spec of {alg!r} is {spec!r}; expected DetectorSpec or (detector, rate_fps, version[, events])")
                spec = DetectorSpec(*spec)
            self._specs[str(alg)] = spec
        self.residency = residency if residency is not None else ModelResidency()
        for alg, spec in sorted(self._specs.items()):
            self.residency.register(alg, version=spec.version, load=spec.load, size_mib=spec.memory_mib, pinned=spec.pinned)
        self._slots: dict[str, dict[str, _Slot]] = {}  # camera -> algorithm -> slot
        self._counts = {alg: _Counts() for alg in self._specs}
        self._lock = threading.Lock()
        self._frames = self._frames_with_runs = 0
        self._overhead_ms = 0.0
        self._cascades: dict[str, Cascade] = {}
        for alg, rule in (cascades or {}).items():
            if alg not in self._specs:
                log.debug("detector stage: cascade rule for %s ignored (not served here)", alg)
                continue
            self._cascades[str(alg)] = Cascade.of(rule)
        self._cascade_order = cascade_order(self._cascades)

    # -- configuration ---------------------------------------------------------------------
    @property
    def algorithm_ids(self) -> tuple[str, ...]:
        return tuple(sorted(self._specs))

    def spec(self, algorithm_id: str) -> DetectorSpec:
        self._check([algorithm_id])
        return self._specs[algorithm_id]

    def assign(self, camera_id: str, algorithm_ids: Iterable[str] | Mapping[str, float]) -> None:
        """Set the detectors ``camera_id`` runs (replacing its previous set); a mapping gives
        per-camera rates (the plan's ``Assignment.fps``) instead of the specs' rates.
        Algorithms it already ran keep their timing and health.

        >>> stage.assign("cam-1", {"ocr.text_ppocr": 0.2, "detector.face_mtcnn": 2})   # doctest: +SKIP
        """
        rates = dict(algorithm_ids) if isinstance(algorithm_ids, Mapping) else {a: None for a in algorithm_ids}
        self._check(rates)
        for alg, fps in rates.items():
            if fps is not None and not (isinstance(fps, (int, float)) and math.isfinite(fps) and fps > 0):
                raise DetectorStageConfigError(f"rate {fps!r} for camera {camera_id!r} algorithm {alg!r}; expected fps > 0")
        with self._lock:
            old = self._slots.get(camera_id, {})
            new = {}
            for alg, fps in rates.items():
                slot = old.get(alg) or _Slot(0.0)
                slot.rate_fps = float(fps if fps is not None else self._specs[alg].rate_fps)
                new[alg] = slot
            if new:
                self._slots[camera_id] = new
            else:
                self._slots.pop(camera_id, None)
        log.info("detector stage camera=%s assigned %s", camera_id, {a: s.rate_fps for a, s in sorted(new.items())})

    def set_geometry(self, camera_id: str, geometry: Any) -> None:
        """A camera's zones and lines (the operations store's JSON or a ``CameraGeometry``) for the
        city algorithms; the camera record is the source, the control plane calls this on changes."""
        if self.track_hub is None:
            raise DetectorStageConfigError(f"camera {camera_id!r}: this stage has no track_hub; build it with "
                                           "DetectorStage(city_algorithm_specs(hub), track_hub=hub) to use zones")
        self.track_hub.set_geometry(camera_id, geometry)

    def cascade(self, algorithm_id: str) -> Cascade | None:
        """The cascade rule of a reader (``None``: it runs at its rate on every camera)."""
        self._check([algorithm_id])
        return self._cascades.get(algorithm_id)

    def cascaded(self, camera_id: str, assigned: Iterable[str] = ()) -> dict[str, tuple[str, ...]]:
        """Reader -> its triggers on ``camera_id`` (which also runs ``assigned``, e.g. its heads):
        the readers that run there only where those fire."""
        with self._lock:
            known = set(self._slots.get(camera_id, {})) | set(assigned)
            algs = list(self._slots.get(camera_id, {}))
        out = {}
        for alg in algs:
            c = self._cascades.get(alg)
            trig = c.triggers_on(known) if c is not None else ()
            if trig:
                out[alg] = trig
        return out

    def unassign(self, camera_id: str) -> None:
        self.assign(camera_id, ())

    def assignment(self, camera_id: str) -> dict[str, float]:
        """Algorithm id -> rate (fps) that ``camera_id`` runs ({} when none)."""
        with self._lock:
            return {a: s.rate_fps for a, s in self._slots.get(camera_id, {}).items()}

    def swap(self, algorithm_id: str, detector: Any, *, version: str, memory_mib: float | None = None) -> None:
        """Serve a new version (model-updates): loaded while the old one keeps serving if it was resident."""
        self._check([algorithm_id])
        old = self._specs[algorithm_id]
        mem = old.memory_mib if memory_mib is None else memory_mib
        spec = DetectorSpec(detector, old.rate_fps, version, old.events, mem, old.pinned)
        self._specs[algorithm_id] = spec
        self.residency.swap(algorithm_id, version=version, load=spec.load, size_mib=mem)

    # -- serving ---------------------------------------------------------------------------
    def run(self, frame: FrameEvent, fired: Mapping[str, Detection | Sequence[Detection]] | None = None, *,
            assigned: Iterable[str] | None = None) -> dict[str, list[Detection]]:
        """Run the detectors of ``frame.camera_id`` that are due on this frame.

        Returns algorithm id -> detections, only for detectors that ran and succeeded (a
        detector that raised is left out: it is logged and backs off). A camera with no
        detectors assigned gets ``{}`` (cameras that run only heads pass here too).

        ``fired``: the algorithms outside the stage (heads) that fired on this frame (score at
        or over their threshold), with their detections; ``assigned``: every such algorithm the
        camera runs, fired or not. A cascaded reader whose triggers the camera runs reads only
        where one fired (module doc); without ``assigned`` only the stage's own detectors and
        ``fired`` tell what the camera runs.
        """
        t0 = time.perf_counter()
        now = float(frame.ts_ms)
        upstream = {a: ([d] if isinstance(d, Detection) else list(d)) for a, d in (fired or {}).items()}
        first: list[str] = []
        later: list[str] = []
        with self._lock:
            slots = self._slots.get(frame.camera_id)
            if not slots:
                return {}
            self._frames += 1
            known = set(slots) | set(assigned or ()) | set(upstream) if self._cascades else set()
            for alg, slot in slots.items():
                c = self._cascades.get(alg)
                if c is not None and c.triggers_on(known):
                    later.append(alg)
                elif self._take_due(alg, slot, now, slot.rate_fps):
                    first.append(alg)
        out: dict[str, list[Detection]] = {}
        busy_ms = 0.0
        ran = bool(first)
        for alg in first:
            busy_ms += self._run_one(frame, alg, None, out)
        if later:
            h, w = frame.image.shape[:2]
            mappings = {a: self._specs[a].events for a in self._specs}
            fired_now = dict(upstream)
            fired_now.update(fired_of(out, mappings))
            for alg in (a for a in self._cascade_order if a in later):
                rule = self._cascades[alg]
                regions = reader_regions(rule, fired_now, out, image_wh=(w, h))
                with self._lock:
                    slot = self._slots.get(frame.camera_id, {}).get(alg)
                    if slot is None:
                        continue
                    if rule.hold_s > 0:  # wake-up: the whole frame, at its rate, while awake
                        if now < slot.awake_until_ms - rule.hold_s * 1000.0:
                            slot.awake_until_ms = -math.inf  # time went back before the last firing (a looped file)
                        if regions is not None:
                            slot.awake_until_ms = now + rule.hold_s * 1000.0
                        regions = ((0.0, 0.0, float(w), float(h)),) if slot.awake_until_ms >= now else None
                    if regions is None or not regions:
                        self._counts[alg].skipped_not_triggered += 1
                        continue
                    rate = slot.rate_fps if rule.hold_s > 0 else min(slot.rate_fps, rule.reread_fps)
                    due = self._take_due(alg, slot, now, rate)
                if not due:
                    continue
                ran = True
                busy_ms += self._run_one(frame, alg, regions, out)
                if alg in out:
                    fired_now.update(fired_of({alg: out[alg]}, mappings))
        with self._lock:
            if ran:
                self._frames_with_runs += 1
            self._overhead_ms += (time.perf_counter() - t0) * 1000.0 - busy_ms
        return out

    def _take_due(self, alg: str, slot: _Slot, now: float, rate_fps: float) -> bool:
        """Whether ``alg`` runs on this frame (due at ``rate_fps`` and not resting); moves its anchor. Under the lock."""
        c = self._counts[alg]
        if not detector_due(slot.anchor_ms, now, rate_fps):
            c.skipped_not_due += 1
            return False
        if slot.failed_at_ms <= now < slot.retry_at_ms:
            c.skipped_unhealthy += 1  # resting; time going back before the failure (a looped file) ends the rest
            return False
        slot.anchor_ms = next_anchor_ms(slot.anchor_ms, now, rate_fps)
        return True

    def _run_one(self, frame: FrameEvent, alg: str, regions: tuple | None, out: dict[str, list[Detection]]) -> float:
        """Run one detector on the frame (or inside ``regions``); its detections go to ``out``. Returns busy ms."""
        t1 = time.perf_counter()
        try:
            detector = self.residency.get(alg)  # loads on first use or after eviction (not counted as run time)
            t2 = time.perf_counter()
            # city algorithms over tracks need the camera and the time: they take the whole frame
            detect_frame = getattr(detector, "detect_frame", None)
            h, w = frame.image.shape[:2]
            if detect_frame is not None:
                dets = _checked(alg, detect_frame(frame))
            elif regions is None or regions == ((0.0, 0.0, float(w), float(h)),):
                dets = _checked(alg, detector.detect(frame.image))
            else:
                dets = []
                for r in regions:
                    x0, y0, x1, y1 = (int(v) for v in r)
                    found = _checked(alg, detector.detect(frame.image[y0:y1, x0:x1]))
                    dets.extend(offset_detections(found, (float(x0), float(y0), float(x1), float(y1))))
        except Exception as exc:  # one detector's failure must not stop the others
            self._failed(frame, alg, exc)
            return (time.perf_counter() - t1) * 1000.0
        t3 = time.perf_counter()
        ms = (t3 - t2) * 1000.0
        out[alg] = dets
        with self._lock:
            c = self._counts[alg]
            c.runs += 1
            c.crops += len(regions) if regions is not None else 0
            c.run_ms_total += ms
            c.run_ms_max = max(c.run_ms_max, ms)
            slot = self._slots.get(frame.camera_id, {}).get(alg)
            if slot is not None and slot.failures:
                log.info("detector recovered camera=%s algorithm=%s after %d failures", frame.camera_id, alg, slot.failures)
                slot.failures, slot.failed_at_ms, slot.retry_at_ms, slot.last_error = 0, math.inf, -math.inf, ""
        return (t3 - t1) * 1000.0

    def event_inputs(self, frame: FrameEvent, results: Mapping[str, Sequence[Detection]]) -> dict[str, Detection]:
        """``run``'s results as ``EventDetector.update`` inputs (uses the specs' versions and mappings)."""
        h, w = frame.image.shape[:2]
        versions = {alg: self.residency.version(alg) for alg in results}
        mappings = {alg: self._specs[alg].events for alg in results if alg in self._specs}
        return event_inputs(results, image_wh=(w, h), model_versions=versions, mappings=mappings)

    # -- observation -----------------------------------------------------------------------
    def stats(self) -> StageStats:
        with self._lock:
            algs = tuple(AlgorithmStats(a, c.runs, c.skipped_not_due, c.skipped_unhealthy, c.errors, c.run_ms_total, c.run_ms_max,
                                        c.skipped_not_triggered, c.crops)
                         for a, c in sorted(self._counts.items()))
            return StageStats(self._frames, self._frames_with_runs, self._overhead_ms, algs)

    def health(self) -> list[DetectorHealth]:
        """One record per (camera, algorithm) assigned; ``healthy`` is False while it backs off."""
        with self._lock:
            return [DetectorHealth(cam, alg, s.failures == 0, s.failures, s.retry_at_ms, s.last_error)
                    for cam, slots in sorted(self._slots.items()) for alg, s in sorted(slots.items())]

    # -- inside ----------------------------------------------------------------------------
    def _check(self, algorithm_ids: Iterable[str]) -> None:
        unknown = [a for a in algorithm_ids if a not in self._specs]
        if unknown:
            raise UnknownAlgorithmError(f"unknown algorithm id(s) {unknown}; this stage has detectors for: "
                                        f"{', '.join(self.algorithm_ids)} (add a DetectorSpec for it)")

    def _failed(self, frame: FrameEvent, alg: str, exc: Exception) -> None:
        with self._lock:
            self._counts[alg].errors += 1
            slot = self._slots.get(frame.camera_id, {}).get(alg)
            if slot is None:  # unassigned meanwhile
                return
            slot.failures += 1
            rest_ms = backoff_ms(slot.failures, base_s=self._backoff[0], max_s=self._backoff[1])
            slot.failed_at_ms, slot.retry_at_ms = float(frame.ts_ms), float(frame.ts_ms) + rest_ms
            slot.last_error = error = f"{type(exc).__name__}: {exc}"
            failures = slot.failures
        log.warning("detector failed camera=%s algorithm=%s frame=%s failures=%d; resting %.1f s of frame time: %s",
                    frame.camera_id, alg, frame, failures, rest_ms / 1000.0, error, exc_info=failures == 1)


def _checked(alg: str, dets: object) -> list[Detection]:
    if not isinstance(dets, list) or not all(isinstance(d, Detection) for d in dets):
        raise DetectorStageError(f"detector of {alg!r} returned {type(dets).__name__}; expected list[runtime.Detection]")
    return dets


def event_inputs(results: Mapping[str, Sequence[Detection]], *, image_wh: tuple[int, int],
                 model_versions: Mapping[str, str] | None = None,
                 mappings: Mapping[str, EventMapping | None] | None = None) -> dict[str, Detection]:
    """Detector results -> one ``runtime.Detection`` per algorithm for ``EventDetector.update`` (pure).

    The best-scoring detection that the algorithm's :class:`EventMapping` accepts, with its
    box; an algorithm that ran and found nothing gives score 0 on the whole frame, so the
    k-of-n window sees the miss (an algorithm that did not run is absent: not a miss).

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
