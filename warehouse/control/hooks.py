"""The application's hooks into the inference workers: picklable factories built inside each actor.

The runtime never imports ``warehouse``; the control plane hands each worker these objects:

- :class:`BusAlertPublisher`: every alert goes to the ``alerts`` topic as a typed
  :class:`~warehouse.bus.events.AlertEvent` (wall-clock time, the stream's own clock beside
  it, the frame's key, the worker), keyed by camera.
- :class:`FramePoolHook`: every frame that paid the backbone is retained (embedding, exact
  labels where the source has them) in the frame pool, keyed by its ``frame_ref``, so
  mining finds the frames operators flag.
- :class:`EvidenceWriter` / :class:`ArtifactFetcher`: evidence JPEGs into, and heads out of,
  the content-addressed store (hashes verified on load).

>>> import pickle
>>> pickle.loads(pickle.dumps(BusAlertPublisher("sqlite:///var/bus.db")))
BusAlertPublisher('sqlite:///var/bus.db', topic_prefix='')
"""
from __future__ import annotations

import logging
from typing import Any

log = logging.getLogger(__name__)


class BusAlertPublisher:
    """Picklable factory: ``BusAlertPublisher(url)()`` opens the bus in the actor and returns ``sink(alert_record)``."""

    def __init__(self, bus_url: str, topic_prefix: str = "") -> None:
        self.bus_url, self.topic_prefix = bus_url, topic_prefix

    def __repr__(self) -> str:
        return f"BusAlertPublisher({self.bus_url!r}, topic_prefix={self.topic_prefix!r})"

    def __call__(self) -> "_AlertPublisher":
        from warehouse.bus import open_bus

        return _AlertPublisher(open_bus(self.bus_url, topic_prefix=self.topic_prefix))


def alert_event(record: dict[str, Any]):
    """The typed event of a worker's alert record (``InferenceWorker`` emits plain dicts)."""
    from warehouse.bus.events import AlertEvent

    fields = ("model_version", "score", "xyxy", "stream_ts_ms", "ts_ms", "evidence_sha256", "region_cell", "worker_id")
    return AlertEvent.build(alert_id=record["alert_id"], camera_id=record["camera_id"], frame_index=int(record["frame_index"]),
                            algorithm_id=record["algorithm_id"], threshold=record.get("threshold"),
                            label=record.get("label"), **{k: record[k] for k in fields if k in record})


class _AlertPublisher:
    def __init__(self, bus) -> None:
        self.bus = bus

    def __call__(self, record: dict) -> None:
        from warehouse.bus import TOPIC_ALERTS
        from warehouse.bus.events import to_wire

        ev = alert_event(record)
        self.bus.publish(TOPIC_ALERTS, to_wire(ev), key=ev.camera_id)

    def close(self) -> None:
        self.bus.close()


class FramePoolHook:
    """Picklable factory of the retention hook ``hook(frames, embeddings)`` (opens the pool in the actor)."""

    def __init__(self, pool_url: str) -> None:
        self.pool_url = pool_url

    def __repr__(self) -> str:
        return f"FramePoolHook({self.pool_url!r})"

    def __call__(self):
        from warehouse.framepool import FramePool

        pool = FramePool(self.pool_url)

        def retain(frames, embeddings) -> None:
            if embeddings is None or len(frames) == 0:
                return
            from warehouse.bus.events import frame_ref
            from warehouse.framepool import RetainedFrame

            if len(embeddings) != len(frames):
                log.warning("frame hook got %d frames but %d embeddings; not retained", len(frames), len(embeddings))
                return
            pool.add(*[RetainedFrame(frame_ref(f.camera_id, f.frame_index), f.camera_id, f.frame_index, int(f.ts_ms), e,
                                     truth=f.labels) for f, e in zip(frames, embeddings)])

        return retain


class EvidenceWriter:
    """Picklable ``put_evidence(jpeg_bytes) -> sha256`` into the artifact store at ``root``."""

    def __init__(self, root: str) -> None:
        self.root = root
        self._store = None

    def __getstate__(self):
        return {"root": self.root}

    def __setstate__(self, state) -> None:
        self.root, self._store = state["root"], None

    def __call__(self, data: bytes) -> str:
        if self._store is None:
            from catalog import ArtifactStore

            self._store = ArtifactStore(self.root)
        return self._store.put_bytes(data, suffix=".jpg")


class ArtifactFetcher(EvidenceWriter):
    """Picklable ``fetch(sha256) -> bytes`` from the artifact store (the store verifies the hash)."""

    def __call__(self, sha256: str) -> bytes:  # type: ignore[override]
        if self._store is None:
            from catalog import ArtifactStore

            self._store = ArtifactStore(self.root)
        return self._store.get_bytes(sha256)


class CityStageFactory:
    """Picklable factory of a worker's detector stage: every real detector of the registry (built on
    first use, evicted by the stage's residency) and the city algorithms on one shared track hub
    (NanoDet + ByteTrack per camera). ``rate_fps``: the detectors' default rate when the plan gives none."""

    def __init__(self, *, rate_fps: float = 2.0, memory_budget_mib: float = 2048.0) -> None:
        self.rate_fps, self.memory_budget_mib = rate_fps, memory_budget_mib

    def __repr__(self) -> str:
        return f"CityStageFactory(rate_fps={self.rate_fps})"

    def __call__(self):
        from runtime import DetectorSpec, DetectorStage, ModelResidency, default_detector_registry, registry_factory
        from runtime.detectors.movenet import MoveNetPeopleDetector
        from runtime.detectors.nanodet import NanoDetDetector
        from runtime.tracking.city import TrackHub, city_algorithm_specs

        reg = default_detector_registry()
        specs = {name: DetectorSpec(registry_factory(reg, name), rate_fps=self.rate_fps, version="1")
                 for name in reg.names() if name != "imagenet.readout"}
        hub = TrackHub(lambda: NanoDetDetector.from_cache(intra_op_threads=1), nominal_fps=self.rate_fps,
                       counter_factory=lambda: MoveNetPeopleDetector.from_cache(intra_op_threads=1))
        specs.update(city_algorithm_specs(hub, rate_fps=self.rate_fps))
        from knowledge_graph import evidence_cascades  # evidence readers run only where a head that needs them fires

        return DetectorStage(specs, residency=ModelResidency(budget_mib=self.memory_budget_mib), track_hub=hub,
                             cascades=evidence_cascades())


__all__ = ["ArtifactFetcher", "BusAlertPublisher", "CityStageFactory", "EvidenceWriter", "FramePoolHook", "alert_event"]
