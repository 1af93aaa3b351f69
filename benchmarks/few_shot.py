"""Few-shot benchmark: heads on the pretrained backbone vs a small CNN from scratch.

Seed 001 claims a foundation backbone lifts a 100-label model from 30% to 80% accuracy.
Here: 4-way frame classification (no event / fire / shared-bike pile-up / stray animal) on a
held-out set of real pictures (scikit-image, scikit-learn; events painted in) and synthetic
city frames; train and test share no picture and no seed. For 10/20/50/100 labels per class,
macro F1 of (a) linear heads on the frozen MobileNetV2 embedding and (b) a ~100k-parameter
CNN trained from random init on CPU, averaged over ``--repeats`` draws of the labels.

    .venv/bin/python -m benchmarks.few_shot            # 1 repeat, 60 test frames per class (~3 min)
    .venv/bin/python -m benchmarks.few_shot --full     # 3 repeats, 200 test frames per class
    .venv/bin/python -m benchmarks.few_shot --repeats 2 --test-per-class 100

Prints one JSON object as its last line.
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import tempfile
import time
from pathlib import Path

import numpy as np

LABEL_COUNTS = (10, 20, 50, 100)


def run(*, repeats: int, test_per_class: int, cache_dir: Path, epochs: int) -> dict:
    from runtime import Backbone
    from warehouse.training.backbone_export import ensure_backbone_onnx
    from warehouse.training.embedding_cache import EmbeddingCache
    from warehouse.training.few_shot import CLASSES, backbone_heads_predict, macro_f1, make_task, scratch_cnn_predict, subsample

    t0 = time.perf_counter()
    task = make_task(train_per_class=max(LABEL_COUNTS), test_per_class=test_per_class, seed=0)
    make_s = time.perf_counter() - t0
    path = ensure_backbone_onnx(cache_dir)
    bb = Backbone.load(path)
    cache = EmbeddingCache(cache_dir)

    def embed(images):
        key = cache.key_for_images(backbone_sha=bb.info.weights_sha256, images=images)
        hit = cache.load(key)
        if hit is not None:
            return hit["embedding"]
        emb = bb.embed_frames(images)[1]
        cache.save(key, embedding=emb)
        return emb

    t1 = time.perf_counter()
    tr_emb, te_emb = embed(task.train_images), embed(task.test_images)
    embed_s = time.perf_counter() - t1
    real, synth = task.test_is_real, ~task.test_is_real
    rows = {k: {"backbone": [], "scratch": [], "backbone_real": [], "scratch_real": [], "backbone_synth": [], "scratch_synth": []} for k in LABEL_COUNTS}
    t2 = time.perf_counter()
    scratch_s = 0.0
    for k in LABEL_COUNTS:
        for r in range(repeats):
            idx = subsample(task.train_labels, k, seed=1000 * k + r)
            pb = backbone_heads_predict(tr_emb[idx], task.train_labels[idx], te_emb)
            ts = time.perf_counter()
            ps = scratch_cnn_predict([task.train_images[i] for i in idx], task.train_labels[idx], task.test_images, seed=r, epochs=epochs)
            scratch_s += time.perf_counter() - ts
            for name, pred in (("backbone", pb), ("scratch", ps)):
                rows[k][name].append(macro_f1(task.test_labels, pred))
                rows[k][f"{name}_real"].append(macro_f1(task.test_labels[real], pred[real]))
                rows[k][f"{name}_synth"].append(macro_f1(task.test_labels[synth], pred[synth]))
    mean = lambda k, n: round(float(np.mean(rows[k][n])), 4)  # noqa: E731
    return {
        "benchmark": "few_shot",
        "task": "4-way frame classification: " + ", ".join(CLASSES),
        "metric": "macro F1 on the held-out set",
        "labels_per_class": list(LABEL_COUNTS),
        "backbone_f1": [mean(k, "backbone") for k in LABEL_COUNTS],
        "scratch_f1": [mean(k, "scratch") for k in LABEL_COUNTS],
        "backbone_f1_real": [mean(k, "backbone_real") for k in LABEL_COUNTS],
        "scratch_f1_real": [mean(k, "scratch_real") for k in LABEL_COUNTS],
        "backbone_f1_synthetic": [mean(k, "backbone_synth") for k in LABEL_COUNTS],
        "scratch_f1_synthetic": [mean(k, "scratch_synth") for k in LABEL_COUNTS],
        "backbone_f1_std": [round(float(np.std(rows[k]["backbone"])), 4) for k in LABEL_COUNTS],
        "scratch_f1_std": [round(float(np.std(rows[k]["scratch"])), 4) for k in LABEL_COUNTS],
        "repeats": repeats,
        "test_frames": len(task.test_labels),
        "test_real_frames": int(real.sum()),
        "scratch_epochs": epochs,
        "seconds": {"make_frames": round(make_s, 1), "embed": round(embed_s, 1), "train_eval": round(time.perf_counter() - t2, 1),
                    "of_which_scratch": round(scratch_s, 1)},  # fmt: skip
        "seed_claim": "100 labels: 30% from scratch -> 80% with a foundation backbone (seed 001)",
        "cpu_count": os.cpu_count(),
        "loadavg_1m": round(os.getloadavg()[0], 2),
    }


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--full", action="store_true", help="3 repeats, 200 test frames per class")
    ap.add_argument("--repeats", type=int, default=None, help="draws of the training labels per label count")
    ap.add_argument("--test-per-class", type=int, default=None, help="held-out frames per class (half real, half synthetic)")
    ap.add_argument("--cache-dir", type=Path, default=None, help="backbone + embedding cache (default: a temp dir)")
    ap.add_argument("--epochs", type=int, default=40, help="scratch CNN epochs")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    with tempfile.TemporaryDirectory(prefix="few-shot-") as td:
        cache_dir = args.cache_dir or Path(td)
        repeats = args.repeats or (3 if args.full else 1)
        test_per_class = args.test_per_class or (200 if args.full else 60)
        out = run(repeats=repeats, test_per_class=test_per_class, cache_dir=cache_dir, epochs=args.epochs)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
