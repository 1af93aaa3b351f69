"""Train a head with PyTorch, warm-started from the version in production; reproducible.

Same inputs (dataset version = the exact arrays) and the same seed give the same bytes:
full-batch training on CPU with one thread, a seeded generator for the validation split,
deterministic algorithms on. A warm start begins at the current head's weights (mapped into
the standardised space) and is anchored to them (``anchor`` times the squared distance), so
a retrain fixes what the new labels show without forgetting what the old head knew.

>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> x = rng.normal(size=(300, 8)).astype(np.float32); y = (x[:, 0] + 0.3 * x[:, 1] > 0.4).astype(int)
>>> a = train_head_torch(x, y, seed=3, label="demo"); b = train_head_torch(x, y, seed=3, label="demo")
>>> a.onnx_bytes == b.onnx_bytes, a.metrics["val_f1"] > 0.85
(True, True)
"""
from __future__ import annotations

import contextlib
import logging

import numpy as np

from catalog import LinearHead, linear_head_onnx
from warehouse.training.heads import HeadTrainingError, TrainedHead, best_threshold, evaluate_head

log = logging.getLogger(__name__)
TRAINER = "torch-linear-warmstart/1"


@contextlib.contextmanager
def _torch_deterministic():
    import torch

    threads = torch.get_num_threads()
    det = torch.are_deterministic_algorithms_enabled()
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    try:
        yield torch
    finally:
        torch.set_num_threads(threads)
        torch.use_deterministic_algorithms(det)


def _split(y: np.ndarray, frac: float, seed: int) -> np.ndarray:
    """Stratified validation mask (at least one of each class when there are two)."""
    rng = np.random.default_rng(seed)
    val = np.zeros(len(y), bool)
    for c in (0, 1):
        idx = np.flatnonzero(y == c)
        rng.shuffle(idx)
        if len(idx) >= 2:
            val[idx[: max(1, int(round(len(idx) * frac)))]] = True
    return val


def train_head_torch(embeddings: np.ndarray, labels: np.ndarray, *, seed: int, label: str = "positive",
                     init: LinearHead | None = None, validation: tuple[np.ndarray, np.ndarray] | None = None,
                     val_fraction: float = 0.25, epochs: int = 300, lr: float = 0.05, weight_decay: float = 1e-3,
                     anchor: float = 3e-3) -> TrainedHead:
    """Class-balanced logistic head trained with Adam (full batch); threshold chosen on validation (max F1)."""
    x = np.asarray(embeddings, np.float32)
    y = np.asarray(labels).astype(np.int64).reshape(-1)
    if x.ndim != 2 or len(x) != len(y):
        raise HeadTrainingError(f"train_head_torch: embeddings {x.shape} and labels {y.shape} must be [N, D] and [N]")
    if int(y.sum()) < 2 or int((1 - y).sum()) < 2:
        raise HeadTrainingError(f"head {label!r} needs >= 2 positives and >= 2 negatives to train, got {int(y.sum())} / "
                                f"{int((1 - y).sum())}; label more frames")
    if init is not None and init.weights.shape[0] != x.shape[1]:
        raise HeadTrainingError(f"warm start head has {init.weights.shape[0]} inputs, embeddings have {x.shape[1]}; "
                                "the head and the dataset must come from the same backbone")
    if validation is None:
        val = _split(y, val_fraction, seed)
        xt, yt, xv, yv = x[~val], y[~val], x[val], y[val]
    else:
        xt, yt = x, y
        xv, yv = np.asarray(validation[0], np.float32), np.asarray(validation[1]).astype(np.int64)
    mu, sd = xt.mean(0), xt.std(0) + 1e-4
    with _torch_deterministic() as torch:
        g = torch.Generator().manual_seed(int(seed))
        zt = torch.from_numpy((xt - mu) / sd)
        yt_t = torch.from_numpy(yt.astype(np.float32))
        if init is not None:
            w0 = torch.from_numpy((init.weights[:, 0] * sd).astype(np.float32))
            b0 = torch.tensor(float(init.bias[0] + mu @ init.weights[:, 0]))
        else:
            w0 = torch.randn(x.shape[1], generator=g) * 0.01
            b0 = torch.tensor(0.0)
        w = w0.clone().requires_grad_(True)
        b = b0.clone().requires_grad_(True)
        pos_weight = torch.tensor(float((1 - yt).sum() / max(1, yt.sum())))
        opt = torch.optim.Adam([w, b], lr=lr)
        for _ in range(epochs):
            opt.zero_grad()
            logits = zt @ w + b
            loss = torch.nn.functional.binary_cross_entropy_with_logits(logits, yt_t, pos_weight=pos_weight)
            reg = anchor * ((w - w0) ** 2).sum() if init is not None else weight_decay * (w**2).sum()
            (loss + reg).backward()
            opt.step()
        wz, bz = w.detach().numpy().astype(np.float64), float(b.detach())
    wf = (wz / sd)[:, None].astype(np.float32)
    bf = np.array([bz - float(mu @ wf[:, 0])], np.float32)
    scores_v = 1.0 / (1.0 + np.exp(-np.clip(xv @ wf[:, 0] + bf[0], -60, 60)))
    thr, _ = best_threshold(scores_v, yv) if yv.sum() else (0.5, 0.0)
    blob = linear_head_onnx(wf, bf, labels=[label], activation="sigmoid")
    v = evaluate_head(blob, xv, yv, thr)
    metrics = {"val_f1": v["f1"], "val_precision": v["precision"], "val_recall": v["recall"], "n_train": int(len(yt)),
               "n_train_pos": int(yt.sum()), "n_val": int(len(yv)), "seed": int(seed), "epochs": int(epochs),
               "warm_start": float(init is not None)}  # fmt: skip
    log.info("trained head %s (%s) n=%d val_f1=%.3f warm=%s", label, TRAINER, len(yt), v["f1"], init is not None)
    return TrainedHead(blob, float(thr), metrics)
