"""train_head / train_heads / evaluate_head on controlled embeddings."""
from __future__ import annotations

import numpy as np
import onnxruntime as ort
import pytest

from catalog import read_linear_head
from warehouse.training.heads import HeadTrainingError, best_threshold, evaluate_head, fit_logistic, train_head, train_heads


def _data(n=300, d=32, seed=0, shift=5.0):
    rng = np.random.default_rng(seed)
    scale = np.random.default_rng(99).uniform(0.1, 10, d).astype(np.float32)  # the same "sensor" for every draw
    x = rng.normal(size=(n, d)).astype(np.float32) * scale + 50  # unscaled, offset
    y = (rng.random(n) < 0.3).astype(int)
    x[y == 1, 3] += shift * x[:, 3].std()
    return x, y


def test_head_learns_and_onnx_matches_numpy():
    x, y = _data()
    xt, yt = _data(seed=1)
    head = train_head(x, y, seed=0, label="fire")
    m = evaluate_head(head.onnx_bytes, xt, yt, head.threshold)
    assert m["f1"] > 0.9 and m["n_pos"] == yt.sum()
    lh = read_linear_head(head.onnx_bytes)
    assert lh.labels == ("fire",) and lh.activation == "sigmoid"
    sess = ort.InferenceSession(head.onnx_bytes, providers=["CPUExecutionProvider"])
    (onnx_scores,) = sess.run(None, {"embedding": xt})
    np.testing.assert_allclose(onnx_scores, lh.scores(xt), atol=1e-5)


def test_folded_standardisation_equals_the_standardised_model():
    # the head is trained on (x-mu)/sd; the stored W,b must give the same logits on raw x
    x, y = _data(seed=2)
    mu, sd = x.mean(0), x.std(0) + 1e-4
    w, b = fit_logistic((x - mu) / sd, y[:, None], 0.2)
    heads = train_heads(x, y[:, None], labels=["e"], validation=(x, y[:, None]), c_grid=(0.2,))
    lh = read_linear_head(heads[0].onnx_bytes)
    raw = x @ lh.weights + lh.bias
    std = ((x - mu) / sd) @ w + b
    np.testing.assert_allclose(raw, std, rtol=1e-3, atol=1e-3)


def test_fit_logistic_matches_scikit_learn():
    from sklearn.linear_model import LogisticRegression

    x, y = _data(seed=3, shift=1.0)
    z = (x - x.mean(0)) / x.std(0)
    w, b = fit_logistic(z, y[:, None], 0.1)
    ref = LogisticRegression(C=0.1, class_weight="balanced", tol=1e-8, max_iter=2000).fit(z, y)
    np.testing.assert_allclose(w[:, 0], ref.coef_[0], atol=2e-3)
    np.testing.assert_allclose(b[0], ref.intercept_[0], atol=2e-3)


def test_batched_heads_equal_single_heads():
    x, y = _data(seed=4)
    y2 = np.stack([y, 1 - y], 1)
    many = train_heads(x, y2, labels=["a", "b"], validation=(x, y2), c_grid=(0.2,))
    one = train_heads(x, y2[:, :1], labels=["a"], validation=(x, y2[:, :1]), c_grid=(0.2,))
    np.testing.assert_allclose(read_linear_head(many[0].onnx_bytes).weights, read_linear_head(one[0].onnx_bytes).weights, atol=1e-3)


@pytest.mark.parametrize(
    "scores,y,expected_f1,between",
    [
        ([0.9, 0.8, 0.3, 0.1], [1, 1, 0, 0], 1.0, (0.3, 0.8)),  # separable: cut between the classes
        ([0.9, 0.8, 0.7, 0.1], [1, 0, 1, 0], 0.8, (0.1, 0.7)),  # best keeps both positives
    ],
)
def test_best_threshold(scores, y, expected_f1, between):
    thr, f1 = best_threshold(np.array(scores), np.array(y))
    assert f1 == pytest.approx(expected_f1)
    assert between[0] < thr < between[1]


def test_evaluate_counts():
    x, y = _data(seed=5)
    head = train_head(x, y, seed=0)
    m = evaluate_head(head.onnx_bytes, x, y, threshold=1.1)  # nothing passes
    assert (m["tp"], m["fp"], m["fn"], m["recall"], m["f1"]) == (0, 0, int(y.sum()), 0.0, 0.0)


@pytest.mark.parametrize(
    "x,y,match",
    [
        (np.zeros((10, 4)), np.zeros(10), "2 positives"),  # a single class
        (np.zeros((10, 4)), np.zeros(9), "one label per row"),  # shape mismatch
        (np.zeros((10, 4)), np.full(10, 2), "0/1"),  # not binary
    ],
)
def test_train_head_refuses_bad_data(x, y, match):
    with pytest.raises(HeadTrainingError, match=match):
        train_head(x, y, seed=0)
