"""Mining: which retained frames are worth a labeler's time after a mistake.

A round (SEALS-style) never scores the whole pool: it asks the pool's ANN index
(:class:`warehouse.framepool.EmbeddingIndex`, FAISS HNSW) for the nearest neighbours of the
mistakes and of the positives labeled so far, scores only that candidate set with the
current head, and picks a labeling batch from it by three quotas: frames the head thinks
likely positive, frames closest to its threshold (uncertainty), and frames most like the
mistakes; every pick must be unlike the frames already picked (diversity). Strategies are
looked up by name in a :class:`MiningRegistry` passed in; ``random`` and ``uncertainty``
(a full-pool scan) are the baselines the benchmark compares against.

>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> emb = rng.normal(size=(500, 16)).astype(np.float32); emb[:10] += 6
>>> pool = ArrayPool([f"f{i}" for i in range(500)], emb)
>>> r = MiningRegistry().get("seals").mine(pool, MiningRequest(queries=("f0",), labeled=frozenset({"f0"}),
...     score=lambda x: 1 / (1 + np.exp(-x[:, 0])), threshold=0.5, budget=12))
>>> sum(int(f[1:]) < 10 for f in r.selected) >= 8, r.scanned_fraction < 1
(True, True)
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from collections.abc import Mapping
from typing import Callable, Protocol

import numpy as np

from warehouse.errors import InvalidInputError
from warehouse.framepool import EmbeddingIndex
from warehouse.retraining.ranker import Ranker, fit_ranker

log = logging.getLogger(__name__)

ScoreFn = Callable[[np.ndarray], np.ndarray]  # raw embeddings [n, D] -> P(event) [n]


class MiningPool(Protocol):
    """What mining needs from a pool: its ANN index and the raw embeddings (for the head)."""

    def index(self) -> EmbeddingIndex: ...

    def embeddings(self, frame_ids: list[str]) -> np.ndarray: ...


class ArrayPool:
    """An in-memory pool (benchmarks, tests): ids and raw embeddings, indexed once.

    With ``cameras`` (one per frame) the index is centred by camera, as the frame pool's is."""

    def __init__(self, frame_ids: list[str], embeddings: np.ndarray, cameras: list[str] | None = None) -> None:
        self._emb = np.asarray(embeddings, np.float32)
        if self._emb.ndim != 2 or len(frame_ids) != len(self._emb):
            raise InvalidInputError(f"ArrayPool needs N ids and [N, D] embeddings, got {len(frame_ids)} ids and {self._emb.shape}")
        if cameras is not None and len(cameras) != len(frame_ids):
            raise InvalidInputError(f"ArrayPool cameras must name one camera per frame: got {len(cameras)} for {len(frame_ids)} frames")
        self._row = {f: i for i, f in enumerate(frame_ids)}
        self.frame_ids = list(frame_ids)
        self._index = EmbeddingIndex(self._emb.shape[1], centred=cameras is not None)
        self._index.add(self.frame_ids, self._emb, cameras=None if cameras is None else [str(c) for c in cameras])

    def index(self) -> EmbeddingIndex:
        return self._index

    def embeddings(self, frame_ids: list[str]) -> np.ndarray:
        return self._emb[[self._row[f] for f in frame_ids]] if frame_ids else np.zeros((0, self._emb.shape[1]), np.float32)

    def matrix(self) -> tuple[list[str], np.ndarray]:
        return self.frame_ids, self._emb


@dataclass(frozen=True, slots=True)
class MiningRequest:
    """One round's inputs: query frames (mistakes, labeled positives), what is already labeled."""

    queries: tuple[str, ...]
    labeled: frozenset[str]
    score: ScoreFn | None
    threshold: float = 0.5
    budget: int = 64
    k_per_query: int = 64
    quotas: tuple[tuple[str, float], ...] = (("likely", 0.5), ("uncertain", 0.3), ("similar", 0.2))
    dup_cosine: float = 0.995  # a pick this close to an earlier pick adds nothing: skip it
    seed: int = 0
    hops: int = 1  # after scoring, also search near the best-scoring candidates this many times
    hop_queries: int = 128  # how many of the best-scoring candidates seed each hop
    hop_k: int = 32
    # every answer so far (frame id -> 1 event / 0 not): the round's ranker is refit on them and the
    # index is searched along its direction (which replaces the hop); callers pass every labeled
    # positive among the queries, so the candidate set grows from all of them
    labels: Mapping[str, int] | None = None
    background: int = 256  # unlabeled frames sampled as the ranker's provisional negatives (counted as scanned)
    direct_k: int | None = None  # frames fetched along the ranker's direction (default: 2 x budget)

    def __post_init__(self) -> None:
        if self.budget < 0 or self.k_per_query < 1 or self.background < 0:
            raise InvalidInputError(f"mining budget {self.budget} and background {self.background} must be >= 0 and "
                                    f"k_per_query {self.k_per_query} >= 1")
        bad = [q for q, _ in self.quotas if q not in _RANKINGS]
        if bad:
            raise InvalidInputError(f"unknown mining quota {bad}; valid: {sorted(_RANKINGS)}")


@dataclass(frozen=True, slots=True)
class MiningRound:
    strategy: str
    selected: tuple[str, ...]
    reasons: tuple[str, ...]  # one per selected frame: likely | uncertain | similar | random
    scanned: int  # frames scored this round (the candidate set)
    pool_size: int
    distance_computations: int = 0  # inside the ANN index
    stats: dict = field(default_factory=dict)

    @property
    def scanned_fraction(self) -> float:
        return self.scanned / self.pool_size if self.pool_size else 0.0

    def by_reason(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for r in self.reasons:
            out[r] = out.get(r, 0) + 1
        return out


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(np.asarray(p, np.float64), 1e-6, 1 - 1e-6)
    return np.log(p / (1 - p))


_RANKINGS = {
    "likely": lambda scores, sims, thr: -scores,
    "uncertain": lambda scores, sims, thr: np.abs(_logit(scores) - _logit(np.array([thr]))),
    "similar": lambda scores, sims, thr: -sims,
}


def select_batch(candidates: list[str], unit_vectors: np.ndarray, scores: np.ndarray, sims: np.ndarray, *, threshold: float,
                 budget: int, quotas: tuple[tuple[str, float], ...], dup_cosine: float) -> tuple[list[str], list[str]]:
    """Pure: fill each quota from its ranking, skipping near-duplicates of earlier picks.

    Returns (selected ids, reason per id). A quota that runs dry passes its share on.
    """
    n = len(candidates)
    budget = min(budget, n)
    if budget <= 0:
        return [], []
    weights = np.array([w for _, w in quotas], float)
    shares = np.floor(weights / weights.sum() * budget).astype(int)
    shares[0] += budget - shares.sum()
    taken = np.zeros(n, bool)
    picked: list[int] = []
    reasons: list[str] = []
    carry = 0
    for (name, _), share in zip(quotas, shares):
        want = share + carry
        order = np.argsort(_RANKINGS[name](scores, sims, threshold), kind="stable")
        got = 0
        for i in order:
            if got >= want:
                break
            if taken[i]:
                continue
            if picked and float((unit_vectors[picked] @ unit_vectors[i]).max()) > dup_cosine:
                taken[i] = True  # a near-copy of a pick: never worth a label
                continue
            taken[i] = True
            picked.append(int(i))
            reasons.append(name)
            got += 1
        carry = want - got
    return [candidates[i] for i in picked], reasons


@dataclass(frozen=True, slots=True)
class SealsMining:
    """Nearest neighbours of the queries (ANN), scored by the head, picked by quotas."""

    name: str = "seals"

    def mine(self, pool: MiningPool, req: MiningRequest) -> MiningRound:
        ix = pool.index()
        labels = {f: int(v) for f, v in (req.labels or {}).items() if f in ix}
        queries = [q for q in dict.fromkeys(req.queries) if q in ix]
        if not queries:
            raise InvalidInputError(f"none of the query frames {list(req.queries)[:5]} is in the frame pool; mining needs the "
                                    "mistakes' frames retained (frame_ref of the miss events)")
        before = ix.distance_computations
        exclude = frozenset(req.labeled) | frozenset(labels)
        best: dict[str, float] = {}

        def gather(vectors: np.ndarray, k: int, sim_scale: float) -> None:
            for row in ix.search(vectors, k=k, exclude=exclude):
                for f, s in row:
                    if s * sim_scale > best.get(f, -2.0):
                        best[f] = s * sim_scale

        gather(ix.vectors(queries), req.k_per_query, 1.0)
        ranker, background = self._ranker(ix, req, labels, exclude | frozenset(best))
        direct = 0
        direct_k = 2 * req.budget if req.direct_k is None else req.direct_k
        if ranker is not None and direct_k > 0:
            # the frames the ranker scores highest anywhere in the pool, found by the index itself
            qv = ix.vectors(queries)
            hits = [f for f, _ in ix.search(ranker.direction[None, :], k=direct_k, exclude=exclude)[0] if f not in best]
            if hits:
                for f, s in zip(hits, (ix.vectors(hits) @ qv.T).max(axis=1)):
                    best[f] = float(s)
            direct = len(hits)
        score_ids = self._scorer(pool, ix, req, ranker)
        threshold = 0.5 if ranker is not None else req.threshold
        scored: dict[str, float] = {}
        hops = 0 if ranker is not None else req.hops  # the search along the ranker's direction replaces the hop
        for hop in range(hops + 1):
            fresh = [f for f in best if f not in scored]
            if fresh and score_ids is not None:
                scored.update(zip(fresh, score_ids(fresh)))
            if hop == hops or score_ids is None:
                break
            # the next hop starts from the candidates the ranker likes best (SEALS grows the candidate
            # pool around what it found; a hop is still a neighbourhood, never the whole pool)
            top = sorted(scored, key=scored.__getitem__, reverse=True)[: req.hop_queries]
            gather(ix.vectors(top), req.hop_k, 0.9)
        cands = list(best)
        scanned = len(cands) + len(background)
        if not cands:
            return MiningRound(self.name, (), (), scanned, len(ix), ix.distance_computations - before)
        sims = np.array([best[f] for f in cands])
        scores = np.array([scored[f] for f in cands]) if score_ids is not None else sims
        sel, why = select_batch(cands, ix.vectors(cands), scores, sims, threshold=threshold,
                                budget=req.budget, quotas=req.quotas, dup_cosine=req.dup_cosine)
        log.info("mining seals queries=%d candidates=%d (direct %d) background=%d selected=%d pool=%d ranker=%s", len(queries),
                 len(cands), direct, len(background), len(sel), len(ix), ranker is not None)
        return MiningRound(self.name, tuple(sel), tuple(why), scanned, len(ix), ix.distance_computations - before,
                           {"queries": len(queries), "direct": direct, "background": len(background), "ranker": ranker is not None})

    @staticmethod
    def _ranker(ix: EmbeddingIndex, req: MiningRequest, labels: dict[str, int], exclude: frozenset[str]) -> tuple[Ranker | None, list[str]]:
        """Refit on every answer so far plus a background sample; None without a labeled positive."""
        if not any(labels.values()):
            return None, []
        background = ix.sample(req.background, seed=req.seed, exclude=exclude)
        ids = list(labels) + background
        y = np.array(list(labels.values()) + [0] * len(background))
        if len(set(y.tolist())) < 2:
            return None, background
        return fit_ranker(ix.vectors(ids), y), background

    @staticmethod
    def _scorer(pool: MiningPool, ix: EmbeddingIndex, req: MiningRequest, ranker: Ranker | None) -> Callable[[list[str]], np.ndarray] | None:
        if ranker is not None:
            return lambda ids: ranker.probability(ix.vectors(ids))
        if req.score is not None:
            return lambda ids: np.asarray(req.score(pool.embeddings(ids)), float)
        return None


@dataclass(frozen=True, slots=True)
class UncertaintyMining:
    """Baseline: score the WHOLE pool with the head, label the frames nearest its threshold."""

    name: str = "uncertainty"

    def mine(self, pool: MiningPool, req: MiningRequest) -> MiningRound:
        ix = pool.index()
        ids = [f for f in ix.ids() if f not in req.labeled]
        if req.score is None:
            raise InvalidInputError("uncertainty mining needs a head to score frames with; pass MiningRequest(score=...)")
        scores = np.asarray(req.score(pool.embeddings(ids)), float)
        order = np.argsort(_RANKINGS["uncertain"](scores, None, req.threshold), kind="stable")[: req.budget]
        return MiningRound(self.name, tuple(ids[i] for i in order), ("uncertain",) * len(order), len(ids), len(ix))


@dataclass(frozen=True, slots=True)
class RandomMining:
    """Baseline: a uniform sample of the unlabeled pool."""

    name: str = "random"

    def mine(self, pool: MiningPool, req: MiningRequest) -> MiningRound:
        ix = pool.index()
        ids = [f for f in ix.ids() if f not in req.labeled]
        rng = np.random.default_rng(req.seed)
        pick = rng.choice(len(ids), size=min(req.budget, len(ids)), replace=False) if ids else []
        return MiningRound(self.name, tuple(ids[i] for i in pick), ("random",) * len(pick), len(pick), len(ix))


class MiningStrategy(Protocol):
    name: str

    def mine(self, pool: MiningPool, req: MiningRequest) -> MiningRound: ...


class MiningRegistry:
    """Strategies by name; pass your own list to add or replace one."""

    def __init__(self, strategies: list[MiningStrategy] | None = None) -> None:
        self._by_name = {s.name: s for s in (strategies or [SealsMining(), UncertaintyMining(), RandomMining()])}

    def get(self, name: str) -> MiningStrategy:
        try:
            return self._by_name[name]
        except KeyError:
            raise InvalidInputError(f"unknown mining strategy {name!r}; valid: {sorted(self._by_name)}") from None

    def names(self) -> list[str]:
        return sorted(self._by_name)
