"""The real part of a scene head's training data: real negatives and composites, embedded once.

Scene heads trained on cartoon scenes alone fire on real scenery (issue 15: 115 of 278
production heads exceeded their threshold somewhere on vtest, where nothing happens). The
:class:`RealPool` adds, to every scene's synthetic pool:

* **real negatives** -- vtest frames of the training half and random crops of package
  pictures, some under a synthetic condition (night, rain, fog), all labelled "no event";
* **composites** -- the generator's event painters drawn onto those real backgrounds
  (:func:`catalog.synthetic.composite_frame`), labelled exactly, so "painted event on real
  pixels" stays positive and the head cannot learn "real pixels -> negative" as a shortcut.

Both are shared by all scenes: a negative is negative for every head, and a composite of
event e is a positive for every head (s, e), whatever the scene (real backgrounds have no
scene layout). Splits are disjoint by source: vtest frames 0-264 and the training pictures
train; vtest frames 265-397 and the validation pictures validate and calibrate; the test
pictures test. vtest frames 398-794 are never read here (see :mod:`.real_frames`).

>>> cfg = RealConfig(composites_per_event=3, crops_per_picture=1, vtest_fit_step=50)
>>> recipes = plan_real_pool(["smoke"], cfg, with_vtest=False)
>>> sorted({(r.kind, r.split) for r in recipes if r.kind == "composite"})
[('composite', 'test'), ('composite', 'train'), ('composite', 'val')]
"""
from __future__ import annotations

import logging
import time
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np

from catalog.synthetic import CONDITIONS, composite_frame, generator_fingerprint
from catalog.synthetic.conditions import apply_condition
from warehouse.training.embedding_cache import EmbeddingCache
from warehouse.training.real_frames import (
    CLIP_FPS,
    OPENCV_DOC_CLIPS,
    OPENCV_DOC_PICTURE_SPLITS,
    OPENCV_DOC_PREFIX,
    PICTURE_SPLITS,
    VTEST_CALIBRATE,
    VTEST_FIT,
    VTEST_FPS,
    clip_halves,
    file_sha256,
    package_picture,
    picture_crops,
    read_clip,
    read_video_frames,
)
from warehouse.training.synthetic_pool import EmbedsFrames

log = logging.getLogger(__name__)

_OTHER_CONDITIONS = tuple(c for c in CONDITIONS if c != "day")
PICTURE_HW = (360, 640)


@dataclass(frozen=True, slots=True)
class RealConfig:
    vtest_fit_step: int = 1  # every k-th frame of vtest 0-264 is a training negative (1: all; 2 left held-out tails ~3x fatter)
    vtest_condition_every: int = 6  # and every k-th (offset 1) again under a random condition
    crops_per_picture: int = 4
    composites_per_event: int = 14  # train 8 (4 on vtest, 4 on pictures), val 3, test 3 (test pictures)
    condition_p: float = 0.3  # share of picture crops / composites drawn under night, rain or fog
    seed: int = 0
    chunk_frames: int = 96
    # opencv-doc's other real footage (real_frames.OPENCV_DOC_*; `fetch_vtest.sh --extras`): its photos as
    # negatives (split by picture), its 3 clips as negatives (first half trains, second half validates and
    # is an extra calibration stream)
    opencv_doc: bool = True

    def as_recipe_key(self) -> dict:
        return {"step": self.vtest_fit_step, "cond_every": self.vtest_condition_every, "crops": self.crops_per_picture,
                "comp": self.composites_per_event, "cond_p": self.condition_p, "seed": self.seed}  # fmt: skip


@dataclass(frozen=True, slots=True)
class RealRecipe:
    kind: str  # "negative" | "composite"
    source: str  # "vtest" | "picture"
    ref: str  # vtest frame index or picture name
    crop: int  # crop number of a picture (0 for vtest)
    event: str | None
    condition: str | None
    split: str
    seed: int

    def key(self) -> list:
        return [self.kind, self.source, self.ref, self.crop, self.event, self.condition, self.split, self.seed]


@dataclass(frozen=True)
class RealPool:
    """Embedded real rows shared by every scene; ``calibration`` is vtest 265-397 in frame order,
    ``calibration_clips`` the other quiet clips (opencv-doc's, at the same fps), each in frame order."""

    recipes: tuple[RealRecipe, ...]
    embeddings: np.ndarray  # [N, D], row i = recipes[i]
    calibration: np.ndarray  # [C, D] embeddings of VTEST_CALIBRATE (no condition, in order); [0, D] without vtest
    calibration_fps: float
    stats: dict = field(default_factory=dict)
    calibration_clips: tuple[np.ndarray, ...] = ()  # [C_i, D] per opencv-doc clip; () without the extras

    def calibration_streams(self) -> list[np.ndarray]:
        """Every quiet real stream for threshold calibration: vtest's clip, then the extra clips."""
        return [c for c in (self.calibration, *self.calibration_clips) if len(c)]

    @property
    def splits(self) -> np.ndarray:
        return np.array([r.split for r in self.recipes])

    def rows_for(self, events: Sequence[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(embeddings, labels [n, len(events)], splits, is_composite) of the rows a scene with
        ``events`` trains on: every negative, and the composites of its own events."""
        keep = [i for i, r in enumerate(self.recipes) if r.kind == "negative" or r.event in events]
        labels = np.zeros((len(keep), len(events)), np.uint8)
        for row, i in enumerate(keep):
            ev = self.recipes[i].event
            if ev is not None:
                labels[row, list(events).index(ev)] = 1
        comp = np.array([self.recipes[i].kind == "composite" for i in keep], bool)
        return self.embeddings[keep], labels, np.array([self.recipes[i].split for i in keep]), comp

    def negatives(self, split: str) -> np.ndarray:
        return self.embeddings[[i for i, r in enumerate(self.recipes) if r.kind == "negative" and r.split == split]]


def plan_real_pool(events: Sequence[str], config: RealConfig, *, with_vtest: bool = True, with_extras: bool = False) -> list[RealRecipe]:
    """The real rows for ``events``, deterministic in (events, config); ``with_extras`` adds
    opencv-doc's photos and clips (when ``config.opencv_doc``) after the other negatives."""
    rng = np.random.default_rng([config.seed, 2015])
    out: list[RealRecipe] = []

    def cond(rng: np.random.Generator) -> str | None:
        return _OTHER_CONDITIONS[int(rng.integers(len(_OTHER_CONDITIONS)))] if rng.random() < config.condition_p else None

    if with_vtest:
        for i in VTEST_FIT[:: config.vtest_fit_step]:
            out.append(RealRecipe("negative", "vtest", str(i), 0, None, None, "train", i))
        for i in VTEST_FIT[1 :: config.vtest_condition_every]:
            out.append(RealRecipe("negative", "vtest", str(i), 0, None, _OTHER_CONDITIONS[i % len(_OTHER_CONDITIONS)], "train", i))
        for i in VTEST_CALIBRATE:
            out.append(RealRecipe("negative", "vtest", str(i), 0, None, None, "val", i))
    for split, names in PICTURE_SPLITS.items():
        for name in names:
            for c in range(config.crops_per_picture):
                out.append(RealRecipe("negative", "picture", name, c, None, cond(rng), split, int(rng.integers(1 << 30))))
    if with_extras and config.opencv_doc:  # own generator: the rows above (and their cached embeddings) do not move
        xrng = np.random.default_rng([config.seed, 2017])
        for split, names in OPENCV_DOC_PICTURE_SPLITS.items():
            for name in names:
                for c in range(config.crops_per_picture):
                    out.append(RealRecipe("negative", "picture", OPENCV_DOC_PREFIX + name, c, None, cond(xrng), split,
                                          int(xrng.integers(1 << 30))))  # fmt: skip
        for name in OPENCV_DOC_CLIPS:
            fit, cal = clip_halves(name)
            for k in [*fit, *cal]:
                out.append(RealRecipe("negative", "clip", f"{name}:{k}", 0, None, None, "train" if k in fit else "val", k))
    n_test = max(1, round(config.composites_per_event * 3 / 14))
    n_val = max(1, round(config.composites_per_event * 3 / 14))
    n_train = max(1, config.composites_per_event - n_test - n_val)
    fit, cal = list(VTEST_FIT), list(VTEST_CALIBRATE)
    for ev in sorted(set(events)):
        rng = np.random.default_rng([config.seed, 2016, zlib.crc32(ev.encode())])  # per event: adding one shifts no other
        for split, n in (("train", n_train), ("val", n_val), ("test", n_test)):
            for j in range(n):
                seed = int(rng.integers(1 << 30))
                on_vtest = with_vtest and split != "test" and j % 2 == 0
                if on_vtest:
                    frames = fit if split == "train" else cal
                    out.append(RealRecipe("composite", "vtest", str(frames[int(rng.integers(len(frames)))]), 0, ev, cond(rng), split, seed))
                else:
                    names = PICTURE_SPLITS[split]
                    name = names[int(rng.integers(len(names)))]
                    out.append(RealRecipe("composite", "picture", name, int(rng.integers(64)), ev, cond(rng), split, seed))
    return out


def _render(recipes: Sequence[RealRecipe], vtest: dict[int, np.ndarray], extras: Path | None = None) -> list[np.ndarray]:
    from catalog.synthetic import _draw as d

    images = []
    for r in recipes:
        if r.source == "vtest":
            bg = vtest[int(r.ref)]
        elif r.source == "clip":
            name, k = r.ref.rsplit(":", 1)
            bg = read_clip(name, extras)[int(k)]
        else:
            bg = picture_crops(package_picture(r.ref, extras), 1, seed=r.seed, size_hw=PICTURE_HW)[0]
        if r.kind == "composite":
            img = composite_frame(bg, events=(r.event,), seed=r.seed, condition=r.condition).image
        elif r.condition is not None:
            img = apply_condition(bg, r.condition, d.rng_for(r.seed, "condition", r.condition))
        else:
            img = bg
        images.append(img)
    return images


def build_real_pool(events: Sequence[str], backbone: EmbedsFrames, cache: EmbeddingCache, config: RealConfig = RealConfig(), *,
                    backbone_sha: str, vtest: str | Path | None, extras: str | Path | None = None) -> RealPool:  # fmt: skip
    """Render and embed (or load from ``cache``) the real rows for ``events``.

    ``vtest``: path of vtest.avi, or ``None`` to train on package pictures only. ``extras``: the
    directory of opencv-doc's other footage (``bash scripts/fetch_vtest.sh --extras``), or ``None``.
    """
    t0 = time.perf_counter()
    extras = Path(extras) if extras is not None and config.opencv_doc else None
    recipes = plan_real_pool(events, config, with_vtest=vtest is not None, with_extras=extras is not None)
    video_sha = file_sha256(str(vtest)) if vtest is not None else None
    fp = generator_fingerprint()
    # chunk by source so one event more does not shift (and invalidate) every later chunk
    groups: dict[str, list[RealRecipe]] = {}
    for r in recipes:
        groups.setdefault(r.kind if r.kind == "negative" else f"composite:{r.event}", []).append(r)
    chunks = [g[i : i + config.chunk_frames] for g in groups.values() for i in range(0, len(g), config.chunk_frames)]
    order = [r for ch in chunks for r in ch]
    vtest_frames: dict[int, np.ndarray] = {}
    embs, computed, render_s, embed_s = [], 0, 0.0, 0.0
    for ch in chunks:
        key = cache.key_for_recipe(backbone_sha=backbone_sha, recipe={"gen": fp, "video": video_sha, "real": [r.key() for r in ch]})
        hit = cache.load(key)
        if hit is not None and hit["embedding"].shape[0] == len(ch):
            embs.append(hit["embedding"])
            continue
        if vtest is not None and not vtest_frames:
            idx = list(VTEST_FIT) + list(VTEST_CALIBRATE)
            vtest_frames = dict(zip(idx, read_video_frames(vtest, idx, purpose="train")))
        t = time.perf_counter()
        images = _render(ch, vtest_frames, extras)
        render_s += time.perf_counter() - t
        t = time.perf_counter()
        _, emb = backbone.embed_frames(images)
        embed_s += time.perf_counter() - t
        emb = emb.astype(np.float32)
        cache.save(key, embedding=emb)
        embs.append(emb)
        computed += 1
    calibration = np.zeros((0, embs[0].shape[1] if embs else 1280), np.float32)
    if vtest is not None:
        cal_rows = {int(r.ref): k for k, r in enumerate(order) if r.kind == "negative" and r.source == "vtest" and r.split == "val" and r.condition is None}
        emb_all = np.concatenate(embs)
        calibration = emb_all[[cal_rows[i] for i in VTEST_CALIBRATE]]
    clips: tuple[np.ndarray, ...] = ()
    if extras is not None:
        emb_all = np.concatenate(embs)
        rows = {r.ref: k for k, r in enumerate(order) if r.source == "clip"}
        clips = tuple(emb_all[[rows[f"{name}:{k}"] for k in clip_halves(name)[1]]] for name in OPENCV_DOC_CLIPS)
    stats = {"rows": len(order), "chunks": len(chunks), "chunks_computed": computed, "render_s": render_s, "embed_s": embed_s,
             "seconds": time.perf_counter() - t0, "vtest_sha256": video_sha, "clip_fps": CLIP_FPS,
             "opencv_doc_clips": {n: [clip_halves(n)[1].start, n_] for n, n_ in OPENCV_DOC_CLIPS.items()} if extras is not None else {},
             "negatives": {s: sum(1 for r in order if r.kind == "negative" and r.split == s) for s in ("train", "val", "test")},
             "composites": {s: sum(1 for r in order if r.kind == "composite" and r.split == s) for s in ("train", "val", "test")}}  # fmt: skip
    log.info("real pool events=%d rows=%d computed_chunks=%d/%d render_s=%.1f embed_s=%.1f", len(set(events)), len(order), computed,
             len(chunks), render_s, embed_s)  # fmt: skip
    return RealPool(tuple(order), np.concatenate(embs) if embs else np.zeros((0, 1280), np.float32), calibration, VTEST_FPS, stats,
                    clips)
