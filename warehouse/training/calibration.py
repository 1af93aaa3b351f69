"""Calibrate a head's threshold for a false-alarm budget per camera-hour, with the event logic.

A threshold that maximises F1 on synthetic validation frames says nothing about how often
the head fires on a real camera where nothing happens. Here the threshold is raised until
the head, *through the event logic the runtime uses* (k of n frames over the threshold,
then a cooldown; :class:`runtime.EventPolicy`), is expected to raise at most
``budget_per_hour`` false alarms per camera-hour on real negative frames.

The expected rate comes from the *firing level* of every window the event logic looks at:
the highest threshold at which that window would fire (the smaller of the newest score and
the k-th highest score among the last n; for a still picture, its score). In logit space the
levels of all real negative windows are fitted with a normal tail; a camera-hour holds
``3600 * fps / n`` windows that are treated as independent looks, so the threshold is the
level whose tail probability times that count equals the budget. It is never below the
highest level actually seen plus ``margin_logit`` (no alarm on the calibration frames
themselves), nor below the F1-optimal threshold. With several quiet streams (vtest's clip and
other real clips) each stream with at least ``min_stream_windows`` windows is fitted on its
own and the threshold is the highest of their tails: every quiet camera must meet the budget
(pooling different cameras into one normal would fit their mixture, whose spread is mostly
the gap between cameras). Shorter streams and stills join one pooled fit, used when no stream
is long enough. ``floor_streams`` (other cameras' quiet footage) only raise the floor: no
alarm on any of their windows. :class:`CalibrationConfig` by default fits the tail on the
camera's own footage (its first stream) and floors with the others (``other_streams``). All of
it is pure numpy.

With a **persistence window** (``window_s``: the rule the control plane runs a head with, set
from the catalog's event taxonomy, ``catalog.event_persistence``; docs/event-logic.md) the
event logic is the runtime's time rule instead of k of n: a window fires at a threshold when
the newest score is over it and the earlier frames' scores (each holding until the next
frame) are over it for ``window_share`` of the last ``window_s`` seconds. Its firing level is
the highest such threshold, and a camera-hour holds ``3600 / window_s`` independent looks.
:class:`CalibrationConfig` takes the window per head from its event types (``event_types=``).

>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> stream = 1 / (1 + np.exp(-rng.normal(-6, 1, 400)))   # a quiet camera, 40 s at 10 fps
>>> cal = calibrate_threshold([stream], fps=10.0, threshold_f1=0.4, budget_per_hour=0.03)
>>> bool(cal.threshold > stream.max()), cal.expected_alarms_per_hour <= 0.03
(True, True)
>>> count_alarms(np.r_[np.zeros(5), np.ones(5)], 0.5, k=3, n=5, cooldown_s=30, fps=10)
1
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Sequence

import numpy as np

from warehouse.errors import WarehouseError

DEFAULT_BUDGET_PER_HOUR = 0.03  # per head: a camera running all ~300 heads stays under ~10 per hour
# the event logic production runs heads with: the control plane's defaults (warehouse.control:
# event_k=2, event_n=3, cooldown 30 s) -- more alarm-prone than runtime.EventPolicy's 3 of 5
DEFAULT_K, DEFAULT_N, DEFAULT_COOLDOWN_S = 2, 3, 30.0
MIN_SIGMA_LOGIT = 0.5  # a handful of near-identical frames must not give a zero-width tail
MARGIN_LOGIT = 0.5
MIN_STREAM_WINDOWS = 30  # a stream this long (3 s at 10 fps) gets its own tail


class CalibrationError(WarehouseError, ValueError):
    """Calibration inputs that cannot give a threshold (no frames, bad policy or budget)."""


@dataclass(frozen=True, slots=True)
class Calibration:
    threshold: float  # the calibrated threshold (>= threshold_f1)
    threshold_f1: float  # the F1-optimal threshold it started from
    budget_per_hour: float
    expected_alarms_per_hour: float  # the tail model's estimate at ``threshold`` (per camera-hour)
    alarms_on_frames: int  # alarms the event logic raises on the calibration streams at ``threshold``
    frames: int  # real negative frames used (stream frames + stills)
    stream_frames: int
    windows_per_hour: float
    level_mu_logit: float
    level_sigma_logit: float
    k: int
    n: int
    cooldown_s: float
    fps: float
    window_s: float = 0.0  # the persistence window calibrated through (0: k of n frames)
    window_share: float = 0.8

    def as_metrics(self) -> dict[str, float]:
        """Flat ``{name: float}`` for a catalog version's metrics (prefix ``calibration_``)."""
        return {f"calibration_{k}": float(v) for k, v in asdict(self).items() if k != "threshold"}


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(np.asarray(p, np.float64), 1e-12, 1 - 1e-12)
    return np.log(p) - np.log1p(-p)


def _sigmoid(z: float) -> float:
    return float(1.0 / (1.0 + math.exp(-z))) if z > -700 else 0.0


def _check_policy(k: int, n: int, cooldown_s: float, fps: float) -> None:
    if not (1 <= k <= n):
        raise CalibrationError(f"k={k!r} of n={n!r}; expected 1 <= k <= n, e.g. k=3, n=5")
    if not (cooldown_s >= 0 and math.isfinite(cooldown_s)):
        raise CalibrationError(f"cooldown_s={cooldown_s!r}; expected seconds >= 0")
    if not (fps > 0 and math.isfinite(fps)):
        raise CalibrationError(f"fps={fps!r}; expected frames per second > 0 (vtest: 10)")


def _check_window(window_s: float | None, window_share: float) -> None:
    if window_s is not None and not (math.isfinite(window_s) and 0 < window_s <= 3600):
        raise CalibrationError(f"window_s={window_s!r}; expected seconds in (0, 3600], e.g. 3.0, or None for k of n frames")
    if not (0 < window_share <= 1):
        raise CalibrationError(f"window_share={window_share!r}; expected a share in (0, 1], e.g. 0.8")


def _ts_ms(count: int, fps: float) -> list[int]:
    return [int(round(i * 1000.0 / fps)) for i in range(count)]  # the timestamps a camera at ``fps`` stamps frames with


def window_levels(scores: np.ndarray, *, fps: float, window_s: float, window_share: float) -> np.ndarray:
    """Per frame that the time rule can judge (the stream covers the window before it), the
    highest threshold at which it fires: over ``[t - window_s, t)`` the earlier frames' scores,
    each held until the next frame, are over the threshold for ``window_share`` of the window,
    and so is the frame's own score (runtime.EventPolicy; a test checks it against the detector).

    >>> window_levels(np.array([0.9, 0.8, 0.1, 0.7, 0.6]), fps=1.0, window_s=2.0, window_share=0.5).round(2).tolist()
    [0.1, 0.7, 0.6]
    """
    s = np.asarray(scores, np.float64).reshape(-1)
    ts, w_ms = _ts_ms(len(s), fps), int(round(window_s * 1000))
    need = window_share * w_ms - 0.5
    out = []
    for i in range(len(s)):
        start = ts[i] - w_ms
        if ts[0] > start:
            continue
        j0 = max(j for j in range(i + 1) if ts[j] <= start)  # the frame whose verdict holds at the window's start
        vals, weights = s[j0:i], [min(ts[j + 1], ts[i]) - max(ts[j], start) for j in range(j0, i)]
        order = np.argsort(-vals, kind="stable")
        cum, level = 0.0, 0.0
        for o in order:
            cum += weights[o]
            if cum >= need:
                level = float(vals[o])
                break
        out.append(min(float(s[i]), level) if cum >= need else 0.0)
    return np.asarray(out, np.float64)


def event_levels(scores: np.ndarray, *, k: int, n: int, fps: float, window_s: float | None = None,
                 window_share: float = 0.8) -> np.ndarray:
    """The firing levels of every window the event logic judges: the time rule's when
    ``window_s`` is set, else k of n frames' (windows shorter than k dropped)."""
    if window_s is not None:
        return window_levels(scores, fps=fps, window_s=window_s, window_share=window_share)
    return firing_levels(scores, k=k, n=n)[k - 1 :]


def looks_per_hour(*, fps: float, n: int, window_s: float | None = None) -> float:
    """Independent windows in a camera-hour: ``3600 / window_s``, or ``3600 * fps / n`` for k of n."""
    return 3600.0 / window_s if window_s is not None else 3600.0 * fps / n


def firing_levels(scores: np.ndarray, *, k: int, n: int) -> np.ndarray:
    """Per frame i, the highest threshold at which the k-of-n window ending at i fires:
    ``min(scores[i], k-th highest of scores[i-n+1 : i+1])`` (windows shorter than k never fire).

    >>> firing_levels(np.array([0.9, 0.1, 0.8, 0.7]), k=2, n=3).round(2).tolist()
    [0.0, 0.1, 0.8, 0.7]
    """
    s = np.asarray(scores, np.float64).reshape(-1)
    out = np.zeros(len(s))
    for i in range(len(s)):
        w = s[max(0, i - n + 1) : i + 1]
        if len(w) >= k:
            out[i] = min(s[i], np.partition(w, len(w) - k)[len(w) - k])
    return out


def count_alarms(scores: np.ndarray, threshold: float, *, k: int = DEFAULT_K, n: int = DEFAULT_N,
                 cooldown_s: float = DEFAULT_COOLDOWN_S, fps: float = 10.0, window_s: float | None = None,
                 window_share: float = 0.8) -> int:  # fmt: skip
    """Alarms :class:`runtime.EventDetector` raises on one camera's scores for a whole-frame
    head (one region cell): an event comes on at k of n hits (or, with ``window_s``, by the
    time rule), alerts once, and not again within ``cooldown_s`` of the last alert (a test
    checks this against the detector)."""
    from runtime.events import held_over_ms

    _check_policy(k, n, cooldown_s, fps)
    _check_window(window_s, window_share)
    hits: list = []
    alarms, open_, last_ms = 0, False, None
    w_ms = int(round(window_s * 1000)) if window_s is not None else 0
    for i, v in enumerate(np.asarray(scores, np.float64).reshape(-1)):
        hit = bool(v >= threshold)
        ts_ms = int(round(i * 1000.0 / fps))
        if window_s is not None:
            while len(hits) >= 2 and hits[1][0] <= ts_ms - w_ms:
                hits.pop(0)
            over = held_over_ms(hits, ts_ms, w_ms)
            hits.append((ts_ms, hit))
            on = over is not None and over >= window_share * w_ms - 0.5
        else:
            hits.append(hit)
            if len(hits) > n:
                hits.pop(0)
            on = sum(hits) >= k
        if not on:
            open_ = False
            continue
        if not hit or open_:
            continue
        open_ = True
        if last_ms is not None and ts_ms - last_ms < cooldown_s * 1000:
            continue
        last_ms = ts_ms
        alarms += 1
    return alarms


def _norm_isf(p: float) -> float:
    from scipy.stats import norm

    return float(norm.isf(p))


def _norm_sf(z: float) -> float:
    from scipy.stats import norm

    return float(norm.sf(z))


def calibrate_threshold(
    streams: Sequence[np.ndarray],
    *,
    fps: float,
    threshold_f1: float,
    stills: np.ndarray | None = None,
    budget_per_hour: float = DEFAULT_BUDGET_PER_HOUR,
    k: int = DEFAULT_K,
    n: int = DEFAULT_N,
    cooldown_s: float = DEFAULT_COOLDOWN_S,
    margin_logit: float = MARGIN_LOGIT,
    sigma_scale: float = 1.0,
    min_sigma_logit: float = MIN_SIGMA_LOGIT,
    per_stream: bool = True,
    min_stream_windows: int = MIN_STREAM_WINDOWS,
    shared_spread: bool = False,
    floor_streams: Sequence[np.ndarray] = (),
    window_s: float | None = None,
    window_share: float = 0.8,
) -> Calibration:
    """The threshold for one head: ``streams`` are its scores on real negative videos (frame
    order, at ``fps``), ``stills`` its scores on real negative pictures (each a window).
    ``per_stream``: each stream of ``min_stream_windows`` windows or more gets its own tail and
    the highest one binds (else, or with none that long, one tail over every window pooled).
    ``window_s``: calibrate through the time rule (module doc) instead of k of n frames."""
    _check_policy(k, n, cooldown_s, fps)
    _check_window(window_s, window_share)
    rule = dict(k=k, n=n, fps=fps, window_s=window_s, window_share=window_share)
    if not (budget_per_hour > 0 and math.isfinite(budget_per_hour)):
        raise CalibrationError(f"budget_per_hour={budget_per_hour!r}; expected false alarms per camera-hour > 0, e.g. 0.03")
    if not (0.0 < threshold_f1 < 1.0):
        raise CalibrationError(f"threshold_f1={threshold_f1!r} is not a probability in (0, 1)")
    levels = [lv for lv in (event_levels(s, **rule) for s in streams if len(s) >= k) if len(lv)]
    still = np.asarray(stills if stills is not None else [], np.float64).reshape(-1)
    pooled = np.concatenate(levels + [still]) if levels or len(still) else np.zeros(0)
    if len(pooled) < 2:
        raise CalibrationError(f"calibration needs >= 2 real negative windows, got {len(pooled)}; pass frames of a real camera "
                               f"(at least {k} in a row) or real pictures")  # fmt: skip
    z = _logit(pooled)
    mu, sigma = float(z.mean()), max(min_sigma_logit, float(z.std())) * sigma_scale
    windows_per_hour = looks_per_hour(fps=fps, n=n, window_s=window_s)
    p = min(0.5, budget_per_hour / windows_per_hour)
    tails = [(mu, sigma)]
    if per_stream:
        own = [lv for lv in levels if len(lv) >= min_stream_windows]
        if own:  # every long-enough stream on its own; the rest (short clips, stills) only through t_seen
            tails = []
            for lv in own:
                zs = _logit(lv)
                tails.append((float(zs.mean()), max(min_sigma_logit, float(zs.std())) * sigma_scale))
            if shared_spread:  # the camera's own level (the first stream), the widest spread any quiet camera shows
                tails = [(tails[0][0], max(sd for _, sd in tails))]
    mu, sigma = max(tails, key=lambda t: t[0] + t[1] * _norm_isf(p))  # the binding camera's fit is the one recorded
    t_tail = mu + sigma * _norm_isf(p)
    floor = [event_levels(s, **rule) for s in floor_streams if len(s) >= k]  # other cameras: no alarm on them
    t_seen = max([float(z.max())] + [float(_logit(lv).max()) for lv in floor if len(lv)]) + margin_logit
    t_logit = max(t_tail, t_seen, float(_logit(np.array([threshold_f1]))[0]))
    thr = max(min(_sigmoid(t_logit), 1.0 - 1e-6), float(threshold_f1))  # exact when the F1 threshold already meets the budget
    expected = max(windows_per_hour * _norm_sf((t_logit - m) / sd) for m, sd in tails)  # the worst camera
    alarms = sum(count_alarms(s, thr, k=k, n=n, cooldown_s=cooldown_s, fps=fps, window_s=window_s, window_share=window_share)
                 for s in [*streams, *floor_streams])
    return Calibration(thr, float(threshold_f1), float(budget_per_hour), float(expected), int(alarms),
                       int(sum(len(s) for s in [*streams, *floor_streams]) + len(still)), int(sum(len(s) for s in [*streams, *floor_streams])),
                       windows_per_hour,
                       mu, sigma, int(k), int(n), float(cooldown_s), float(fps), float(window_s or 0.0), float(window_share))  # fmt: skip


@dataclass(frozen=True, slots=True)
class CalibrationConfig:
    """How heads are calibrated: the per-head budget and the event logic it is measured through."""

    budget_per_hour: float = DEFAULT_BUDGET_PER_HOUR
    k: int = DEFAULT_K
    n: int = DEFAULT_N
    cooldown_s: float = DEFAULT_COOLDOWN_S
    margin_logit: float = MARGIN_LOGIT
    sigma_scale: float = 1.0  # widen the fitted tail: a short clip understates the spread of later footage
    min_sigma_logit: float = MIN_SIGMA_LOGIT
    per_stream: bool = True  # every quiet stream meets the budget on its own tail (False: one pooled tail)
    min_stream_windows: int = MIN_STREAM_WINDOWS
    shared_spread: bool = False  # with per_stream: the first stream's level with the widest stream's spread
    # the streams after the first (other quiet cameras, e.g. opencv-doc's indoor clips): "floor" = they only
    # raise the floor (no alarm on any of their windows) while the tail is fitted on the camera's own footage;
    # "tail" = each also fits its own tail and the highest binds (measured: 4-5 points of the heads' F1 share
    # lost to cameras unlike the one served); "off" = not used
    other_streams: str = "floor"
    # real pictures as extra windows: off by default -- a still photo of gravel *is* ambiguous
    # with "construction waste" and is not a camera-hour; they train and validate the heads instead
    include_stills: bool = False
    # the event logic's persistence window: "event" = each head's own, from its event types in the
    # catalog's taxonomy (catalog.event_persistence, what the control plane runs it with); "frames" =
    # k of n frames (the control plane's fallback)
    persistence: str = "event"

    def __post_init__(self) -> None:
        _check_policy(self.k, self.n, self.cooldown_s, 1.0)
        if self.persistence not in ("event", "frames"):
            raise CalibrationError(f"persistence={self.persistence!r}; expected 'event' (each head's window) or 'frames' (k of n)")
        if not (self.budget_per_hour > 0 and math.isfinite(self.budget_per_hour)):
            raise CalibrationError(f"budget_per_hour={self.budget_per_hour!r}; expected false alarms per camera-hour > 0, e.g. 0.03")
        if self.other_streams not in ("tail", "floor", "off"):
            raise CalibrationError(f"other_streams={self.other_streams!r}; expected 'tail', 'floor' or 'off'")

    def calibrate(self, streams: Sequence[np.ndarray], *, fps: float, threshold_f1: float, stills: np.ndarray | None = None,
                  event_types: Sequence[str] | None = None) -> Calibration:
        """``streams[0]``: the camera's own quiet footage; the rest: other quiet cameras (see ``other_streams``).
        ``event_types``: the head's, for its persistence window (``persistence="event"``; None: k of n)."""
        window_s, share = None, 0.8
        if self.persistence == "event" and event_types is not None:
            from catalog import event_persistence

            p = event_persistence(event_types)
            window_s, share = p.window_s, p.share
        streams, floor = (list(streams), []) if self.other_streams == "tail" else (list(streams[:1]), list(streams[1:]))
        if self.other_streams == "off":
            floor = []
        use_stills = self.include_stills or not any(len(x) >= self.k for x in streams)  # no camera footage: pictures are all there is
        return calibrate_threshold(streams, fps=fps, threshold_f1=threshold_f1, stills=stills if use_stills else None,
                                   budget_per_hour=self.budget_per_hour,
                                   k=self.k, n=self.n, cooldown_s=self.cooldown_s, margin_logit=self.margin_logit,
                                   sigma_scale=self.sigma_scale, min_sigma_logit=self.min_sigma_logit,
                                   per_stream=self.per_stream, min_stream_windows=self.min_stream_windows,
                                   shared_spread=self.shared_spread, floor_streams=floor, window_s=window_s,
                                   window_share=share)  # fmt: skip
