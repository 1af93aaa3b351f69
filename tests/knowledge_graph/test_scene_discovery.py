"""Scene discovery, pure part: structured features in, scene confidences out."""
from __future__ import annotations

import numpy as np
import pytest

from catalog import load_taxonomy, read_linear_head
from knowledge_graph import SceneDiscovery, SceneDiscoveryError, train_scene_head

TAX = load_taxonomy()
SCENES = list(TAX.scenes)
LABELS = [f"class_{i}" for i in range(1000)]
# put the taxonomy's signal names at known positions of a fake ImageNet label list
SIGNALS = sorted({s for sc in TAX.scenes.values() for s in sc.imagenet_signals})
for _i, _name in enumerate(SIGNALS):
    LABELS[100 + _i] = _name


def _clustered(n_per_scene: int, seed: int, centers: np.ndarray) -> tuple[np.ndarray, list[str]]:
    rng = np.random.default_rng(seed)
    x = np.concatenate([centers[i] + rng.normal(0, 1.0, (n_per_scene, 1280)) for i in range(len(SCENES))])
    return np.maximum(x, 0).astype(np.float32), [s for s in SCENES for _ in range(n_per_scene)]


@pytest.fixture(scope="module")
def head_and_centers():
    centers = np.random.default_rng(0).uniform(0, 3, (len(SCENES), 1280))
    x, y = _clustered(12, 1, centers)
    return train_scene_head(x, y), centers


def test_trained_head_is_a_catalog_linear_head(head_and_centers):
    head = read_linear_head(head_and_centers[0])
    assert head.weights.shape == (1280, len(SCENES)) and head.activation == "softmax"
    assert set(head.labels) == set(SCENES)


def test_head_recovers_held_out_scenes(head_and_centers):
    blob, centers = head_and_centers
    disc = SceneDiscovery(blob, LABELS)
    x, y = _clustered(3, 2, centers)  # held-out "cameras": 3 frames each
    flat = np.zeros((3, 1000), np.float32)
    hits = sum(disc.classify(x[i:i + 3], flat).primary == y[i] for i in range(0, len(y), 3))
    assert hits / len(SCENES) >= 0.95


@pytest.mark.parametrize(
    "signal, scene",
    [("seashore", "seafront"), ("lakeside", "river_bank"), ("suspension bridge", "bridge"), ("crane", "construction_site")],
)
def test_imagenet_signals_alone_point_at_their_scene(signal, scene):
    logits = np.zeros((2, 1000), np.float32)
    logits[:, LABELS.index(signal)] = 10.0
    est = SceneDiscovery(None, LABELS).classify(np.zeros((2, 1280), np.float32), logits)
    assert est.primary == scene
    assert est.signal_evidence[scene] > 0.5
    assert sum(est.confidences.values()) == pytest.approx(1.0)


def test_signals_shift_an_undecided_head(head_and_centers):
    blob, centers = head_and_centers
    # an embedding halfway between seafront and river bank
    mid = ((centers[SCENES.index("seafront")] + centers[SCENES.index("river_bank")]) / 2).astype(np.float32)[None]
    logits = np.zeros((1, 1000), np.float32)
    logits[0, LABELS.index("lakeside")] = 10.0
    est = SceneDiscovery(blob, LABELS, signal_weight=0.3).classify(mid, logits)
    assert est.confidences["river_bank"] > est.confidences["seafront"]


def test_links_keep_primary_and_confident_scenes():
    logits = np.zeros((1, 1000), np.float32)
    logits[0, LABELS.index("seashore")] = 10.0
    est = SceneDiscovery(None, LABELS).classify(np.zeros((1, 1280), np.float32), logits)
    assert est.links(0.99) == {"seafront": est.confidences["seafront"]}
    assert set(est.links(0.0)) == set(SCENES)


@pytest.mark.parametrize(
    "emb_shape, logit_shape, match",
    [
        ((3, 512), (3, 1000), r"embeddings have shape \(3, 512\); expected \[N>=1, 1280\]"),  # wrong width
        ((3, 1280), (2, 1000), r"logits have shape \(2, 1000\); expected \[3, 1000\]"),  # row mismatch
        ((0, 1280), (0, 1000), r"expected \[N>=1, 1280\]"),  # no frames
    ],
)
def test_classify_rejects_bad_shapes(emb_shape, logit_shape, match):
    with pytest.raises(SceneDiscoveryError, match=match):
        SceneDiscovery(None, LABELS).classify(np.zeros(emb_shape, np.float32), np.zeros(logit_shape, np.float32))


@pytest.mark.parametrize(
    "labels, match",
    [
        (["seafront", "beach"], r"scene labels \['beach'\] are not taxonomy scenes"),  # unknown scene
        (["seafront", "seafront"], r"at least 2 scenes"),  # one class
        (["seafront"], r"1 scene labels for 2 embeddings"),  # count mismatch
    ],
)
def test_train_rejects_bad_labels(labels, match):
    with pytest.raises(SceneDiscoveryError, match=match):
        train_scene_head(np.ones((2, 1280), np.float32), labels)


def test_wrong_label_list_length():
    with pytest.raises(SceneDiscoveryError, match=r"imagenet_labels has 10 names; expected 1000"):
        SceneDiscovery(None, LABELS[:10])
