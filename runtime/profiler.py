"""Measured cost profiles (``catalog.CostProfile``): time per frame at each batch size, and memory.

``profile_engine`` times any :class:`runtime.engines.Engine` (warm-up first, then the median
of ``repeats`` runs per batch size); ``profile_backbone`` and ``profile_head_bank`` wrap it
for the shared backbone and for the per-algorithm cost of a head in the fused bank.

>>> from runtime.engines import OrtEngine                                    # doctest: +SKIP
>>> prof = profile_engine(OrtEngine(onnx_bytes), batch_sizes=(1, 8))          # doctest: +SKIP
>>> prof.latency_ms_per_batch[8] / 8 >= prof.latency_ms_per_frame             # doctest: +SKIP
True
"""
from __future__ import annotations

import gc
import logging
import os
import statistics
import time
from typing import Callable, Mapping, Sequence

import numpy as np

import catalog

log = logging.getLogger(__name__)

DEFAULT_BATCH_SIZES = (1, 2, 4, 8, 16, 32)


class ProfilerError(ValueError):
    """A profiling request that cannot be measured."""


# one measured cost record for the whole system: the catalog's (stored with each version,
# read by the control plane into the scheduler's instances)
CostProfile = catalog.CostProfile


def rss_mib() -> float:
    try:
        import psutil

        return psutil.Process(os.getpid()).memory_info().rss / 2**20
    except ImportError:  # pragma: no cover - psutil is a dependency
        return 0.0


def time_calls(fn: Callable[[], object], *, warmup: int = 1, repeats: int = 5, clock: Callable[[], float] = time.perf_counter) -> float:
    """Median wall time of ``fn()`` in ms after ``warmup`` untimed calls."""
    if repeats < 1:
        raise ProfilerError(f"repeats must be >= 1, got {repeats}")
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        t0 = clock()
        fn()
        times.append((clock() - t0) * 1000.0)
    return float(statistics.median(times))


def profile_callable(
    run_batch: Callable[[int], object], *, engine: str, memory_mib: float, batch_sizes: Sequence[int] = DEFAULT_BATCH_SIZES,
    warmup: int = 1, repeats: int = 5,
) -> CostProfile:
    """Profile ``run_batch(batch_size)`` (it builds its own input; keep that cheap or pre-built)."""
    if not batch_sizes or any(b < 1 for b in batch_sizes):
        raise ProfilerError(f"batch_sizes must be positive integers, got {list(batch_sizes)}")
    per_batch = {int(b): time_calls(lambda b=b: run_batch(b), warmup=warmup, repeats=repeats) for b in sorted(set(batch_sizes))}
    per_frame = min(t / b for b, t in per_batch.items())
    return CostProfile(latency_ms_per_frame=per_frame, latency_ms_per_batch=per_batch, memory_mib=float(memory_mib), engine=engine)


def profile_engine(
    engine, *, batch_sizes: Sequence[int] = DEFAULT_BATCH_SIZES, input_shapes: Mapping[str, tuple[int, ...]] | None = None,
    memory_mib: float | None = None, warmup: int = 1, repeats: int = 5, seed: int = 0,
) -> CostProfile:
    """Time an engine on random float32 inputs; ``input_shapes`` gives each input's shape without N.

    Memory: the caller's measurement if given (see :func:`measure_build_mib`), else the RSS
    growth while running the largest batch (activations), which is a lower bound.
    """
    shapes = dict(input_shapes or _shapes_from_engine(engine))
    rng = np.random.default_rng(seed)
    big = max(batch_sizes)
    pool = {k: rng.standard_normal((big, *s)).astype(np.float32) for k, s in shapes.items()}
    before = rss_mib()
    prof = profile_callable(lambda b: engine.run({k: v[:b] for k, v in pool.items()}), engine=engine.info.name,
                            memory_mib=0.0, batch_sizes=batch_sizes, warmup=warmup, repeats=repeats)
    mem = memory_mib if memory_mib is not None else max(rss_mib() - before, 0.0)
    log.info("profiled engine=%s per_frame_ms=%.3f memory_mib=%.1f", engine.info, prof.latency_ms_per_frame, mem)
    return CostProfile(prof.latency_ms_per_frame, prof.latency_ms_per_batch, float(mem), prof.engine)


def measure_build_mib(build: Callable[[], object]) -> tuple[object, float]:
    """Build something (an engine) and return it with the resident memory it added, in MiB."""
    gc.collect()
    before = rss_mib()
    obj = build()
    return obj, max(rss_mib() - before, 0.0)


def profile_backbone(backbone, *, batch_sizes: Sequence[int] = DEFAULT_BATCH_SIZES, frame_hw: tuple[int, int] = (360, 640),
                     memory_mib: float = 0.0, warmup: int = 1, repeats: int = 5) -> CostProfile:
    """Preprocess (resize from ``frame_hw``) + backbone pass, per batch size."""
    from runtime.backbone import preprocess_bgr

    rng = np.random.default_rng(0)
    frames = [rng.integers(0, 255, (*frame_hw, 3), dtype=np.uint8) for _ in range(max(batch_sizes))]
    return profile_callable(lambda b: backbone.run(preprocess_bgr(frames[:b])), engine=backbone.engine.info.name,
                            memory_mib=memory_mib, batch_sizes=batch_sizes, warmup=warmup, repeats=repeats)


def profile_head_bank(bank, algorithm_ids: Sequence[str] | None = None, *, batch_sizes: Sequence[int] = DEFAULT_BATCH_SIZES,
                      warmup: int = 1, repeats: int = 5) -> dict[str, CostProfile]:
    """Marginal cost of each head in the fused bank: its share of the fused matmul, by columns.

    One timing of the whole bank per batch size, split by column count: a head with k of the
    bank's K columns costs k/K of it (the matmul is linear in K). Memory: its weights.
    """
    state = bank.state
    k_total = max(int(state.weights.shape[1]), 1)
    rng = np.random.default_rng(0)
    emb = rng.standard_normal((max(batch_sizes), state.embedding_dim)).astype(np.float32)
    ids = list(algorithm_ids or state.segments)
    whole = profile_callable(lambda b: bank.score(emb[:b], [set(ids)] * b), engine="numpy-fused", memory_mib=0.0,
                             batch_sizes=batch_sizes, warmup=warmup, repeats=repeats)
    out = {}
    for a in ids:
        s = state.segments.get(a)
        if s is None:
            raise ProfilerError(f"{a!r} is not a linear head of the bank (linear heads: {sorted(state.segments)[:20]}); profile its engine instead")
        share = (s.stop - s.start) / k_total
        out[a] = CostProfile(
            latency_ms_per_frame=whole.latency_ms_per_frame * share,
            latency_ms_per_batch={b: t * share for b, t in whole.latency_ms_per_batch.items()},
            memory_mib=(state.embedding_dim + 1) * (s.stop - s.start) * 4 / 2**20,
            engine="numpy-fused",
        )
    return out


def _shapes_from_engine(engine) -> dict[str, tuple[int, ...]]:
    shapes = getattr(engine, "input_shapes", None)
    if shapes and set(shapes) == set(engine.input_names):
        return dict(shapes)
    raise ProfilerError(
        f"engine {engine.info} needs input_shapes (shape of each input without the batch dim), "
        f"e.g. {{{engine.input_names[0]!r}: (3, 224, 224)}}"
    )
