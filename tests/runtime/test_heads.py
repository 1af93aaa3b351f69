"""HeadBank: one fused matmul equals every head run alone; masks, thresholds, hot swap."""
from __future__ import annotations

import threading

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from catalog import linear_head_onnx, read_linear_head
from runtime import HeadBank, HeadError

DIM = 16


def _head(seed: int, k: int = 2, activation: str = "sigmoid", dim: int = DIM, name: str | None = None) -> bytes:
    rng = np.random.default_rng(seed)
    return linear_head_onnx(rng.standard_normal((dim, k)).astype(np.float32), rng.standard_normal(k).astype(np.float32),
                            labels=[f"{name or seed}-{j}" for j in range(k)], activation=activation)


def _mlp_head(seed: int, k: int = 3) -> bytes:
    """A non-linear ONNX head (Gemm -> Relu -> Gemm -> Sigmoid) and nothing the bank can fuse."""
    import json

    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(seed)
    w1, w2 = rng.standard_normal((DIM, 8)).astype(np.float32), rng.standard_normal((8, k)).astype(np.float32)
    nodes = [helper.make_node("MatMul", ["embedding", "W1"], ["h"]), helper.make_node("Relu", ["h"], ["r"]),
             helper.make_node("MatMul", ["r", "W2"], ["z"]), helper.make_node("Sigmoid", ["z"], ["scores"])]
    g = helper.make_graph(nodes, "mlp", [helper.make_tensor_value_info("embedding", TensorProto.FLOAT, ["N", DIM])],
                          [helper.make_tensor_value_info("scores", TensorProto.FLOAT, ["N", k])],
                          initializer=[numpy_helper.from_array(w1, "W1"), numpy_helper.from_array(w2, "W2")])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    m.ir_version = 8
    p = m.metadata_props.add()
    p.key, p.value = "labels", json.dumps([f"mlp-{j}" for j in range(k)])
    return m.SerializeToString(), (w1, w2)


def _emb(n: int, seed: int = 9) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal((n, DIM)).astype(np.float32)


def test_fused_scores_equal_each_head_alone():
    heads = {"a": _head(1, 3, "sigmoid"), "b": _head(2, 4, "softmax"), "c": _head(3, 1, "none"), "d": _head(4, 2)}
    bank = HeadBank(heads)
    emb = _emb(5)
    out = bank.score(emb, [set(heads)] * 5)
    for a, blob in heads.items():
        ref = read_linear_head(blob).scores(emb)
        got = np.stack([fs.scores(a) for fs in out])
        np.testing.assert_allclose(got, ref, atol=1e-5, err_msg=a)


@settings(max_examples=25, deadline=None)
@given(st.lists(st.tuples(st.integers(1, 5), st.sampled_from(["sigmoid", "softmax", "none"])), min_size=1, max_size=8),
       st.integers(1, 6))
def test_fused_equals_reference_for_any_mix_of_heads(spec, n):
    heads = {f"h{i}": _head(i, k, act) for i, (k, act) in enumerate(spec)}
    emb = _emb(n)
    out = HeadBank(heads).score(emb, [set(heads)] * n)
    for a, blob in heads.items():
        np.testing.assert_allclose(np.stack([fs.scores(a) for fs in out]), read_linear_head(blob).scores(emb), atol=1e-5)


def test_each_camera_sees_only_its_assigned_heads():
    bank = HeadBank({"a": _head(1), "b": _head(2), "c": _head(3)})
    out = bank.score(_emb(2), [{"a"}, {"b", "c"}], camera_ids=["cam-1", "cam-2"])
    assert set(out[0].as_dict()) == {"a"} and set(out[1].as_dict()) == {"b", "c"}
    assert {f[0] for f in out[0].fired()} <= {"a"} and {f[0] for f in out[1].fired()} <= {"b", "c"}
    with pytest.raises(HeadError, match="'b' is not assigned to camera 'cam-1'"):
        out[0].scores("b")


@pytest.mark.parametrize(
    ("threshold", "label"),
    [
        (0.5, "t-0"),  # one threshold for every label
        ({"t-0": 0.2}, "t-0"),  # per label; others keep the default
        (0.99, "t-1"),
    ],
)
def test_fired_is_exactly_the_scores_at_or_over_threshold(threshold, label):
    bank = HeadBank({"t": _head(5, 2, name="t")}, thresholds={"t": threshold})
    emb = _emb(20)
    out = bank.score(emb, [{"t"}] * 20)
    thr = np.array([threshold.get(l, 0.5) if isinstance(threshold, dict) else threshold for l in ("t-0", "t-1")])
    for fs in out:
        expected = {("t", f"t-{j}") for j in range(2) if fs.scores("t")[j] >= thr[j]}
        assert {(a, l) for a, l, _ in fs.fired()} == expected


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"thresholds": {"a": {"nope": 0.3}}}, "labels \\['nope'\\] it does not have"),  # threshold for a missing label
        ({"heads": {"a": _head(1), "z": _head(2, dim=DIM + 1)}}, "reads a 17-d embedding"),  # mixed embedding sizes
    ],
)
def test_bad_heads_and_thresholds_are_refused(kwargs, match):
    heads = kwargs.pop("heads", {"a": _head(1, name="a")})
    with pytest.raises(HeadError, match=match):
        HeadBank(heads, **kwargs)


def test_score_refuses_mismatched_rows():
    bank = HeadBank({"a": _head(1)})
    with pytest.raises(HeadError, match="2 embedding rows but 1 assignments"):
        bank.score(_emb(2), [{"a"}])
    with pytest.raises(HeadError, match="expected \\[N, 16\\]"):
        bank.score(np.zeros((1, 3), np.float32), [{"a"}])


def test_swap_replaces_one_head_and_keeps_batches_in_flight_on_the_old_bank():
    bank = HeadBank({"a": _head(1), "b": _head(2)}, versions={"a": "v1", "b": "v1"})
    emb = _emb(3)
    before = bank.score(emb, [{"a", "b"}] * 3)
    old_b = np.stack([fs.scores("b") for fs in before])
    bank.swap("b", _head(7, 3), version="v2")
    after = bank.score(emb, [{"a", "b"}] * 3)
    assert bank.state.versions() == {"a": "v1", "b": "v2"}
    np.testing.assert_allclose(np.stack([fs.scores("b") for fs in after]), read_linear_head(_head(7, 3)).scores(emb), atol=1e-5)
    np.testing.assert_allclose(np.stack([fs.scores("a") for fs in after]), np.stack([fs.scores("a") for fs in before]))
    # results taken before the swap still read the old snapshot
    np.testing.assert_allclose(np.stack([fs.scores("b") for fs in before]), old_b)
    assert before[0].state.generation < after[0].state.generation


def test_concurrent_swaps_never_break_or_mix_a_batch():
    v1, v2 = _head(1, name="x"), _head(2, name="x")
    ref = {b: read_linear_head(b).scores(_emb(4)) for b in (v1, v2)}
    bank = HeadBank({"x": v1, "other": _head(3)})
    stop, errors, seen = threading.Event(), [], set()

    def swapper():
        i = 0
        while not stop.is_set():
            bank.swap("x", v2 if i % 2 == 0 else v1, version=f"v{i}")
            i += 1

    t = threading.Thread(target=swapper)
    t.start()
    try:
        for _ in range(300):
            out = bank.score(_emb(4), [{"x", "other"}] * 4)
            got = np.stack([fs.scores("x") for fs in out])
            match = [k for k, r in ref.items() if np.allclose(got, r, atol=1e-5)]
            if len(match) != 1:
                errors.append(got)
            seen.add(match[0] if match else None)
    finally:
        stop.set()
        t.join()
    assert not errors and seen <= set(ref)


def test_non_linear_heads_run_through_an_engine():
    blob, (w1, w2) = _mlp_head(4)
    bank = HeadBank({"mlp": blob, "lin": _head(1)}, thresholds={"mlp": 0.5})
    emb = _emb(5)
    out = bank.score(emb, [{"mlp", "lin"}, {"lin"}, {"mlp"}, set(), {"mlp"}])
    ref = 1.0 / (1.0 + np.exp(-(np.maximum(emb @ w1, 0) @ w2)))
    for i in (0, 2, 4):
        np.testing.assert_allclose(out[i].scores("mlp"), ref[i], atol=1e-5)
        assert {l for a, l, _ in out[i].fired() if a == "mlp"} == {f"mlp-{j}" for j in range(3) if ref[i, j] >= 0.5}
    assert "mlp" not in out[1].as_dict()
    assert bank.residency.resident() == ("head:mlp",)


def test_remove_drops_a_head():
    bank = HeadBank({"a": _head(1), "b": _head(2)})
    bank.remove("a")
    assert bank.algorithm_ids() == ("b",)
    assert bank.score(_emb(1), [{"a", "b"}])[0].as_dict().keys() == {"b"}
