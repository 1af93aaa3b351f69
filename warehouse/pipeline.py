"""One camera's way through the runtime, as the application wires it.

source → sampler → change gate → backbone once + every assigned head (``InferenceCore``)
→ k-of-n events (``EventDetector``) → ``alerts`` topic; every frame that paid the backbone
is retained (embedding only) in the frame pool so later mistakes can be mined against it.

``CameraPipeline`` is a plain class: the demo and ``warehouse run`` host it in a Ray actor
(``ray.remote(CameraPipeline)``), so it opens its own bus, pool and artifact store from URLs.
"""
from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class PipelineConfig:
    camera_id: str
    source_url: str
    backbone_path: str
    heads: dict  # algorithm_id -> linear head ONNX bytes
    versions: dict  # algorithm_id -> version label
    thresholds: dict  # algorithm_id -> float
    bus_url: str
    pool_url: str
    artifact_root: str
    truth_path: str | None = None  # sidecar JSON {frame_index: [event, ...]} for synthetic video
    batch_size: int = 8
    fps: float | None = None  # plan's rate; None = every frame
    k: int = 2
    n: int = 3
    cooldown_s: float = 30.0
    gate: bool = True
    topic_prefix: str = ""
    event_for: dict = field(default_factory=dict)  # algorithm_id -> event type (truth lookup)


class CameraPipeline:
    def __init__(self, cfg: PipelineConfig) -> None:
        from catalog import ArtifactStore
        from runtime import ChangeGate, EventDetector, EventPolicy, InferenceCore
        from warehouse.bus import open_bus
        from warehouse.framepool import FramePool

        self.cfg = cfg
        self.store = ArtifactStore(cfg.artifact_root)
        self.bus = open_bus(cfg.bus_url, topic_prefix=cfg.topic_prefix)
        self.pool = FramePool(cfg.pool_url)
        self.core = InferenceCore.load(cfg.backbone_path, cfg.heads, versions=cfg.versions, thresholds=cfg.thresholds)
        self.core.assign(cfg.camera_id, list(cfg.heads))
        self.gate = ChangeGate() if cfg.gate else None
        self.detector = EventDetector(
            put_evidence=lambda b: self.store.put_bytes(b, suffix=".jpg"),
            policies={a: EventPolicy(threshold=float(cfg.thresholds.get(a, 0.5)), k=cfg.k, n=cfg.n, cooldown_s=cfg.cooldown_s)
                      for a in cfg.heads},
        )
        self.truth = {}
        if cfg.truth_path:
            self.truth = {int(k): tuple(v) for k, v in json.loads(Path(cfg.truth_path).read_text()).items()}

    def run(self, *, max_frames: int | None = None) -> dict:
        from runtime import Detection, open_source

        cfg = self.cfg
        src = open_source(cfg.source_url, cfg.camera_id)
        stats = {"frames": 0, "gated_out": 0, "inferred": 0, "alerts": 0, "latency_ms": []}
        pending = []

        def flush() -> None:
            if not pending:
                return
            t0 = time.perf_counter()
            scores = self.core.infer([(cfg.camera_id, fe.image) for fe in pending], frame_ids=[fe.frame_index for fe in pending])
            embs = self.core.last_embeddings
            self._retain(pending, embs)
            for fe, fs in zip(pending, scores):
                h, w = fe.image.shape[:2]
                # frame-level heads: the box is the whole frame; detectors bring their own boxes
                dets = {a: Detection(score=float(fs.scores(a)[0]), xyxy=(0.0, 0.0, float(w), float(h)),
                                     model_version=str(cfg.versions.get(a, ""))) for a in cfg.heads}
                for alert in self.detector.update(fe, dets):
                    payload = alert.to_dict() | {"event_id": alert.alert_id, "type": "alert",
                                                 "frame_ref": f"{cfg.camera_id}:{fe.frame_index}"}
                    self.bus.publish("alerts", payload, key=cfg.camera_id)
                    stats["alerts"] += 1
            dt = (time.perf_counter() - t0) * 1000
            stats["latency_ms"].extend([dt] * len(pending))
            stats["inferred"] += len(pending)
            pending.clear()

        try:
            for fe in src.frames():
                stats["frames"] += 1
                if self.gate is not None and not self.gate.decide(fe.image).passed:
                    stats["gated_out"] += 1
                    continue
                pending.append(fe)
                if len(pending) >= cfg.batch_size:
                    flush()
                if max_frames is not None and stats["frames"] >= max_frames:
                    break
            flush()
        finally:
            src.close()
            self.bus.flush()
        lat = np.array(stats.pop("latency_ms") or [0.0])
        stats["latency_ms_p50"] = float(np.percentile(lat, 50))
        stats["latency_ms_p99"] = float(np.percentile(lat, 99))
        log.info("camera=%s pipeline done %s", cfg.camera_id, stats)
        return stats

    def _retain(self, frames, embs) -> None:
        from warehouse.framepool import RetainedFrame

        self.pool.add(*[
            RetainedFrame(f"{fe.camera_id}:{fe.frame_index}", fe.camera_id, fe.frame_index, fe.ts_ms, e,
                          truth=self.truth.get(fe.frame_index) if self.truth else None)
            for fe, e in zip(frames, embs)
        ])

    def close(self) -> None:
        self.bus.close()


class BusAlertSink:
    """A picklable alert-sink factory for ``runtime`` workers (``alert_sink_factory=BusAlertSink(url)``).

    Called inside the worker (a Ray actor), it opens the bus there and returns a publisher:
    each alert dict goes to the ``alerts`` topic keyed by camera, with ``event_id`` = the
    alert's id (idempotent consumers) and ``type`` = ``"alert"``. Runtime never imports
    ``warehouse``: the application hands this object over.

    >>> sink = BusAlertSink("sqlite:///var/bus.db")()                      # doctest: +SKIP
    >>> sink(alert.to_dict()); sink.close()                                 # doctest: +SKIP
    """

    def __init__(self, bus_url: str, topic_prefix: str = "") -> None:
        self.bus_url = bus_url
        self.topic_prefix = topic_prefix

    def __repr__(self) -> str:
        return f"BusAlertSink({self.bus_url!r}, topic_prefix={self.topic_prefix!r})"

    def __call__(self) -> "_BusAlertPublisher":
        from warehouse.bus import open_bus

        return _BusAlertPublisher(open_bus(self.bus_url, topic_prefix=self.topic_prefix))


class _BusAlertPublisher:
    """``sink(alert_dict)`` publishing to the ``alerts`` topic (built by :class:`BusAlertSink`)."""

    def __init__(self, bus) -> None:
        self.bus = bus

    def __call__(self, alert: dict) -> None:
        self.bus.publish("alerts", alert | {"event_id": alert["alert_id"], "type": "alert"}, key=alert["camera_id"])

    def close(self) -> None:
        self.bus.close()
