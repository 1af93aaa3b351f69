"""Train and evaluate one linear head on backbone embeddings.

A head is logistic regression on standardised embeddings; the standardisation is folded
into the weights, so the artifact is a plain :func:`catalog.linear_head_onnx` graph
(``sigmoid(embedding @ W + b)``) that the runtime fuses with every other head. The decision
threshold is chosen on a validation split (max F1), never on the data it is scored on.

>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> x = rng.normal(size=(200, 16)).astype(np.float32); y = (x[:, 0] > 0.5).astype(int)
>>> head = train_head(x, y, seed=0, label="demo")
>>> evaluate_head(head.onnx_bytes, x, y, head.threshold)["f1"] > 0.9
True
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np

from catalog import LinearHead, linear_head_onnx, read_linear_head
from warehouse.errors import WarehouseError

log = logging.getLogger(__name__)

C_GRID = (0.02, 0.2)  # inverse L2 strength on standardised features; picked on validation F1
_EPS_STD = 1e-4


class HeadTrainingError(WarehouseError, ValueError):
    """Training data a head cannot be trained on (shape, single class, too few positives)."""


@dataclass(frozen=True, slots=True)
class TrainedHead:
    onnx_bytes: bytes
    threshold: float
    metrics: dict = field(default_factory=dict)  # validation metrics and training parameters


def _check(embeddings: np.ndarray, labels: np.ndarray, what: str) -> tuple[np.ndarray, np.ndarray]:
    x = np.asarray(embeddings, dtype=np.float32)
    y = np.asarray(labels).astype(np.int64).reshape(-1)
    if x.ndim != 2 or x.shape[0] != y.shape[0]:
        raise HeadTrainingError(f"{what}: embeddings {x.shape} and labels {y.shape} must be [N, D] and [N]; pass one label per row")
    if not np.isin(y, (0, 1)).all():
        raise HeadTrainingError(f"{what}: labels must be 0/1, got values {sorted(set(y.tolist()))[:5]}")
    return x, y


def best_threshold(scores: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """(threshold, f1) maximising F1 of ``scores >= threshold``.

    Among the cuts that reach the best F1, the one with the widest gap to the next lower score
    wins, and the threshold sits in the middle of that gap in logit space: with few validation
    positives, a threshold at the edge of the gap overfits.
    """
    order = np.argsort(-scores, kind="stable")
    s, yy = scores[order].astype(np.float64), y[order]
    pos = yy.sum()
    if pos == 0:
        return 0.5, 0.0
    tp = np.cumsum(yy)
    fp = np.cumsum(1 - yy)
    f1 = 2 * tp / (tp + fp + pos)
    valid = np.append(s[1:] < s[:-1], True)  # only cut between distinct scores
    f1 = np.where(valid, f1, -1.0)
    best = f1.max()
    logit = np.log(np.clip(s, 1e-9, 1 - 1e-9) / np.clip(1 - s, 1e-9, 1.0))
    below = np.append(logit[1:], logit[-1] - 4.0)  # the next lower score (or a margin under the lowest)
    ties = np.flatnonzero(f1 >= best - 1e-12)
    # cut k keeps rows 0..k: any threshold in (below[k], logit[k]] gives that F1; take the widest
    k = int(ties[np.argmax(logit[ties] - below[ties])])
    mid = (logit[k] + below[k]) / 2
    return float(1.0 / (1.0 + np.exp(-mid))), float(best)


def _prf(pred: np.ndarray, y: np.ndarray) -> dict:
    tp = int((pred & (y == 1)).sum())
    fp = int((pred & (y == 0)).sum())
    fn = int((~pred & (y == 1)).sum())
    p = tp / (tp + fp) if tp + fp else 0.0
    r = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * p * r / (p + r) if p + r else 0.0
    return {"precision": p, "recall": r, "f1": f1, "tp": tp, "fp": fp, "fn": fn, "n_pos": int((y == 1).sum()), "n_neg": int((y == 0).sum())}


def _split(y: np.ndarray, frac: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    val = np.zeros(len(y), bool)
    for c in (0, 1):
        idx = np.flatnonzero(y == c)
        rng.shuffle(idx)
        val[idx[: max(1, int(round(len(idx) * frac)))]] = True
    return ~val, val


def fit_logistic(z: np.ndarray, y: np.ndarray, c: float, *, max_iter: int = 400) -> tuple[np.ndarray, np.ndarray]:
    """Class-balanced L2 logistic regression for K independent heads at once (L-BFGS).

    ``z`` [N, D] (standardised), ``y`` [N, K] 0/1 -> (W [D, K], b [K]). Same objective as
    scikit-learn's ``LogisticRegression(C=c, class_weight="balanced")`` per column, but all
    columns share the matrix products, which is what makes hundreds of heads cheap.
    """
    from scipy.optimize import minimize

    n, dim = z.shape
    y = y.astype(np.float64).reshape(n, -1)
    k = y.shape[1]
    npos = y.sum(0)
    sw = np.where(y == 1, n / (2 * np.maximum(npos, 1)), n / (2 * np.maximum(n - npos, 1)))  # [N, K]
    zz = z.astype(np.float64)
    reg = 1.0 / (c * n)

    def fun(theta: np.ndarray) -> tuple[float, np.ndarray]:
        w = theta[: dim * k].reshape(dim, k)
        b = theta[dim * k :]
        logits = zz @ w + b
        # log(1+exp(-t)) computed stably for t = +-logits
        loss = sw * (y * np.logaddexp(0, -logits) + (1 - y) * np.logaddexp(0, logits))
        p = 1.0 / (1.0 + np.exp(-np.clip(logits, -60, 60)))
        g = sw * (p - y) / n
        gw = zz.T @ g + reg * w
        gb = g.sum(0)
        return float(loss.sum() / n + 0.5 * reg * (w * w).sum()), np.concatenate([gw.ravel(), gb])

    from threadpoolctl import threadpool_limits

    # one BLAS thread: the products are small, and multi-threaded OpenBLAS spin-waits badly on a
    # shared, oversubscribed box (measured 10x slower at load 16 on 2 cores)
    with threadpool_limits(limits=1):
        res = minimize(fun, np.zeros(dim * k + k), jac=True, method="L-BFGS-B", options={"maxiter": max_iter})
    return res.x[: dim * k].reshape(dim, k), res.x[dim * k :]


@dataclass(frozen=True, slots=True)
class _Std:
    mu: np.ndarray
    sd: np.ndarray

    @classmethod
    def fit(cls, x: np.ndarray) -> "_Std":
        return cls(x.mean(0), x.std(0) + _EPS_STD)

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return (x - self.mu) / self.sd

    def fold(self, w: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Weights on standardised inputs -> the same function on raw embeddings."""
        wf = w / self.sd[:, None]
        return wf.astype(np.float32), (b - self.mu @ wf).astype(np.float32)


def train_heads(
    embeddings: np.ndarray,
    label_matrix: np.ndarray,
    *,
    labels: tuple[str, ...] | list[str],
    validation: tuple[np.ndarray, np.ndarray],
    seed: int = 0,
    c_grid: tuple[float, ...] = C_GRID,
) -> list[TrainedHead]:
    """Train one binary head per column of ``label_matrix`` ([N, K] 0/1), sharing the work.

    C is chosen per head on the validation set, then the threshold (max validation F1).
    """
    x, y = np.asarray(embeddings, np.float32), np.asarray(label_matrix).astype(np.int64)
    xv, yv = np.asarray(validation[0], np.float32), np.asarray(validation[1]).astype(np.int64)
    if y.ndim != 2 or y.shape[0] != x.shape[0] or yv.shape != (xv.shape[0], y.shape[1]) or len(labels) != y.shape[1]:
        raise HeadTrainingError(f"train_heads: embeddings {x.shape}, label_matrix {y.shape}, validation {xv.shape}/{yv.shape}, "
                                f"{len(labels)} labels do not line up; pass [N,D], [N,K], [M,D], [M,K] and K labels")  # fmt: skip
    if not c_grid:
        raise HeadTrainingError("train_heads got an empty c_grid; pass at least one regularisation value, e.g. (0.2,)")
    for j, name in enumerate(labels):
        if y[:, j].sum() < 2 or (1 - y[:, j]).sum() < 2:
            raise HeadTrainingError(f"head {name!r} needs >= 2 positives and >= 2 negatives to train, got "
                                    f"{int(y[:, j].sum())} / {int((1 - y[:, j]).sum())}; label more frames")  # fmt: skip
    std = _Std.fit(x)
    z, zv = std(x), std(xv)
    best: list[tuple[float, float, float, np.ndarray, float] | None] = [None] * y.shape[1]
    for c in c_grid:
        w, b = fit_logistic(z, y, c)
        sv = 1.0 / (1.0 + np.exp(-np.clip(zv @ w + b, -60, 60)))
        for j in range(y.shape[1]):
            thr, f1 = best_threshold(sv[:, j], yv[:, j]) if yv[:, j].sum() else (0.5, 0.0)
            if best[j] is None or f1 > best[j][0] + 1e-9:  # type: ignore[index]
                best[j] = (f1, c, thr, w[:, j].copy(), float(b[j]))
    out = []
    for j, name in enumerate(labels):
        f1, c, thr, wj, bj = best[j]  # type: ignore[misc]
        wf, bf = std.fold(wj[:, None], np.array([bj]))
        blob = linear_head_onnx(wf, bf, labels=[name], activation="sigmoid")
        val = evaluate_head(blob, xv, yv[:, j], thr)
        metrics = {"val_f1": val["f1"], "val_precision": val["precision"], "val_recall": val["recall"], "C": c,
                   "n_train": int(len(y)), "n_train_pos": int(y[:, j].sum()), "n_val": int(len(yv)), "n_val_pos": int(yv[:, j].sum()),
                   "seed": seed}  # fmt: skip
        out.append(TrainedHead(blob, thr, metrics))
    return out


def train_head(
    embeddings: np.ndarray,
    labels: np.ndarray,
    *,
    seed: int,
    label: str = "positive",
    validation: tuple[np.ndarray, np.ndarray] | None = None,
    val_fraction: float = 0.25,
    c_grid: tuple[float, ...] = C_GRID,
) -> TrainedHead:
    """Fit one logistic-regression head; pick C and the threshold on validation data.

    Without ``validation``, a stratified ``val_fraction`` of the rows (chosen by ``seed``) is
    held out for it.
    """
    x, y = _check(embeddings, labels, "train_head")
    if validation is None:
        tr, va = _split(y, val_fraction, seed)
        xt, yt, xv, yv = x[tr], y[tr], x[va], y[va]
    else:
        xt, yt = x, y
        xv, yv = _check(*validation, "train_head validation")
    return train_heads(xt, yt[:, None], labels=[label], validation=(xv, yv[:, None]), seed=seed, c_grid=c_grid)[0]


def evaluate_head(head: bytes | LinearHead, embeddings: np.ndarray, labels: np.ndarray, threshold: float, *, output: int = 0) -> dict:
    """Precision, recall, F1 (and counts, average precision) of ``scores >= threshold``."""
    lh = read_linear_head(head) if isinstance(head, (bytes, bytearray)) else head
    x, y = _check(embeddings, labels, "evaluate_head")
    scores = lh.scores(x)[:, output]
    out = _prf(scores >= threshold, y)
    out["threshold"] = float(threshold)
    if 0 < out["n_pos"] < len(y):
        from sklearn.metrics import average_precision_score

        out["average_precision"] = float(average_precision_score(y, scores))
    return out
