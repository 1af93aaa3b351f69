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
reader), a region it read at most every ``reread_s`` while they keep firing (a new region at
once). On a camera that runs none of its
triggers a reader runs at its rate like any detector.

>>> from runtime.detectors import default_detector_registry
>>> stage = DetectorStage({"detector.face_mtcnn": DetectorSpec(
...     registry_factory(default_detector_registry(), "detector.face_mtcnn"), rate_fps=1, version="1")})
>>> stage.assign("cam-1", ["detector.face_mtcnn"])
>>> results = stage.run(frame)                             # doctest: +SKIP
>>> alerts = event_detector.update(frame, stage.event_inputs(frame, results))   # doctest: +SKIP
"""
from __future__ import annotations

import logging
import math
import threading
import time
from dataclasses import dataclass
from typing import Any, Iterable, Mapping, Sequence

from runtime.cascade import Cascade, cascade_order, fired_of, new_regions, offset_detections, reader_regions
from runtime.detection import Detection
from runtime.detector_spec import (  # the stage's public names, defined with the specs
    AlgorithmStats,
    DetectorHealth,
    DetectorSpec,
    DetectorStageConfigError,
    DetectorStageError,
    EventMapping,
    StageStats,
    UnknownAlgorithmError,
    backoff_ms,
    detector_due,
    event_inputs,
    next_anchor_ms,
    registry_factory,
)
from runtime.residency import ModelResidency
from runtime.streams.base import FrameEvent

log = logging.getLogger(__name__)

__all__ = [
    "AlgorithmStats", "DetectorHealth", "DetectorSpec", "DetectorStage", "DetectorStageConfigError", "DetectorStageError",
    "EventMapping", "StageStats", "UnknownAlgorithmError", "backoff_ms", "detector_due", "event_inputs",
    "next_anchor_ms", "registry_factory",
]


@dataclass(slots=True)
class _Slot:  # per (camera, algorithm)
    rate_fps: float
    anchor_ms: float | None = None
    awake_until_ms: float = -math.inf  # a wake-up cascade runs until then (its trigger's last firing + hold_s)
    read_regions: tuple = ()  # an evidence reader: the regions read since its last full read
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
                regions = reader_regions(rule, fired_now, out, image_wh=(w, h), assigned=slots)
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
                    if rule.hold_s > 0:
                        due = self._take_due(alg, slot, now, slot.rate_fps)
                    elif fresh := new_regions(regions, slot.read_regions, iou=rule.new_region_iou):
                        due = self._take_due(alg, slot, now, slot.rate_fps)  # not read yet (a second car's plate): now
                        if due:
                            regions, slot.read_regions = fresh, slot.read_regions + fresh
                    else:  # all read before: again every reread_s
                        due = self._take_due(alg, slot, now, min(slot.rate_fps, rule.reread_fps))
                        if due:
                            slot.read_regions = tuple(regions)
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
