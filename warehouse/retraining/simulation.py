"""Synthetic embedding pools for the flywheel's benchmarks and tests (a documented generative model).

Rendering and embedding 200,000 frames is out of reach on a shared 2-core box, so the mining
and flywheel benchmarks draw embeddings from this model instead, and say so:

- each frame belongs to a *context* (a camera under a condition); a context is a centre
  ``c ~ N(0, s_ctx^2 I)`` and its frames scatter around it with ``N(0, s_frame^2 I)``;
- a frame showing the rare event adds one of a few event *appearances* (modes
  ``e_m = sqrt(1 - mode_share) * common + sqrt(mode_share) * specific_m``, both
  ``N(0, s_event^2 I)``: what all appearances share, and what each has of its own) with a strength in ``[0.4, 1]`` (far or half-hidden events
  are weak), and keeps ``1 - 0.5 * strength`` of its context;
- a share of negatives are *look-alikes*: they carry a distractor direction that shares
  ``lookalike_overlap`` of an event mode (ice that looks like water, a shadow like smoke).

Positives of one appearance therefore cluster across cameras, as salient events do in
backbone embeddings, but weak positives and look-alikes overlap the negatives, so neither
nearest neighbours nor a linear head separates them perfectly.

>>> p = rare_event_pool(2_000, positive_rate=0.01, seed=0)
>>> p.embeddings.shape, int(p.labels.sum())
((2000, 96), 20)
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from warehouse.errors import InvalidInputError


@dataclass(frozen=True, slots=True)
class SyntheticPool:
    frame_ids: list[str]
    embeddings: np.ndarray  # [N, D] float32
    labels: np.ndarray  # [N] int8, the exact ground truth
    contexts: np.ndarray  # [N] int, the context (camera x condition) of each frame
    lookalike: np.ndarray  # [N] bool
    modes: np.ndarray  # [N] int: the event appearance of a positive, -1 for negatives

    def truth(self) -> dict[str, bool]:
        return {f: bool(y) for f, y in zip(self.frame_ids, self.labels)}


def rare_event_pool(n: int, *, positive_rate: float = 0.001, dim: int = 96, n_contexts: int = 200, n_modes: int = 6,
                    s_ctx: float = 1.0, s_frame: float = 0.55, s_event: float = 1.1, lookalike_rate: float = 0.01,
                    lookalike_overlap: float = 0.6, mode_share: float = 0.7, seed: int = 0, prefix: str = "f") -> SyntheticPool:
    """``n`` frames, ``round(n * positive_rate)`` of them showing the event (see the module text)."""
    if n < 10 or not 0 < positive_rate < 0.5:
        raise InvalidInputError(f"rare_event_pool needs n >= 10 and 0 < positive_rate < 0.5, got n={n}, rate={positive_rate}")
    rng = np.random.default_rng(seed)
    centres = rng.normal(0, s_ctx, size=(n_contexts, dim))
    common = rng.normal(0, s_event, size=dim)  # what every appearance of the event shares
    modes = np.sqrt(mode_share) * rng.normal(0, s_event, size=(n_modes, dim)) + np.sqrt(1 - mode_share) * common
    distractors = lookalike_overlap * modes + np.sqrt(1 - lookalike_overlap**2) * rng.normal(0, s_event, size=(n_modes, dim))
    ctx = rng.integers(0, n_contexts, size=n)
    x = centres[ctx] + rng.normal(0, s_frame, size=(n, dim))
    n_pos = max(1, int(round(n * positive_rate)))
    order = rng.permutation(n)
    pos, look = order[:n_pos], order[n_pos:n_pos + int(round(n * lookalike_rate))]
    strength = rng.uniform(0.4, 1.0, size=n_pos)[:, None]
    pos_mode = rng.integers(0, n_modes, size=n_pos)
    x[pos] = (1 - 0.5 * strength) * x[pos] + strength * modes[pos_mode] * 3
    ls = rng.uniform(0.4, 1.0, size=len(look))[:, None]
    x[look] = (1 - 0.5 * ls) * x[look] + ls * distractors[rng.integers(0, n_modes, size=len(look))] * 3
    y = np.zeros(n, np.int8)
    y[pos] = 1
    lk = np.zeros(n, bool)
    lk[look] = True
    m = np.full(n, -1, int)
    m[pos] = pos_mode
    return SyntheticPool([f"{prefix}{i}" for i in range(n)], x.astype(np.float32), y, ctx, lk, m)
