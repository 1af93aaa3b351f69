"""Rate sampling by timestamp: plan fps out of source fps."""
from __future__ import annotations

import pytest

from runtime.sampling import RateSampler, sample_mask
from runtime.streams import StreamConfigError


@pytest.mark.parametrize(
    "source_fps, target_fps",
    [
        (25, 5),  # integer ratio
        (30, 7),  # non-integer ratio
        (29.97, 10),  # NTSC rate
        (10, 10),  # same rate: everything
        (10, 30),  # plan faster than the source: everything
    ],
)
def test_kept_rate_matches_the_plan(source_fps, target_fps):
    n = int(source_fps * 20)
    kept = sum(sample_mask([i * 1000.0 / source_fps for i in range(n)], target_fps=target_fps, source_fps=source_fps))
    assert kept == pytest.approx(min(target_fps, source_fps) * 20, abs=1)


def test_a_gap_restarts_the_grid_instead_of_bursting():
    s = RateSampler(target_fps=2, source_fps=10)
    first = [t for t in range(0, 1000, 100) if s.accept(t)]
    after_gap = [t for t in range(5000, 6000, 100) if s.accept(t)]
    assert first == [0, 500] and after_gap == [5000, 5500]


def test_timestamps_going_back_restart_sampling():
    s = RateSampler(target_fps=1, source_fps=10)
    assert s.accept(10_000) and not s.accept(10_100)
    assert s.accept(0)  # a looped file starts again at 0


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"target_fps": 0}, "target_fps=0"),  # no rate
        ({"target_fps": -1}, "target_fps=-1"),  # negative
        ({"target_fps": 5, "source_fps": 0}, "source_fps=0"),  # bad source rate
    ],
)
def test_validation(kwargs, match):
    with pytest.raises(StreamConfigError, match=match):
        RateSampler(**kwargs)
