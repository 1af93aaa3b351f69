"""Scene discovery: a few sampled frames of a new camera -> scene confidences.

Two signals over the shared backbone's outputs, both pure numpy:

* a trained *scene head* (linear, softmax) on the 1280-d embedding, stored in the catalog's
  linear-head ONNX format (:func:`catalog.linear_head_onnx`), trained by
  :func:`train_scene_head`;
* ImageNet evidence: each scene's ``imagenet_signals`` (taxonomy) are ImageNet classes
  (``seashore``, ``lakeside``, ...) whose softmax mass hints at the scene.

The two are mixed (``signal_weight``) and averaged over frames.

>>> import numpy as np
>>> labels = [f"class{i}" for i in range(999)] + ["seashore"]
>>> logits = np.zeros((3, 1000), np.float32); logits[:, 999] = 12.0
>>> est = SceneDiscovery(None, labels).classify(np.zeros((3, 1280), np.float32), logits)
>>> est.primary
'seafront'
"""
from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from catalog import LinearHead, Taxonomy, linear_head_onnx, load_taxonomy, read_linear_head

from knowledge_graph.errors import SceneDiscoveryError

log = logging.getLogger(__name__)

EMBEDDING_DIM = 1280
IMAGENET_CLASSES = 1000


@dataclass(frozen=True, slots=True)
class SceneEstimate:
    """Scene confidences for one camera (over all taxonomy scenes, summing to 1)."""

    confidences: dict[str, float]
    primary: str
    frames: int
    signal_evidence: dict[str, float]  # mean ImageNet softmax mass of each scene's signals
    needs_review: bool = False  # primary confidence below the discovery's review threshold

    @property
    def primary_confidence(self) -> float:
        return self.confidences[self.primary]

    def links(self, min_confidence: float = 0.25) -> dict[str, float]:
        """The scene links to register: every scene at or above ``min_confidence``, and
        always the primary one."""
        out = {s: c for s, c in self.confidences.items() if c >= min_confidence}
        out.setdefault(self.primary, self.confidences[self.primary])
        return out

    def with_prior(self, prior: dict[str, float], *, weight: float = 0.5, review_below: float = 0.6) -> "SceneEstimate":
        """The estimate reweighted by a scene prior (e.g. the scenes of neighbouring cameras
        in the same region): confidence x prior**weight, renormalised. ``weight=0`` leaves it."""
        if not prior:
            return self
        w = {s: c * max(prior.get(s, 0.0), 1e-6) ** weight for s, c in self.confidences.items()}
        z = sum(w.values()) or 1.0
        conf = {s: v / z for s, v in w.items()}
        primary = max(conf, key=conf.get)
        return SceneEstimate(conf, primary, self.frames, self.signal_evidence, conf[primary] < review_below)


def _softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


class SceneDiscovery:
    """Classify a camera's scenes from per-frame embeddings and ImageNet logits.

    ``head``: scene-head bytes (from :func:`train_scene_head`) or a :class:`catalog.LinearHead`,
    or ``None`` to use the ImageNet signals alone. ``imagenet_labels``: the backbone's 1000
    class names (``runtime.Backbone.info.imagenet_labels``).
    """

    def __init__(
        self,
        head: bytes | LinearHead | None,
        imagenet_labels: Sequence[str],
        *,
        taxonomy: Taxonomy | None = None,
        signal_weight: float = 0.2,
        review_below: float = 0.6,
    ) -> None:
        self.taxonomy = taxonomy or load_taxonomy()
        self.scenes = tuple(self.taxonomy.scenes)
        if len(imagenet_labels) != IMAGENET_CLASSES:
            raise SceneDiscoveryError(f"imagenet_labels has {len(imagenet_labels)} names; expected {IMAGENET_CLASSES} "
                                      "(pass runtime.Backbone.info.imagenet_labels)")
        if not 0.0 <= signal_weight <= 1.0:
            raise SceneDiscoveryError(f"signal_weight={signal_weight!r} is outside [0, 1]")
        # pictures unlike any trained scene spread their mass: flag them for an operator
        self.review_below = review_below
        self.head = read_linear_head(head) if isinstance(head, (bytes, bytearray)) else head
        self.signal_weight = signal_weight if self.head is not None else 1.0
        if self.head is not None:
            unknown = [s for s in self.head.labels if s not in self.taxonomy.scenes]
            if unknown:
                raise SceneDiscoveryError(f"scene head labels {unknown} are not taxonomy scenes; retrain it with train_scene_head")
            if self.head.weights.shape[0] != EMBEDDING_DIM:
                raise SceneDiscoveryError(f"scene head expects {self.head.weights.shape[0]}-d embeddings; the backbone gives {EMBEDDING_DIM}")
            self._head_cols = np.array([self.scenes.index(s) for s in self.head.labels])
        index = {}
        for i, name in enumerate(imagenet_labels):
            for alias in str(name).lower().split(","):
                index.setdefault(alias.strip(), i)
        # [1000, S] 0/1 matrix: class i is a signal of scene s
        self._signals = np.zeros((IMAGENET_CLASSES, len(self.scenes)), np.float32)
        missing = []
        for j, s in enumerate(self.scenes):
            for sig in self.taxonomy.scenes[s].imagenet_signals:
                i = index.get(sig.lower())
                if i is None:
                    missing.append(sig)
                else:
                    self._signals[i, j] = 1.0
        if missing:
            log.warning("scene discovery: ImageNet signals not in the label list, ignored: %s", sorted(set(missing)))

    def classify(self, embeddings: np.ndarray, logits: np.ndarray) -> SceneEstimate:
        """Per-frame ``embeddings [N,1280]`` and ImageNet ``logits [N,1000]`` -> :class:`SceneEstimate`."""
        emb = np.asarray(embeddings, dtype=np.float32)
        lg = np.asarray(logits, dtype=np.float32)
        if emb.ndim != 2 or emb.shape[1] != EMBEDDING_DIM or emb.shape[0] == 0:
            raise SceneDiscoveryError(f"embeddings have shape {emb.shape}; expected [N>=1, {EMBEDDING_DIM}]")
        if lg.shape != (emb.shape[0], IMAGENET_CLASSES):
            raise SceneDiscoveryError(f"logits have shape {lg.shape}; expected [{emb.shape[0]}, {IMAGENET_CLASSES}] (one row per frame)")
        evidence = (_softmax(lg) @ self._signals).mean(axis=0)  # [S]
        signal_dist = (evidence + 1e-3) / (evidence + 1e-3).sum()
        if self.head is not None:
            probs = np.zeros(len(self.scenes), np.float64)
            head_p = self.head.scores(emb)
            if self.head.activation != "softmax":
                head_p = head_p / np.maximum(head_p.sum(axis=1, keepdims=True), 1e-9)
            probs[self._head_cols] = head_p.mean(axis=0)
            conf = (1.0 - self.signal_weight) * probs + self.signal_weight * signal_dist
        else:
            conf = signal_dist.astype(np.float64)
        conf = conf / conf.sum()
        order = int(np.argmax(conf))
        return SceneEstimate(
            {s: float(c) for s, c in zip(self.scenes, conf)},
            self.scenes[order],
            int(emb.shape[0]),
            {s: float(v) for s, v in zip(self.scenes, evidence)},
            bool(conf[order] < self.review_below),
        )

    def classify_frames(self, embedder: Any, frames: Sequence[np.ndarray]) -> SceneEstimate:
        """Convenience: ``embedder.embed_frames(frames) -> (logits, embeddings)`` (e.g.
        ``runtime.Backbone``), then :meth:`classify`."""
        logits, emb = embedder.embed_frames(list(frames))
        return self.classify(emb, logits)


def train_scene_head(
    embeddings: np.ndarray,
    scene_labels: Sequence[str],
    *,
    c: float = 1.0,
    max_iter: int = 1000,
    taxonomy: Taxonomy | None = None,
) -> bytes:
    """Fit a multinomial logistic regression on embeddings -> scene; return linear-head ONNX bytes.

    Features are standardised for the fit and the scaling is folded back into the weights,
    so the head reads the raw embedding.
    """
    from sklearn.linear_model import LogisticRegression

    tax = taxonomy or load_taxonomy()
    x = np.asarray(embeddings, dtype=np.float64)
    y = np.asarray(list(scene_labels))
    if x.ndim != 2 or x.shape[1] != EMBEDDING_DIM:
        raise SceneDiscoveryError(f"embeddings have shape {x.shape}; expected [N, {EMBEDDING_DIM}]")
    if y.shape[0] != x.shape[0]:
        raise SceneDiscoveryError(f"{y.shape[0]} scene labels for {x.shape[0]} embeddings; give one label per row")
    unknown = sorted({str(s) for s in y if s not in tax.scenes})
    if unknown:
        raise SceneDiscoveryError(f"scene labels {unknown} are not taxonomy scenes; use ids from catalog/taxonomy.yaml")
    classes = sorted(set(y.tolist()))
    if len(classes) < 2:
        raise SceneDiscoveryError(f"training needs at least 2 scenes, got {classes}; add frames of other scenes")
    mu = x.mean(axis=0)
    sd = x.std(axis=0) + 1e-6
    clf = LogisticRegression(C=c, max_iter=max_iter)
    clf.fit((x - mu) / sd, y)
    coef, intercept = clf.coef_, clf.intercept_
    if coef.shape[0] == 1:  # binary: sklearn keeps one row; softmax over [-z/2, z/2] == sigmoid(z)
        coef = np.vstack([-coef, coef]) / 2.0
        intercept = np.array([-intercept[0], intercept[0]]) / 2.0
    w = coef.T / sd[:, None]  # [D, K]
    b = intercept - (mu / sd) @ coef.T
    labels = [str(s) for s in clf.classes_]
    log.info("scene head trained on %d frames, %d scenes", x.shape[0], len(labels))
    return linear_head_onnx(w.astype(np.float32), b.astype(np.float32), labels=labels, activation="softmax")
