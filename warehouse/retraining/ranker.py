"""The round's ranker: a linear classifier refit on every label so far, in the ANN index's space.

Mining scores its candidate set with it, and asks the index for the frames along its
weight direction: the index holds unit vectors and searches by inner product, so the
nearest neighbours of the unit weight vector are exactly the frames the ranker scores
highest (up to the ANN's approximation). That is how a round reaches positives that are
near no labeled positive (an appearance of the event no report showed), while still
scanning only a candidate set.

It is fit on unit vectors of the labeled frames (positives and negatives: look-alikes a
labeler rejected stop ranking high after one round) plus a small random *background*
sample of unlabeled frames as provisional negatives (at 0.1% positives, almost all of them
are negatives; they are read, so they count as scanned, and never count as labels).
scikit-learn's logistic regression, class-balanced; deterministic for a given input.

>>> import numpy as np
>>> u = np.eye(3, dtype=np.float32)[[0, 0, 1, 2]]
>>> r = fit_ranker(u, np.array([1, 1, 0, 0]))
>>> bool(r.probability(np.eye(3, dtype=np.float32))[0] > 0.5), r.direction.shape
(True, (3,))
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from warehouse.errors import InvalidInputError


@dataclass(frozen=True, slots=True)
class Ranker:
    direction: np.ndarray  # unit weight vector [D]: search the index with it
    weight_norm: float
    bias: float

    def logit(self, unit_vectors: np.ndarray) -> np.ndarray:
        return np.asarray(unit_vectors, np.float64) @ (self.direction * self.weight_norm) + self.bias

    def probability(self, unit_vectors: np.ndarray) -> np.ndarray:
        return 1.0 / (1.0 + np.exp(-np.clip(self.logit(unit_vectors), -40, 40)))


def fit_ranker(unit_vectors: np.ndarray, labels: np.ndarray, *, sample_weight: np.ndarray | None = None, c: float = 1.0) -> Ranker:
    """Class-balanced logistic regression on unit vectors; both classes must be present."""
    from sklearn.linear_model import LogisticRegression

    y = np.asarray(labels).astype(int)
    if len(y) != len(unit_vectors) or len(set(y.tolist())) != 2:
        raise InvalidInputError(f"the mining ranker needs both labels among its {len(y)} frames (got classes {sorted(set(y.tolist()))}); "
                                "label at least one positive and one negative, or pass background frames")
    clf = LogisticRegression(C=c, class_weight="balanced", max_iter=500).fit(np.asarray(unit_vectors, np.float64), y,
                                                                          sample_weight=sample_weight)
    w = clf.coef_[0].astype(np.float64)
    norm = float(np.linalg.norm(w))
    return Ranker((w / norm).astype(np.float32) if norm > 0 else w.astype(np.float32), norm, float(clf.intercept_[0]))
