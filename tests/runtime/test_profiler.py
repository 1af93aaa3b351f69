"""Profiler: cost profiles per batch size, for engines, the backbone and heads in the bank."""
from __future__ import annotations

import numpy as np
import pytest

from catalog import linear_head_onnx
from runtime import CostProfile, HeadBank, OrtEngine, ProfilerError, profile_engine, profile_head_bank
from runtime.profiler import profile_callable


def test_profile_callable_records_every_batch_size_and_the_best_per_frame_cost():
    calls = []
    prof = profile_callable(lambda b: calls.append(b), engine="fake", memory_mib=3.0, batch_sizes=(4, 1, 2, 2), warmup=1, repeats=2)
    assert isinstance(prof, CostProfile)
    assert sorted(prof.latency_ms_per_batch) == [1, 2, 4]
    assert prof.latency_ms_per_frame == pytest.approx(min(t / b for b, t in prof.latency_ms_per_batch.items()))
    assert calls.count(4) == 3 and prof.memory_mib == 3.0 and prof.engine == "fake"  # 1 warm-up + 2 timed


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"batch_sizes": ()}, "batch_sizes must be positive integers, got \\[\\]"),
        ({"batch_sizes": (0, 2)}, "got \\[0, 2\\]"),
        ({"repeats": 0}, "repeats must be >= 1, got 0"),
    ],
)
def test_profile_callable_refuses_bad_requests(kwargs, match):
    with pytest.raises(ProfilerError, match=match):
        profile_callable(lambda b: None, engine="x", memory_mib=0, **kwargs)


def test_profile_engine_on_a_real_onnx_model_reads_its_input_shape():
    blob = linear_head_onnx(np.ones((64, 3), np.float32), np.zeros(3, np.float32), labels=["a", "b", "c"])
    prof = profile_engine(OrtEngine(blob), batch_sizes=(1, 8), repeats=2)
    assert set(prof.latency_ms_per_batch) == {1, 8} and prof.engine == "ort-cpu"
    assert all(t > 0 for t in prof.latency_ms_per_batch.values()) and prof.memory_mib >= 0


def test_profile_head_bank_splits_the_fused_cost_by_columns():
    heads = {f"h{k}": linear_head_onnx(np.ones((32, k), np.float32), np.zeros(k, np.float32), labels=[str(j) for j in range(k)])
             for k in (1, 3)}
    profs = profile_head_bank(HeadBank(heads), batch_sizes=(1, 4), repeats=2)
    assert profs["h3"].latency_ms_per_batch[4] == pytest.approx(3 * profs["h1"].latency_ms_per_batch[4])
    assert profs["h3"].memory_mib == pytest.approx(33 * 3 * 4 / 2**20)
    with pytest.raises(ProfilerError, match="'nope' is not a linear head"):
        profile_head_bank(HeadBank(heads), ["nope"], batch_sizes=(1,), repeats=1)
