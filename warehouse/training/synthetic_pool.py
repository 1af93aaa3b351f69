"""Datasets for scene heads: one shared, multi-label pool of synthetic frames per scene.

Embedding dominates the cost of training hundreds of heads, so each scene's frames are
rendered and embedded once and every head of that scene reads the same pool: for the head
(scene, event), positives are the pool frames showing the event, negatives are the frames of
the same scene without it (empty scenes and scenes with *other* events), across all four
conditions. Every frame has its own seed; the train / val / test splits are disjoint sets
of frames, hence of seeds, stratified per event.

>>> cfg = PoolConfig(per_event=10, n_empty=10)
>>> recipes = plan_scene_pool("seafront", cfg)
>>> sorted({r.split for r in recipes})
['test', 'train', 'val']
"""
from __future__ import annotations

import logging
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Protocol, Sequence

import numpy as np

from catalog import load_taxonomy
from catalog.synthetic import CONDITIONS, generator_fingerprint, render_frame
from warehouse.training.embedding_cache import EmbeddingCache

log = logging.getLogger(__name__)

SPLITS = ("train", "val", "test")
# position of a frame within its event's block, modulo 10 -> split (60/20/20)
_SPLIT_OF = ("train",) * 6 + ("val",) * 2 + ("test",) * 2


class EmbedsFrames(Protocol):
    def embed_frames(self, frames: Sequence[np.ndarray], *, batch_size: int = 32) -> tuple[np.ndarray, np.ndarray]: ...


@dataclass(frozen=True, slots=True)
class FrameRecipe:
    scene: str
    seed: int
    events: tuple[str, ...]
    condition: str
    split: str


@dataclass(frozen=True, slots=True)
class PoolConfig:
    per_event: int = 40  # frames whose main event is e, per event of the scene
    n_empty: int = 60  # frames with no event at all
    second_event_p: float = 0.5  # chance a frame also shows a second (other) event
    size_hw: tuple[int, int] = (360, 640)
    conditions: tuple[str, ...] = CONDITIONS
    seed: int = 0
    chunk_frames: int = 128  # frames per cache entry (partial progress survives a crash)

    def as_recipe_key(self) -> dict:
        return {"per_event": self.per_event, "n_empty": self.n_empty, "p2": self.second_event_p, "hw": list(self.size_hw),
                "conditions": list(self.conditions), "seed": self.seed}


@dataclass(frozen=True, slots=True)
class PairDataset:
    scene: str
    event: str
    x: dict[str, np.ndarray]  # split -> embeddings [n, D]
    y: dict[str, np.ndarray]  # split -> labels [n] (0/1)
    seeds: dict[str, np.ndarray]

    def counts(self) -> dict[str, dict[str, int]]:
        return {s: {"pos": int(self.y[s].sum()), "neg": int((1 - self.y[s]).sum())} for s in SPLITS}


@dataclass(frozen=True)
class ScenePool:
    scene: str
    events: tuple[str, ...]
    embeddings: np.ndarray  # [N, D] float32
    labels: np.ndarray  # [N, E] uint8, column j = events[j]
    splits: np.ndarray  # [N] str
    seeds: np.ndarray  # [N] int64
    stats: dict = field(default_factory=dict)

    def pair_dataset(self, event: str) -> PairDataset:
        if event not in self.events:
            raise KeyError(f"event {event!r} is not in the {self.scene!r} pool (it has {list(self.events)}); use an allowed pair")
        j = self.events.index(event)
        x, y, seeds = {}, {}, {}
        for s in SPLITS:
            m = self.splits == s
            x[s], y[s], seeds[s] = self.embeddings[m], self.labels[m, j].astype(np.int64), self.seeds[m]
        return PairDataset(self.scene, event, x, y, seeds)


def plan_scene_pool(scene: str, config: PoolConfig) -> list[FrameRecipe]:
    """The frames of one scene's pool, deterministic in (scene, config)."""
    tax = load_taxonomy()
    tax.require_scene(scene)
    events = scene_events(scene)
    scene_no = list(tax.scenes).index(scene)
    rng = np.random.default_rng([config.seed, scene_no, 7])
    base = (config.seed * 1_000 + scene_no) * 1_000_000
    out: list[FrameRecipe] = []
    blocks: list[tuple[str | None, int]] = [(e, config.per_event) for e in events] + [(None, config.n_empty)]
    for main, n in blocks:
        for i in range(n):
            evs: tuple[str, ...] = ()
            if main is not None:
                evs = (main,)
                if len(events) > 1 and rng.random() < config.second_event_p:
                    other = [e for e in events if e != main]
                    evs = (main, other[int(rng.integers(len(other)))])
            cond = config.conditions[int(rng.integers(len(config.conditions)))]
            out.append(FrameRecipe(scene, base + len(out), evs, cond, _SPLIT_OF[i % 10]))
    return out


def scene_events(scene: str) -> tuple[str, ...]:
    tax = load_taxonomy()
    return tuple(e for s, e in tax.scene_event_pairs() if s == scene)


def _render(recipes: Sequence[FrameRecipe], size_hw: tuple[int, int]) -> list[np.ndarray]:
    return [render_frame(r.scene, events=r.events, seed=r.seed, condition=r.condition, size_hw=size_hw).image for r in recipes]


def build_scene_pool(scene: str, backbone: EmbedsFrames, cache: EmbeddingCache, config: PoolConfig, *, backbone_sha: str) -> ScenePool:
    """Render and embed (or load from cache) the pool of ``scene``; rendering overlaps embedding."""
    recipes = plan_scene_pool(scene, config)
    events = scene_events(scene)
    chunks = [recipes[i : i + config.chunk_frames] for i in range(0, len(recipes), config.chunk_frames)]
    fp = generator_fingerprint()
    keys = [
        cache.key_for_recipe(backbone_sha=backbone_sha, recipe={"gen": fp, "cfg": config.as_recipe_key(),
                                                                 "frames": [[r.seed, list(r.events), r.condition] for r in ch]})
        for ch in chunks
    ]  # fmt: skip
    embs: list[np.ndarray | None] = [None] * len(chunks)
    todo = []
    for k, key in enumerate(keys):
        hit = cache.load(key)
        if hit is not None and hit["embedding"].shape[0] == len(chunks[k]):
            embs[k] = hit["embedding"]
        else:
            todo.append(k)
    render_s = embed_s = 0.0
    if todo:
        with ThreadPoolExecutor(max_workers=1) as pool:  # render chunk k+1 while chunk k is embedded
            fut = pool.submit(_timed_render, chunks[todo[0]], config.size_hw)
            for n, k in enumerate(todo):
                images, rs = fut.result()
                render_s += rs
                if n + 1 < len(todo):
                    fut = pool.submit(_timed_render, chunks[todo[n + 1]], config.size_hw)
                t0 = time.perf_counter()
                _, emb = backbone.embed_frames(images)
                embed_s += time.perf_counter() - t0
                embs[k] = emb.astype(np.float32)
                cache.save(keys[k], embedding=embs[k])
    labels = np.zeros((len(recipes), len(events)), np.uint8)
    for i, r in enumerate(recipes):
        for e in r.events:
            labels[i, events.index(e)] = 1
    stats = {"frames": len(recipes), "chunks": len(chunks), "chunks_computed": len(todo), "render_s": render_s, "embed_s": embed_s}
    log.info("scene pool scene=%s frames=%d computed_chunks=%d/%d render_s=%.1f embed_s=%.1f", scene, len(recipes), len(todo), len(chunks), render_s, embed_s)
    return ScenePool(
        scene=scene,
        events=events,
        embeddings=np.concatenate(embs),  # type: ignore[arg-type]
        labels=labels,
        splits=np.array([r.split for r in recipes]),
        seeds=np.array([r.seed for r in recipes], np.int64),
        stats=stats,
    )


def _timed_render(recipes: Sequence[FrameRecipe], size_hw: tuple[int, int]) -> tuple[list[np.ndarray], float]:
    t0 = time.perf_counter()
    return _render(recipes, size_hw), time.perf_counter() - t0
