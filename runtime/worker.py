"""The inference worker: frames of every camera placed on one worker -> cross-camera batches -> alerts.

Readers push frames (``process``, from many threads: the Ray actor is threaded); each call
blocks until its frames are scored, which is the readers' back-pressure. Frames wait in a
:class:`~runtime.batching.CrossCameraBatcher`; one scoring thread takes the batches
``plan_batch`` releases (``max_batch`` frames, or the oldest waited ``max_wait_ms``) and
scores each batch with ONE backbone call and (``InferenceCoreScorer``) ONE fused head-bank
matmul, whatever cameras the frames come from. Per frame it then runs the real detectors
that are due (:class:`~runtime.detector_stage.DetectorStage`, at their own rates), merges
their inputs with the head scores and feeds the :class:`~runtime.events.EventDetector`.
Alerts are kept for ``drain_alerts`` and handed, as they are produced, to an optional sink.

The control plane drives a worker at run time (``configure_camera``, ``remove_camera``,
``load_head``, ``status``): cameras come and go and versions change without a restart. Heads
are fetched by artifact hash (``fetch_artifact``) and kept in the fused bank under a memory
budget: :class:`~runtime.residency.ModelResidency` loads a head on first use and evicts the
least recently used ones when the assigned heads do not all fit. ``frame_hook_factory``
gives a hook that sees every scored batch (frames, embeddings): the application retains
them in its frame pool for mining.

``swap_model`` hot-swaps a head while frames flow: the scorer swaps copy-on-write, a batch
finishes on the snapshot it started with, and every score carries the version of the
snapshot that produced it, so no frame is dropped or scored twice.

>>> w = InferenceWorker("w0", [Assignment("cam-1", "fire", fps=5)], scorer_factory=factory,  # doctest: +SKIP
...                     put_evidence=store.put_bytes, batch_policy=BatchPolicy(max_batch=16, max_wait_ms=20))
>>> w.process(frames); w.swap_model("fire", onnx_bytes, "fire@4"); alerts = w.drain_alerts()  # doctest: +SKIP
>>> w.close()                                                                                 # doctest: +SKIP
"""
from __future__ import annotations

import logging
import os
import threading
import time
from collections import Counter, defaultdict, deque
from dataclasses import dataclass
from typing import Any, Callable, Mapping, Sequence

from runtime.batching import BatchPolicy, CrossCameraBatcher, PendingFrame
from runtime.events import Alert, Detection, EventDetector, EventPolicy
from runtime.residency import ModelResidency
from runtime.sampling import RateSampler
from runtime.scoring import FrameScoreMap, FrameScorer, pair_of
from runtime.streams.base import FrameEvent, StreamConfigError
from runtime.worker_control import WorkerControl, _ray_node_id, _StreamRun

log = logging.getLogger(__name__)

AlertCallback = Callable[[dict], None]  # called with each alert record (the application publishes it)
FrameHook = Callable[[list, object], None]  # (frames, embeddings [N, D] or None)


@dataclass(frozen=True, slots=True)
class ScoredFrame:
    """What the worker decided for one frame (kept when ``keep_scores > 0``, for audits and tests)."""

    camera_id: str
    frame_index: int
    ts_ms: int
    detections: Mapping[str, Detection]  # algorithm_id -> score, box, version (heads and detectors)
    batch_size: int  # frames in the backbone batch that scored it (0: no head was due)

    def __str__(self) -> str:
        return f"{self.camera_id}#{self.frame_index}@{self.ts_ms}ms"


class _Ticket:
    """One ``process`` call: done when all its frames are scored."""

    __slots__ = ("left", "alerts", "error", "done")

    def __init__(self, n: int) -> None:
        self.left, self.alerts, self.error = n, 0, None
        self.done = threading.Event()


class InferenceWorker(WorkerControl):
    """Scores frames and raises alerts for the assignments placed on one worker (module doc).

    ``assignments``: objects with ``camera_id``, ``algorithm_id``, ``fps`` (or pairs).
    Algorithm ids the stage of ``stage_factory`` knows run as real detectors at their rate;
    the others are heads of the scorer. ``batch_policy``: how frames of several cameras are
    gathered (default ``BatchPolicy(max_batch=16, max_wait_ms=20)``). ``alert_sink_factory``:
    a picklable zero-arg callable returning ``sink(alert_dict)``, called for each alert (a
    failing sink is logged and counted; alerts stay in ``drain_alerts``). ``keep_scores``:
    keep the last N :class:`ScoredFrame` for ``drain_scores``.
    """

    def __init__(self, worker_id: str, assignments: Sequence, *, scorer_factory: Callable[[], FrameScorer],
                 put_evidence: Callable[[bytes], str], policy: EventPolicy | None = None,
                 policies: Mapping[str, EventPolicy] | None = None, model_versions: Mapping[str, str] | None = None,
                 batch_policy: BatchPolicy | None = None, stage_factory: Callable[[], Any] | None = None,
                 alert_sink_factory: Callable[[], AlertCallback] | None = None, keep_scores: int = 0,
                 max_kept_alerts: int = 10_000, node_id: str | None = None,
                 fetch_artifact: Callable[[str], bytes] | None = None, memory_budget_mib: float = float("inf"),
                 frame_hook_factory: Callable[[], FrameHook] | None = None) -> None:
        self.worker_id = worker_id
        self.node_id = node_id
        self._fetch = fetch_artifact
        # heads the control plane loaded: slot -> (version, sha256, threshold); the residency
        # decides which of them sit in the fused bank right now (measured size vs budget)
        self._head_meta: dict[str, tuple[str, str, float | None]] = {}
        self._residency = ModelResidency(budget_mib=memory_budget_mib)
        self._revisions: dict[str, str] = {}
        self._hook = frame_hook_factory() if frame_hook_factory is not None else None
        self.hook_errors = 0
        self.started_ms = int(time.time() * 1000)
        self.last_frame_ms: dict[str, int] = {}
        self._streams: dict[str, _StreamRun] = {}
        self._stage = stage_factory() if stage_factory is not None else None
        detector_ids = set(self._stage.algorithm_ids) if self._stage is not None else set()
        self._heads_of: dict[str, dict[str, str]] = defaultdict(dict)  # camera -> algorithm -> bank slot
        stage_rates: dict[str, dict[str, float | None]] = defaultdict(dict)
        self._samplers: dict[tuple[str, str], RateSampler] = {}
        self._cameras: set[str] = set()
        for a in assignments:
            cam, alg = pair_of(a)
            fps = float(getattr(a, "fps", 0.0) or 0.0)
            self._cameras.add(cam)
            if alg in detector_ids:
                stage_rates[cam][alg] = fps if fps > 0 else None  # None: the spec's rate
                continue
            self._heads_of[cam][alg] = alg
            if fps > 0:
                self._samplers[(cam, alg)] = RateSampler(target_fps=fps)
        for cam, rates in stage_rates.items():
            self._stage.assign(cam, rates)
        self._scorer = scorer_factory()
        self._batchable = callable(getattr(self._scorer, "score_frames", None))
        self._versions = dict(model_versions or {})
        # display labels: (algorithm, version the scorer reports) -> label. model_versions names the
        # versions the scorer was built with; a swapped-in version is shown as given to swap_model.
        initial = self._scorer.versions() if callable(getattr(self._scorer, "versions", None)) else {}
        self._labels = {(alg, initial.get(alg, "")): str(label) for alg, label in self._versions.items()}
        self._events = EventDetector(put_evidence=put_evidence, policy=policy, policies=policies)
        self._sink = alert_sink_factory() if alert_sink_factory is not None else None
        self.batch_policy = batch_policy or BatchPolicy(max_batch=16, max_wait_ms=20.0)
        self._batcher = CrossCameraBatcher(self.batch_policy)
        # callers block until scored, so pending frames stay under max_pending: the batcher never drops
        self._room = threading.Semaphore(self.batch_policy.max_pending)
        self._alerts: deque[Alert] = deque(maxlen=max_kept_alerts)
        self._scores: deque[ScoredFrame] = deque(maxlen=max(1, keep_scores))
        self._keep_scores = keep_scores > 0
        self._lock = threading.Lock()
        self._order = threading.Condition()
        self._next_seq: dict[str, int] = {}  # camera -> the next call number to queue
        self.order_timeout_s = 10.0
        self._thread: threading.Thread | None = None
        self.frames_in = self.frames_scored = self.batches = self.alerts = self.sink_errors = 0
        self._batch_sizes: Counter[int] = Counter()

    # -- feeding -----------------------------------------------------------------------------
    def process(self, frames: list[FrameEvent], seq: int | None = None) -> int:
        """Queue ``frames`` (any cameras placed here), wait until they are scored; returns how many alerts they raised.

        ``seq``: the caller's call counter for these cameras (0, 1, 2, ...). A reader with several
        calls in flight on a threaded actor may see them run out of order; with ``seq`` the worker
        queues call ``n`` only after call ``n - 1`` (waiting at most ``order_timeout_s``), so each
        camera's frames are scored in order (the samplers and the event windows need it).
        """
        mine = []
        for f in frames:
            if f.camera_id in self._cameras:
                mine.append(f)
            else:
                log.warning("worker=%s got frame %s of a camera not placed here; dropped", self.worker_id, f)
        if not mine:
            return 0
        with self._lock:
            self.frames_in += len(mine)
        self._ensure_thread()
        ticket = _Ticket(len(mine))
        cams = {f.camera_id for f in mine}
        if seq is not None:
            with self._order:
                if not self._order.wait_for(lambda: all(self._next_seq.get(c, 0) >= seq for c in cams), self.order_timeout_s):
                    log.warning("worker=%s call %d of cameras %s waited %.1f s for call %d; queueing it out of order",
                                self.worker_id, seq, sorted(cams), self.order_timeout_s, seq - 1)
        for f in mine:
            self._room.acquire()
            self._batcher.put(f.camera_id, (f, ticket), frame_id=(f.camera_id, f.frame_index))
        if seq is not None:
            with self._order:
                for c in cams:
                    self._next_seq[c] = max(self._next_seq.get(c, 0), seq + 1)
                self._order.notify_all()
        ticket.done.wait()
        if ticket.error is not None:
            raise ticket.error
        return ticket.alerts

    def _ensure_thread(self) -> None:
        if self._thread is None:
            with self._lock:
                if self._thread is None:
                    self._thread = threading.Thread(target=self._loop, name=f"score-{self.worker_id}", daemon=True)
                    self._thread.start()

    # -- scoring -----------------------------------------------------------------------------
    def _loop(self) -> None:
        while True:
            batch = self._batcher.get()
            if not batch:  # closed and drained
                return
            try:
                self._score_batch(batch)
            except Exception as exc:  # the callers of these frames get the error; the worker carries on
                log.exception("worker=%s batch of %d frames failed (first %s)", self.worker_id, len(batch), batch[0].frame[0])
                self._finish(batch, [0] * len(batch), error=exc)

    def _score_batch(self, batch: list[PendingFrame]) -> None:
        frames = [p.frame[0] for p in batch]
        due = []
        for f in frames:
            heads = self._heads_of.get(f.camera_id, {})
            due.append({slot for alg, slot in heads.items()
                        if (s := self._samplers.get((f.camera_id, alg))) is None or s.accept(f.ts_ms)})
        n = sum(1 for d in due if d)
        scores: list[FrameScoreMap] = [{} for _ in frames]
        if n:
            self._ensure_resident(set().union(*due))
            scores = self._scorer.score_frames(frames, due) if self._batchable else self._score_in_rounds(frames, due)
            with self._lock:
                self.batches += 1
                self.frames_scored += n
                self._batch_sizes[n] += 1
            if self._hook is not None:
                self._run_hook([f for f, d in zip(frames, due) if d])
        raised = []
        now_ms = int(time.time() * 1000)
        for f, d, sc in zip(frames, due, scores):
            self.last_frame_ms[f.camera_id] = now_ms
            slots = self._heads_of.get(f.camera_id, {})
            dets = {alg: Detection(score=sc[slot][0], xyxy=sc[slot][1], model_version=self._label(slot, sc[slot][2]))
                    for alg, slot in slots.items() if slot in sc}
            if self._stage is not None:  # every frame that reaches the worker, head due or not
                # evidence readers run as a cascade: only where a head that needs them fired (runtime.cascade)
                results = self._stage.run(f, fired={a: d for a, d in dets.items() if d.score >= self._events.policy_for(a).threshold},
                                          assigned=slots)
                if results:
                    dets.update(self._stage.event_inputs(f, results))
            alerts = self._events.update(f, dets) if dets else []
            if self._keep_scores:
                with self._lock:
                    self._scores.append(ScoredFrame(f.camera_id, f.frame_index, f.ts_ms, dets, n if d else 0))
            self._emit(alerts)
            raised.append(len(alerts))
        self._finish(batch, raised)

    def _score_in_rounds(self, frames: list[FrameEvent], due: list[set[str]]) -> list[FrameScoreMap]:
        """A scorer with only ``score`` takes one frame per camera per call: split into rounds."""
        out: list[FrameScoreMap] = [{} for _ in frames]
        rounds: list[list[int]] = []
        seen: dict[str, int] = defaultdict(int)
        for i, f in enumerate(frames):
            if due[i]:
                r = seen[f.camera_id]
                seen[f.camera_id] += 1
                if r == len(rounds):
                    rounds.append([])
                rounds[r].append(i)
        for idx in rounds:
            res = self._scorer.score([frames[i] for i in idx], [(frames[i].camera_id, a) for i in idx for a in due[i]])
            for i in idx:
                out[i] = {a: (*res[(frames[i].camera_id, a)], self._versions.get(a, ""))
                          for a in due[i] if (frames[i].camera_id, a) in res}
        return out

    def _label(self, algorithm_id: str, version: str) -> str:
        if not self._batchable:
            return version
        return self._labels.get((algorithm_id, version), version)

    def _finish(self, batch: list[PendingFrame], raised: list[int], error: BaseException | None = None) -> None:
        for p, k in zip(batch, raised):
            t: _Ticket = p.frame[1]
            t.alerts += k
            if error is not None:
                t.error = error
            t.left -= 1  # only the scoring thread touches tickets until done is set
            if t.left == 0:
                t.done.set()
            self._room.release()

    def _emit(self, alerts: list[Alert]) -> None:
        if not alerts:
            return
        with self._lock:
            self._alerts.extend(alerts)
            self.alerts += len(alerts)
        if self._sink is None:
            return
        wall = int(time.time() * 1000)
        for a in alerts:
            try:
                self._sink(self._alert_record(a, wall))
            except Exception:  # the bus may be down; the alert stays in drain_alerts
                self.sink_errors += 1
                log.warning("worker=%s alert sink failed for %s (%d failures)", self.worker_id, a, self.sink_errors,
                            exc_info=self.sink_errors == 1)

    def _alert_record(self, a: Alert, wall_ms: int) -> dict:
        """The alert as the bus sees it: wall-clock ``ts_ms``, the stream's own clock beside it, the frame's key."""
        d = a.to_dict()
        d["stream_ts_ms"], d["ts_ms"] = max(0, int(a.ts_ms)), wall_ms
        d["frame_ref"] = f"{a.camera_id}:{a.frame_index}"
        d["worker_id"] = self.worker_id
        return d

    def _run_hook(self, frames: list[FrameEvent]) -> None:
        try:
            self._hook(frames, getattr(self._scorer, "last_embeddings", None))
        except Exception:  # retention must never stop scoring
            self.hook_errors += 1
            log.warning("worker=%s frame hook failed (%d failures)", self.worker_id, self.hook_errors,
                        exc_info=self.hook_errors == 1)

    def status(self) -> dict[str, Any]:
        """What runs here (for the control plane's actual state): cameras and revisions, serving versions, memory."""
        r = self._residency.stats()
        with self._lock:
            cams = dict(self._revisions)
            last = dict(self.last_frame_ms)
        return {"worker_id": self.worker_id, "node_id": self.node_id, "ray_node_id": _ray_node_id(), "pid": os.getpid(), "cameras": cams,
                "streams": self.streams(),
                "heads": {slot: m[0] for slot, m in self._head_meta.items()},
                "serving": self._scorer.versions() if callable(getattr(self._scorer, "versions", None)) else {},
                "resident": list(r.resident), "memory_used_mib": r.used_mib, "memory_budget_mib": r.budget_mib,
                "evictions": r.evictions, "loads": r.loads, "last_frame_ms": last, "stats": self.stats()}

    # -- control -----------------------------------------------------------------------------
    def swap_model(self, algorithm_id: str, onnx_bytes: bytes, version: str, threshold: float | None = None) -> str:
        """Serve ``version`` of a head from the next batch on, without pausing the stream; returns the previous version.

        Batches already running finish on the old head; every score carries the version that produced it.
        """
        if self._stage is not None and algorithm_id in self._stage.algorithm_ids:
            raise StreamConfigError(f"algorithm {algorithm_id!r} is a real detector on worker {self.worker_id!r}, not a head; "
                                    f"swap it with DetectorStage.swap(algorithm_id, detector, version=...)")
        swap = getattr(self._scorer, "swap", None)
        if swap is None:
            raise StreamConfigError(f"scorer {type(self._scorer).__name__} has no swap(); build the worker with "
                                    f"inference_core_scorer_factory or linear_head_scorer_factory to hot-swap heads")
        version = str(version)
        before = self._scorer.versions().get(algorithm_id, "") if self._batchable else ""
        previous = self._label(algorithm_id, before)
        self._labels.pop((algorithm_id, version), None)
        swap(algorithm_id, onnx_bytes, version=version, threshold=threshold)
        self._versions[algorithm_id] = version
        log.info("worker=%s swapped algorithm=%s %s -> %s", self.worker_id, algorithm_id, previous, version)
        return previous

    def drain_alerts(self) -> list[Alert]:
        with self._lock:
            out = list(self._alerts)
            self._alerts.clear()
        return out

    def drain_scores(self) -> list[ScoredFrame]:
        """The kept :class:`ScoredFrame` records (``keep_scores``), oldest first."""
        with self._lock:
            out = list(self._scores)
            self._scores.clear()
        return out

    def stats(self) -> dict[str, Any]:
        with self._lock:
            sizes = dict(sorted(self._batch_sizes.items()))
            out = {"worker_id": self.worker_id, "hook_errors": self.hook_errors, "frames_in": self.frames_in, "frames_scored": self.frames_scored, "batches": self.batches,
                   "mean_batch": self.frames_scored / self.batches if self.batches else 0.0,
                   "batch_sizes": sizes, "pending": len(self._batcher), "alerts": self.alerts,
                   "sink_errors": self.sink_errors, "suppressed": self._events.suppressed}
        if self._stage is not None:
            st = self._stage.stats()
            out["detector_runs"] = {a.algorithm_id: a.runs for a in st.algorithms}
        return out

    def close(self) -> None:
        """Stop the streams, score what is pending, stop the scoring thread, close the sink (if it has ``close``)."""
        for cam in list(self._streams):
            self.stop_stream(cam)
        self._batcher.close()
        if self._thread is not None:
            self._thread.join()
        close = getattr(self._sink, "close", None)
        if callable(close):
            close()
