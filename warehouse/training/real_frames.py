"""Real frames for training and measuring scene heads: package pictures and the vtest camera.

Two sources ship with packages (nothing is downloaded at run time):

* pictures in scikit-image (``skimage.data``) and scikit-learn (``load_sample_image``), split
  by picture into train / val / test (:data:`PICTURE_SPLITS`), so a test picture is never
  seen in training;
* ``vtest.avi`` from Debian's ``opencv-doc`` (768x576, 10 fps, 795 frames; fetched and cached
  by ``bash scripts/fetch_vtest.sh``), a real CCTV-style view where no city event happens.
  Frames 0-397 are the **training half** (:data:`VTEST_TRAIN`), frames 398-794 the
  **held-out half** (:data:`VTEST_HELDOUT`). :func:`read_video_frames` refuses held-out
  frames unless the caller says it is measuring (``purpose="measure"``), so no training path
  can read them by accident. Within the training half, frames 0-264 train heads and frames
  265-397 validate and calibrate them (:data:`VTEST_FIT`, :data:`VTEST_CALIBRATE`).

>>> VTEST_TRAIN, VTEST_HELDOUT
(range(0, 398), range(398, 795))
>>> read_video_frames("vtest.avi", [400])                    # doctest: +ELLIPSIS
Traceback (most recent call last):
...
warehouse.training.real_frames.RealFramesError: frame 400 of 'vtest.avi' is in the held-out half ...
"""
from __future__ import annotations

import functools
import hashlib
import logging
import os
import warnings
from pathlib import Path
from typing import Iterable

import cv2
import numpy as np

from warehouse.errors import WarehouseError

log = logging.getLogger(__name__)

VTEST_FRAMES = 795
VTEST_FPS = 10.0
VTEST_TRAIN = range(0, 398)
VTEST_HELDOUT = range(398, 795)
VTEST_FIT = range(0, 265)  # trains the heads (negatives, composite backgrounds)
VTEST_CALIBRATE = range(265, 398)  # validation + threshold calibration (never fitted on)
VTEST_SHA256 = "45cddc9490be69345cbdab64ca583be65987e864ca408038e648db99e10516cf"

# split by picture: a test picture is never a training background
PICTURE_SPLITS: dict[str, tuple[str, ...]] = {
    "train": ("astronaut", "camera", "coffee", "brick", "grass", "coins", "moon", "text", "china.jpg", "hubble_deep_field",
              "cell", "stereo_motorcycle"),
    "val": ("chelsea", "gravel", "page", "immunohistochemistry"),
    "test": ("rocket", "clock", "flower.jpg", "retina", "colorwheel"),
}  # fmt: skip


# opencv-doc's other real footage (``bash scripts/fetch_vtest.sh --extras``, <cache>/real/opencv-doc/):
# three short real clips where nothing happens -- a tree through a window, a box and a cup moved
# by hand indoors -- resampled to 10 fps (frames at the camera rate the heads are calibrated for),
# and real photographs split by picture like PICTURE_SPLITS. Each clip is split in time like vtest:
# its first half trains heads (negatives), its second half validates and calibrates them -- quiet
# cameras other than vtest (issue 15: one 13 s vtest clip understated the spread of later footage).
OPENCV_DOC_CLIPS: dict[str, int] = {"tree.avi": 45, "box.mp4": 151, "cup.mp4": 81}  # name -> frames at 10 fps
OPENCV_DOC_PICTURE_SPLITS: dict[str, tuple[str, ...]] = {
    "train": ("leuvenA.jpg", "building.jpg", "aero1.jpg", "board.jpg", "fruits.jpg", "baboon.jpg", "butterfly.jpg", "aloeL.jpg",
              "rubberwhale1.png"),
    "val": ("leuvenB.jpg", "home.jpg", "aero3.jpg", "apple.jpg", "squirrel_cls.jpg", "box_in_scene.png"),
    "test": ("stuff.jpg", "orange.jpg", "basketball1.png"),
}  # fmt: skip
OPENCV_DOC_PREFIX = "opencv-doc:"  # picture names from the extras carry it (``opencv-doc:leuvenA.jpg``)
CLIP_FPS = 10.0


def clip_halves(name: str) -> tuple[range, range]:
    """(training frames, calibration frames) of an opencv-doc clip at :data:`CLIP_FPS`: first and second half.

    >>> clip_halves("box.mp4")
    (range(0, 75), range(75, 151))
    """
    if name not in OPENCV_DOC_CLIPS:
        raise RealFramesError(f"{name!r} is not an opencv-doc clip; use one of {sorted(OPENCV_DOC_CLIPS)}")
    n = OPENCV_DOC_CLIPS[name]
    return range(0, n // 2), range(n // 2, n)


class RealFramesError(WarehouseError, ValueError):
    """A real frame source that cannot be read, or a read that would leak held-out frames."""


def _to_bgr(rgb: np.ndarray) -> np.ndarray:
    a = np.asarray(rgb)
    if a.dtype == bool:
        a = a.astype(np.uint8) * 255
    elif a.dtype != np.uint8:
        a = (255 * (a.astype(np.float64) / max(1e-9, float(a.max())))).astype(np.uint8)
    if a.ndim == 2:
        a = np.repeat(a[..., None], 3, axis=2)
    return np.ascontiguousarray(a[..., :3][..., ::-1])


@functools.lru_cache(maxsize=64)
def _picture_cached(name: str) -> np.ndarray:
    if name.endswith(".jpg"):
        from sklearn.datasets import load_sample_image

        return _to_bgr(load_sample_image(name))
    from skimage import data

    fn = getattr(data, name, None)
    if fn is None:
        raise RealFramesError(f"skimage.data has no picture {name!r}; use one of {sorted(n for v in PICTURE_SPLITS.values() for n in v)}")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        im = fn()
    if isinstance(im, tuple):  # stereo pairs: the left view
        im = im[0]
    return _to_bgr(im)


def package_picture(name: str, extras_dir: str | Path | None = None) -> np.ndarray:
    """One picture shipped in scikit-image / scikit-learn, or (``opencv-doc:NAME``) in opencv-doc's
    extras under ``extras_dir``, as BGR uint8 (a fresh copy)."""
    if name.startswith(OPENCV_DOC_PREFIX):
        return _opencv_doc_picture(str(opencv_doc_dir(extras_dir)), name[len(OPENCV_DOC_PREFIX):]).copy()
    return _picture_cached(name).copy()


def opencv_doc_dir(extras_dir: str | Path | None = None) -> Path:
    """The fetched opencv-doc extras (default ``$WAREHOUSE_CACHE_DIR`` or ``var/cache``, then ``real/opencv-doc``)."""
    root = Path(extras_dir) if extras_dir is not None else Path(os.environ.get("WAREHOUSE_CACHE_DIR") or "var/cache") / "real" / "opencv-doc"
    missing = [n for n in [*OPENCV_DOC_CLIPS, *(x for v in OPENCV_DOC_PICTURE_SPLITS.values() for x in v)] if not (root / n).is_file()]
    if missing:
        raise RealFramesError(f"opencv-doc extras {missing[:3]} are not in {str(root)!r}; fetch them once with "
                              "`bash scripts/fetch_vtest.sh --extras` (Debian opencv-doc, cached; scripts/setup.sh does it)")
    return root


@functools.lru_cache(maxsize=32)
def _opencv_doc_picture(root: str, name: str) -> np.ndarray:
    im = cv2.imread(str(Path(root) / name), cv2.IMREAD_COLOR)
    if im is None:
        raise RealFramesError(f"OpenCV cannot read {name!r} in {root!r}; delete it and run `bash scripts/fetch_vtest.sh --extras`")
    return im


@functools.lru_cache(maxsize=8)
def _clip_cached(path: str, fps: float) -> tuple[np.ndarray, ...]:
    cap = cv2.VideoCapture(path)
    if not cap.isOpened():
        raise RealFramesError(f"OpenCV cannot open video {path!r}; run `bash scripts/fetch_vtest.sh --extras`")
    src_fps = cap.get(cv2.CAP_PROP_FPS) or fps
    frames = []
    while True:
        ok, frame = cap.read()
        if not ok:
            break
        frames.append(frame)
    cap.release()
    n = int(len(frames) / src_fps * fps)
    return tuple(frames[min(len(frames) - 1, int(round(k * src_fps / fps)))] for k in range(n))


def read_clip(name: str, extras_dir: str | Path | None = None, *, fps: float = CLIP_FPS) -> list[np.ndarray]:
    """Every frame of one opencv-doc clip resampled to ``fps`` (nearest source frame), BGR uint8;
    the count must be :data:`OPENCV_DOC_CLIPS`'s (a changed file or decoder is an error)."""
    if name not in OPENCV_DOC_CLIPS:
        raise RealFramesError(f"{name!r} is not an opencv-doc clip; use one of {sorted(OPENCV_DOC_CLIPS)}")
    frames = _clip_cached(str(opencv_doc_dir(extras_dir) / name), float(fps))
    if fps == CLIP_FPS and len(frames) != OPENCV_DOC_CLIPS[name]:
        raise RealFramesError(f"{name} gave {len(frames)} frames at {fps:g} fps, expected {OPENCV_DOC_CLIPS[name]}; "
                              "the file or OpenCV's decoder changed")
    return [f.copy() for f in frames]


def package_pictures(split: str) -> list[tuple[str, np.ndarray]]:
    """``(name, BGR image)`` for every picture of ``split`` (``train``, ``val`` or ``test``)."""
    if split not in PICTURE_SPLITS:
        raise RealFramesError(f"picture split {split!r} is unknown; use one of {sorted(PICTURE_SPLITS)}")
    return [(n, package_picture(n)) for n in PICTURE_SPLITS[split]]


def vtest_path(cache_dir: str | Path | None = None) -> Path:
    """The cached ``vtest.avi`` (``<cache_dir>/real/vtest.avi``, default ``$WAREHOUSE_CACHE_DIR`` or ``var/cache``)."""
    root = Path(cache_dir) if cache_dir is not None else Path(os.environ.get("WAREHOUSE_CACHE_DIR") or "var/cache")
    p = root / "real" / "vtest.avi"
    if not p.is_file():
        raise RealFramesError(f"vtest.avi is not at {str(p)!r}; fetch it once with `bash scripts/fetch_vtest.sh` "
                              "(Debian opencv-doc, cached)")  # fmt: skip
    return p


@functools.lru_cache(maxsize=8)
def file_sha256(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def read_video_frames(path: str | Path, indices: Iterable[int], *, purpose: str = "train") -> list[np.ndarray]:
    """Decode the frames ``indices`` (sorted, distinct) of a video file as BGR uint8.

    For ``vtest.avi`` with ``purpose="train"`` (the default) every index must lie in the
    training half; ``purpose="measure"`` may read the held-out half (benchmarks only).
    """
    idx = sorted({int(i) for i in indices})
    if purpose not in ("train", "measure"):
        raise RealFramesError(f"purpose {purpose!r} is unknown; use 'train' or 'measure'")
    if idx and idx[0] < 0:
        raise RealFramesError(f"frame index {idx[0]} is negative; video frames count from 0")
    if purpose == "train" and Path(path).name == "vtest.avi":
        leak = [i for i in idx if i not in VTEST_TRAIN]
        if leak:
            raise RealFramesError(f"frame {leak[0]} of {Path(path).name!r} is in the held-out half {VTEST_HELDOUT}; "
                                  f"training may read only {VTEST_TRAIN} (pass purpose='measure' to evaluate)")  # fmt: skip
    if not idx:
        return []
    cap = cv2.VideoCapture(str(path))
    if not cap.isOpened():
        raise RealFramesError(f"OpenCV cannot open video {str(path)!r}; check the path (vtest: `bash scripts/fetch_vtest.sh`)")
    out: list[np.ndarray] = []
    try:
        want, i = set(idx), 0
        while i <= idx[-1]:
            ok, frame = cap.read()
            if not ok:
                raise RealFramesError(f"video {str(path)!r} ended at frame {i}; asked for frames up to {idx[-1]}")
            if i in want:
                out.append(frame)
            i += 1
    finally:
        cap.release()
    return out


def picture_crops(image: np.ndarray, n: int, *, seed: int, size_hw: tuple[int, int] = (360, 640)) -> list[np.ndarray]:
    """``n`` random crops of ``image`` (scale 0.55-1 of the largest ``size_hw``-shaped window,
    random flip, brightness/contrast jitter), each resized to ``size_hw``; deterministic in ``seed``."""
    rng = np.random.default_rng([int(seed), 1511])
    h, w = image.shape[:2]
    out = []
    for _ in range(int(n)):
        scale = rng.uniform(0.55, 1.0)
        ch = max(8, int(min(h, w * size_hw[0] / size_hw[1]) * scale))
        cw = max(8, min(w, int(ch * size_hw[1] / size_hw[0])))
        y, x = int(rng.integers(0, h - ch + 1)), int(rng.integers(0, w - cw + 1))
        img = cv2.resize(image[y : y + ch, x : x + cw], (size_hw[1], size_hw[0]), interpolation=cv2.INTER_AREA)
        if rng.random() < 0.5:
            img = np.ascontiguousarray(img[:, ::-1])
        out.append(cv2.convertScaleAbs(img, alpha=rng.uniform(0.8, 1.2), beta=rng.uniform(-20, 20)))
    return out


def embed_video_frames(path: str | Path, indices: Iterable[int], backbone, cache, *, backbone_sha: str,
                       purpose: str = "train", chunk_frames: int = 100) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """(logits [n,1000], embeddings [n,D]) of the video frames ``indices`` (sorted), cached by the
    video's sha256 and the frame range, chunk by chunk; ``purpose`` as for :func:`read_video_frames`."""
    idx = sorted({int(i) for i in indices})
    sha = file_sha256(str(path))
    logits, embs = [], []
    for k in range(0, len(idx), chunk_frames):
        part = idx[k : k + chunk_frames]
        key = cache.key_for_recipe(backbone_sha=backbone_sha, recipe={"video": sha, "frames": part})
        hit = cache.load(key)
        if hit is None or hit["embedding"].shape[0] != len(part):
            lg, em = backbone.embed_frames(read_video_frames(path, part, purpose=purpose))
            hit = {"logits": lg.astype(np.float32), "embedding": em.astype(np.float32)}
            cache.save(key, **hit)
        logits.append(hit["logits"])
        embs.append(hit["embedding"])
    return np.concatenate(logits), np.concatenate(embs)
