"""Scene discovery for a registered camera: sample its stream, classify the scene, keep the confidence.

The control plane calls :meth:`CameraDiscovery.discover` once per camera revision, before
the graph decides what the camera runs. Hints are respected (``hints["scenes"]`` are taken
as given, confidence 1.0); otherwise ``frames`` frames spread over the start of the stream
pass the shared backbone and :class:`knowledge_graph.SceneDiscovery` (a scene head trained
on the synthetic generator's scenes, cached under the cache folder, plus the ImageNet
signals of each scene); a low confidence is flagged for review.
"""
from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import numpy as np

log = logging.getLogger(__name__)

SCENE_HEAD_VERSION = 1  # bump when the training frames below change


@dataclass(frozen=True, slots=True)
class DiscoveredScenes:
    scenes: Mapping[str, float]
    source: str  # "hints" | "frames"
    frames: int = 0
    needs_review: bool = False
    primary: str = ""
    detail: Mapping[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"scenes": {k: round(v, 4) for k, v in self.scenes.items()}, "source": self.source, "frames": self.frames,
                "needs_review": self.needs_review, "primary": self.primary}


def scenes_from_hints(hints: Mapping[str, Any]) -> dict[str, float] | None:
    raw = hints.get("scenes") if isinstance(hints, Mapping) else None
    if not raw:
        return None
    if isinstance(raw, Mapping):
        return {str(k): float(v) for k, v in raw.items()}
    return {str(s): 1.0 for s in raw}


class CameraDiscovery:
    """Discovers scenes from frames (module doc); one backbone session, shared by all cameras."""

    def __init__(self, backbone_path: str | Path, cache_dir: str | Path, *, frames: int = 4, stride: int = 1,
                 per_scene: int = 10) -> None:
        self.backbone_path, self.cache_dir = Path(backbone_path), Path(cache_dir)
        self.frames, self.stride, self.per_scene = frames, stride, per_scene
        self._backbone = None
        self._disc = None

    def _ready(self):
        if self._disc is None:
            from knowledge_graph import SceneDiscovery

            from runtime import Backbone

            self._backbone = Backbone.load(self.backbone_path)
            self._disc = SceneDiscovery(self._scene_head(), self._backbone.info.imagenet_labels)
        return self._backbone, self._disc

    def _scene_head(self) -> bytes:
        """A scene head over the generator's scenes (all conditions), trained once and cached."""
        from catalog import load_taxonomy
        from catalog.synthetic import CONDITIONS, render_frame
        from knowledge_graph import train_scene_head

        tax = load_taxonomy()
        key = hashlib.sha256(f"{SCENE_HEAD_VERSION}|{sorted(tax.scenes)}|{self.per_scene}|{self.backbone_path.stat().st_size}".encode()).hexdigest()[:16]
        path = self.cache_dir / f"scene_head_{key}.onnx"
        if path.is_file():
            return path.read_bytes()
        imgs, labels = [], []
        for si, scene in enumerate(sorted(tax.scenes)):
            events = [e for e, ev in tax.events.items() if scene in ev.scenes]
            for i in range(self.per_scene):
                ev = (events[i % len(events)],) if events and i % 3 == 2 else ()
                imgs.append(render_frame(scene, events=ev, seed=90_000 + si * 100 + i, condition=CONDITIONS[i % len(CONDITIONS)]).image)
                labels.append(scene)
        _, emb = self._backbone.embed_frames(imgs)
        blob = train_scene_head(emb, labels)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_bytes(blob)
        tmp.replace(path)
        log.info("discovery: scene head trained on %d frames -> %s", len(imgs), path)
        return blob

    def sample(self, stream_url: str, camera_id: str) -> list[np.ndarray]:
        from runtime import open_source

        src = open_source(stream_url, camera_id)
        out: list[np.ndarray] = []
        try:
            for i, fe in enumerate(src.frames()):
                if i % self.stride == 0:
                    out.append(fe.image)
                if len(out) >= self.frames or i >= self.frames * self.stride * 4:
                    break
        finally:
            src.close()
        return out

    def discover(self, camera_id: str, stream_url: str, hints: Mapping[str, Any]) -> DiscoveredScenes:
        given = scenes_from_hints(hints)
        if given:
            primary = max(given, key=given.get)
            return DiscoveredScenes(given, "hints", primary=primary)
        backbone, disc = self._ready()
        images = self.sample(stream_url, camera_id)
        if not images:
            raise ValueError(f"camera {camera_id!r}: no frame could be read from {stream_url!r} for scene discovery; "
                             "check the stream or give hints={'scenes': [...]} when registering it")
        logits, emb = backbone.embed_frames(images)
        est = disc.classify(emb, logits)
        log.info("discovery camera=%s primary=%s conf=%.2f review=%s", camera_id, est.primary, est.primary_confidence,
                 est.needs_review)
        return DiscoveredScenes(est.links(), "frames", len(images), est.needs_review, est.primary,
                                {"signal_evidence": {k: round(v, 4) for k, v in est.signal_evidence.items()}})


__all__ = ["CameraDiscovery", "DiscoveredScenes", "scenes_from_hints"]
