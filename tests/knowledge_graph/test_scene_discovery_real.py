"""Scene discovery on the real backbone (ONNX Runtime MobileNetV2) and the synthetic city.

Trains the scene head on synthetic frames of 12 cameras per scene, evaluates on 4 held-out
cameras per scene (3 frames each, other seeds), then looks at real pictures from
``skimage.data``. Embeddings are cached under ``var/cache/knowledge_graph`` keyed by the
generator fingerprint and the backbone file, so reruns cost seconds.
"""
from __future__ import annotations

import random
from datetime import datetime

import numpy as np
import pytest

from catalog import load_taxonomy

pytestmark = pytest.mark.slow

TAX = load_taxonomy()
SCENES = list(TAX.scenes)
TRAIN_CAMERAS, HELDOUT_CAMERAS, FRAMES_PER_HELDOUT = 12, 4, 3
SKIMAGE_PICTURES = ("astronaut", "coffee", "chelsea", "rocket", "camera", "coins", "page", "hubble_deep_field",
                    "immunohistochemistry", "horse", "moon", "text")


def _frames(scene: str, seed: int, n: int, rng: random.Random, render_frame, conditions) -> list[np.ndarray]:
    allowed = [e for e, ev in TAX.events.items() if scene in ev.scenes]
    cond = conditions[seed % len(conditions)]
    return [render_frame(scene, events=tuple(rng.sample(allowed, rng.choice((0, 1, 2)))), seed=seed, condition=cond,
                         size_hw=(224, 224)).image for _ in range(n)]


def _skimage_bgr(name: str) -> np.ndarray:
    from skimage import data

    im = getattr(data, name)()
    if im.ndim == 2:
        im = np.stack([im] * 3, axis=-1)
    if im.dtype != np.uint8:
        im = (im * 255).astype(np.uint8)
    return np.ascontiguousarray(im[:, :, :3][:, :, ::-1])


@pytest.fixture(scope="module")
def features():
    synthetic = pytest.importorskip("catalog.synthetic")
    from runtime.backbone import Backbone
    from warehouse.settings import Settings
    from warehouse.training.backbone_export import ensure_backbone_onnx

    cache_dir = Settings().resolved_cache_dir
    bb = Backbone.load(ensure_backbone_onnx(cache_dir), intra_op_threads=1)
    cache = cache_dir / "knowledge_graph" / f"scene_test_{synthetic.generator_fingerprint()}_{bb.info.weights_sha256[:12]}.npz"
    if not cache.exists():
        rng = random.Random(0)
        render, conds = synthetic.render_frame, synthetic.CONDITIONS
        train = [f for s in SCENES for c in range(TRAIN_CAMERAS) for f in _frames(s, 1000 + c, 1, rng, render, conds)]
        held = [f for s in SCENES for c in range(HELDOUT_CAMERAS) for f in _frames(s, 5000 + c, FRAMES_PER_HELDOUT, rng, render, conds)]
        real = [_skimage_bgr(n) for n in SKIMAGE_PICTURES]
        arrays = {}
        for key, frames in (("train", train), ("held", held), ("real", real)):
            arrays[f"{key}_logits"], arrays[f"{key}_emb"] = bb.embed_frames(frames)
        cache.parent.mkdir(parents=True, exist_ok=True)
        tmp = cache.with_suffix(".tmp.npz")
        np.savez(tmp, **arrays)
        tmp.replace(cache)  # atomic: a crashed run leaves no half-written cache
    data = dict(np.load(cache))
    return data, bb.info.imagenet_labels


@pytest.fixture(scope="module")
def discovery(features):
    from knowledge_graph import SceneDiscovery, train_scene_head

    data, labels = features
    y = [s for s in SCENES for _ in range(TRAIN_CAMERAS)]
    return SceneDiscovery(train_scene_head(data["train_emb"], y), labels)


def test_held_out_synthetic_cameras_get_their_primary_scene(features, discovery):
    data, _ = features
    n = FRAMES_PER_HELDOUT
    truth = [s for s in SCENES for _ in range(HELDOUT_CAMERAS)]
    estimates = [discovery.classify(data["held_emb"][i * n:(i + 1) * n], data["held_logits"][i * n:(i + 1) * n])
                 for i in range(len(truth))]
    accuracy = np.mean([e.primary == s for e, s in zip(estimates, truth)])
    assert accuracy >= 0.95, [(s, e.primary) for e, s in zip(estimates, truth) if e.primary != s]


def test_real_pictures_are_not_claimed_confidently(features, discovery):
    # skimage's pictures (astronaut, coffee cup, cat, rocket, ...) are not city camera views:
    # a head trained on synthetic streets must not claim any of them strongly, and must
    # never call them a tunnel; each is flagged for operator review.
    data, _ = features
    for i, name in enumerate(SKIMAGE_PICTURES):
        est = discovery.classify(data["real_emb"][i:i + 1], data["real_logits"][i:i + 1])
        assert est.needs_review, (name, est.primary, est.primary_confidence)
        assert est.confidences["tunnel"] < 0.3, (name, est.confidences["tunnel"])


def test_discovered_scenes_link_a_camera(features, discovery, ontology):
    from knowledge_graph import CityGraph

    data, _ = features
    sea = SCENES.index("seafront") * HELDOUT_CAMERAS * FRAMES_PER_HELDOUT
    est = discovery.classify(data["held_emb"][sea:sea + 3], data["held_logits"][sea:sea + 3])
    g = CityGraph(ontology)
    g.add_camera("new-cam", region="coast", scenes=est.links(), reason="scene discovery")
    assert g.camera("new-cam").primary_scene == "seafront"
    assert "scene.seafront.person_in_water" in g.relevance("new-cam").algorithm_ids()


def test_real_campus_footage_gets_people_and_vehicle_algorithms_and_nothing_for_water(features, discovery, ontology):
    # vtest.avi: a real campus road and lawn with people walking (Debian's opencv-doc)
    import subprocess

    import cv2

    from knowledge_graph.evaluation import WATER_OR_TUNNEL, algorithm_families
    from knowledge_graph import CityGraph

    fetch = subprocess.run(["bash", "scripts/fetch_vtest.sh"], capture_output=True, text=True)
    if fetch.returncode != 0:
        pytest.skip(f"vtest.avi cannot be fetched offline here (scripts/fetch_vtest.sh: {fetch.stderr.strip()[-200:]})")
    from runtime.backbone import Backbone
    from warehouse.settings import Settings
    from warehouse.training.backbone_export import ensure_backbone_onnx

    cap = cv2.VideoCapture(fetch.stdout.strip())
    frames = []
    for i in np.linspace(0, 397, 8).astype(int):  # training half only
        cap.set(cv2.CAP_PROP_POS_FRAMES, int(i))
        ok, f = cap.read()
        assert ok, f"vtest.avi frame {i} unreadable"
        frames.append(f)
    cap.release()
    bb = Backbone.load(ensure_backbone_onnx(Settings().resolved_cache_dir), intra_op_threads=1)
    est = discovery.classify_frames(bb, frames)
    # a roadway or pedestrian scene, never water or a tunnel; unsure ones are flagged
    assert est.primary in ("road", "sidewalk", "plaza", "park", "intersection"), est.confidences
    assert est.needs_review == (est.primary_confidence < 0.6)
    g = CityGraph(ontology)
    g.add_discovered_camera("vtest", "university", est)
    rel = g.relevance("vtest", datetime(2024, 5, 1, 12, 30))
    fam = algorithm_families(ontology, rel.algorithm_ids())
    assert fam["people"] and fam["vehicles"], fam
    assert fam["water_or_tunnel_only"] == []
    assert not [a for a in rel.algorithm_ids() if any(a.startswith(f"scene.{s}.") for s in WATER_OR_TUNNEL)]
    assert all(c.explanation.paths and c.explanation.reasons for c in rel.choices)
