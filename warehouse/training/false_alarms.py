"""False alarms of scene heads on a real camera where nothing happens, through the runtime.

Every frame of the camera is scored by the runtime's own fused head bank
(:class:`runtime.HeadBank`, the thresholds the catalog stores) and fed, in order, to the
runtime's event logic (:class:`runtime.EventDetector`: the head's persistence window, or k of n
frames, one alert per event and region cell, cooldown). Any alert is a false alarm, because the footage shows no city event.
Rates are per camera-hour of footage (``frames / fps`` seconds). A second, model-based figure
extrapolates each head's tail (:mod:`.calibration`) where the footage is too short to count
a rate of about one per hour (one alert in 40 s is ~90 per hour).

>>> import numpy as np
>>> from catalog import linear_head_onnx
>>> head = linear_head_onnx(np.ones((4, 1), np.float32), np.zeros(1, np.float32), labels=["fire"])
>>> emb = np.r_[np.full((20, 4), -2.0), np.full((20, 4), 2.0)].astype(np.float32)
>>> rep = measure_false_alarms({"scene.road.fire": HeadUnderTest(head, 0.9)}, emb, fps=10.0)
>>> rep.alerts["scene.road.fire"], round(rep.per_hour(), 1), rep.heads_over_threshold_any_frame
(1, 900.0, 1)
"""
from __future__ import annotations

import hashlib
import logging
import math
from dataclasses import dataclass, field
from typing import Mapping, Sequence

import numpy as np

from warehouse.training.calibration import DEFAULT_COOLDOWN_S, DEFAULT_K, DEFAULT_N, _logit, _norm_sf, event_levels, looks_per_hour

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class HeadUnderTest:
    onnx_bytes: bytes
    threshold: float
    k: int = DEFAULT_K
    n: int = DEFAULT_N
    cooldown_s: float = DEFAULT_COOLDOWN_S
    version: str = "v1"
    window_s: float | None = None  # the persistence window (runtime.EventPolicy); None: k of n frames
    window_share: float = 0.8

    @classmethod
    def from_version(cls, onnx_bytes: bytes, metrics: Mapping[str, float], *, version: str = "v1",
                     window: tuple[float | None, float] | None = None) -> "HeadUnderTest":
        """The head as the catalog describes it: threshold, and the calibrated event policy if any.
        ``window``: ``(window_s, share)`` it runs with (the control plane's
        ``warehouse.control.desired.head_persistence``); None: the window it was calibrated through."""
        m = dict(metrics or {})
        if window is None:
            w = float(m.get("calibration_window_s", 0.0))
            window = (w if w > 0 else None, float(m.get("calibration_window_share", 0.8)))
        return cls(onnx_bytes, float(m.get("threshold", 0.5)), int(m.get("calibration_k", DEFAULT_K)), int(m.get("calibration_n", DEFAULT_N)),
                   float(m.get("calibration_cooldown_s", DEFAULT_COOLDOWN_S)), version, window[0], window[1])  # fmt: skip

    @property
    def rule(self) -> dict:
        """The event rule as keywords of ``calibration.count_alarms`` / ``event_levels``."""
        return dict(k=self.k, n=self.n, window_s=self.window_s, window_share=self.window_share)


@dataclass(frozen=True)
class FalseAlarmReport:
    frames: int
    fps: float
    alerts: dict[str, int]  # algorithm id -> alerts raised (all false: nothing happens)
    frames_over: dict[str, int]  # algorithm id -> frames at or over threshold
    max_score: dict[str, float]
    thresholds: dict[str, float]
    alert_frames: dict[str, list[int]] = field(default_factory=dict)  # algorithm id -> frame indices that alerted
    # algorithm id -> per alert, the frames of its event (over threshold, from the window that
    # raised it until the event goes off): what an operator reviewing the alert's clip rejects
    alert_episodes: dict[str, list[list[int]]] = field(default_factory=dict)
    expected_per_hour: dict[str, float] = field(default_factory=dict)  # tail-model estimate per head

    @property
    def hours(self) -> float:
        return self.frames / self.fps / 3600.0

    def per_hour(self, algorithm_ids: Sequence[str] | None = None) -> float:
        ids = self.alerts if algorithm_ids is None else [a for a in algorithm_ids if a in self.alerts]
        return sum(self.alerts[a] for a in ids) / self.hours if self.frames else 0.0

    def expected(self, algorithm_ids: Sequence[str] | None = None) -> float:
        ids = self.expected_per_hour if algorithm_ids is None else [a for a in algorithm_ids if a in self.expected_per_hour]
        return float(sum(self.expected_per_hour[a] for a in ids))

    @property
    def heads_over_threshold_any_frame(self) -> int:
        return sum(1 for v in self.frames_over.values() if v > 0)

    def worst(self, n: int = 8) -> list[tuple[str, int, int]]:
        """(algorithm id, alerts, frames over threshold) of the n noisiest heads."""
        rows = sorted(((a, self.alerts[a], self.frames_over[a]) for a in self.alerts), key=lambda r: (-r[1], -r[2], r[0]))
        return [r for r in rows[:n] if r[1] or r[2]]


def _expected_per_hour(scores: np.ndarray, h: HeadUnderTest, fps: float) -> float:
    lv = event_levels(scores, fps=fps, **h.rule)
    if len(lv) < 2:
        return 0.0
    z = _logit(lv)
    mu, sd = float(z.mean()), max(0.5, float(z.std()))
    return looks_per_hour(fps=fps, n=h.n, window_s=h.window_s) * _norm_sf((float(_logit(np.array([h.threshold]))[0]) - mu) / sd)


def _episode(scores: np.ndarray, h: HeadUnderTest, row: int, fps: float) -> list[int]:
    """The frames over threshold of the alert at ``row``'s event: from its window until the event goes off."""
    hit = scores >= h.threshold
    if h.window_s is None:
        span, on = h.n, (lambda i: hit[max(0, i - h.n + 1) : i + 1].sum() >= h.k)
    else:  # the time rule, judged on the frames before i (as the detector does)
        span = int(math.ceil(h.window_s * fps)) + 1
        on = (lambda i: hit[max(0, i - span + 1) : i].mean() >= h.window_share if i else False)
    end = row
    while end + 1 < len(scores) and on(end + 1):
        end += 1
    return [i for i in range(max(0, row - span + 1), end + 1) if hit[i]]


def measure_false_alarms(heads: Mapping[str, HeadUnderTest], embeddings: np.ndarray, *, fps: float, images: Sequence[np.ndarray] | None = None,
                         frame_indices: Sequence[int] | None = None, camera_id: str = "real-camera") -> FalseAlarmReport:  # fmt: skip
    """Run ``heads`` over the camera's frame ``embeddings`` (frame order) through the runtime's
    head bank and event logic; ``images`` (same order) are the frames the evidence is cut from
    (a grey frame when omitted)."""
    from runtime import Detection, EventDetector, EventPolicy, FrameEvent, HeadBank

    emb = np.asarray(embeddings, np.float32)
    n = len(emb)
    idx = list(frame_indices) if frame_indices is not None else list(range(n))
    if images is not None and len(images) != n or len(idx) != n:
        raise ValueError(f"{n} embeddings but {len(images) if images is not None else n} images and {len(idx)} frame indices; give one per frame")
    ids = sorted(heads)
    if not ids:
        return FalseAlarmReport(n, fps, {}, {}, {}, {})
    bank = HeadBank({a: heads[a].onnx_bytes for a in ids}, thresholds={a: heads[a].threshold for a in ids},
                    versions={a: heads[a].version for a in ids})  # fmt: skip
    scored = bank.score(emb, [ids] * n, camera_ids=[camera_id] * n, frame_ids=idx)
    scores = {a: np.array([float(fs.scores(a)[0]) for fs in scored]) for a in ids}
    evidence: dict[str, bytes] = {}

    def put(blob: bytes) -> str:
        sha = hashlib.sha256(blob).hexdigest()
        evidence[sha] = blob
        return sha

    det = EventDetector(put_evidence=put, policies={a: EventPolicy(threshold=heads[a].threshold, k=heads[a].k, n=heads[a].n,
                                                                   cooldown_s=heads[a].cooldown_s, window_s=heads[a].window_s,
                                                                   window_share=heads[a].window_share) for a in ids})  # fmt: skip
    grey = None
    alerts = {a: 0 for a in ids}
    alert_frames: dict[str, list[int]] = {a: [] for a in ids}
    episodes: dict[str, list[list[int]]] = {a: [] for a in ids}
    for row, fi in enumerate(idx):
        if images is not None:
            img = images[row]
        else:
            grey = grey if grey is not None else np.full((64, 64, 3), 128, np.uint8)
            img = grey
        h, w = img.shape[:2]
        box = (0.0, 0.0, float(w), float(h))  # a scene head speaks for the whole frame
        frame = FrameEvent(camera_id, int(fi), int(round(int(fi) * 1000.0 / fps)), img)
        for al in det.update(frame, {a: Detection(score=scores[a][row], xyxy=box, model_version=heads[a].version) for a in ids}):
            alerts[al.algorithm_id] += 1
            alert_frames[al.algorithm_id].append(int(fi))
            episodes[al.algorithm_id].append([int(idx[r]) for r in _episode(scores[al.algorithm_id], heads[al.algorithm_id], row, fps)])
    rep = FalseAlarmReport(n, fps, alerts, {a: int((scores[a] >= heads[a].threshold).sum()) for a in ids},
                           {a: float(scores[a].max()) for a in ids}, {a: heads[a].threshold for a in ids}, alert_frames, episodes,
                           {a: _expected_per_hour(scores[a], heads[a], fps) for a in ids})  # fmt: skip
    log.info("false alarms camera=%s frames=%d heads=%d alerts=%d heads_over=%d", camera_id, n, len(ids), sum(alerts.values()),
             rep.heads_over_threshold_any_frame)  # fmt: skip
    return rep
