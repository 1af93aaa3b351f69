"""Few-label learning: linear heads on the pretrained backbone versus a small CNN from scratch.

The task is 4-way frame classification -- no event, fire, shared-bike pile-up, stray
animal -- on frames of two kinds: *real* pictures shipped in scikit-image / scikit-learn with
an event painted in (or none), and *synthetic* city scenes (market street, residential gate,
school gate, the scenes where all three events are allowed, so the scene is no cue). Train
and test use disjoint real pictures and disjoint synthetic seeds.

>>> task = make_task(train_per_class=4, test_per_class=2, seed=0)   # doctest: +SKIP
>>> task.train_images[0].shape                                      # doctest: +SKIP
(360, 640, 3)
"""
from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass

import cv2
import numpy as np

from catalog.synthetic import EVENT_STYLES, render_frame

log = logging.getLogger(__name__)

CLASSES = ("none", "fire", "shared_bike_pileup", "stray_animal")
SCENES = ("market_street", "residential_gate", "school_gate")
# real pictures: the test set only ever sees pictures the training set never saw
TRAIN_PICTURES = ("astronaut", "camera", "coffee", "brick", "grass", "coins", "moon", "text", "china.jpg")
TEST_PICTURES = ("chelsea", "rocket", "gravel", "clock", "stereo_motorcycle", "page", "flower.jpg")
HW = (360, 640)


@dataclass(frozen=True)
class FewShotTask:
    train_images: list[np.ndarray]
    train_labels: np.ndarray  # class index
    train_is_real: np.ndarray
    test_images: list[np.ndarray]
    test_labels: np.ndarray
    test_is_real: np.ndarray


def _picture(name: str) -> np.ndarray:
    if name.endswith(".jpg"):
        from sklearn.datasets import load_sample_image

        rgb = load_sample_image(name)
    else:
        from skimage import data

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            rgb = getattr(data, name)()
        if isinstance(rgb, tuple):
            rgb = rgb[0]
    rgb = np.asarray(rgb)
    if rgb.dtype != np.uint8:
        rgb = (255 * (rgb.astype(np.float64) / max(1e-9, float(rgb.max())))).astype(np.uint8)
    if rgb.ndim == 2:
        rgb = np.repeat(rgb[..., None], 3, axis=2)
    return np.ascontiguousarray(rgb[..., :3][..., ::-1])  # BGR


def _real_background(pic: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    h, w = pic.shape[:2]
    scale = rng.uniform(0.55, 1.0)
    ch = int(min(h, w * HW[0] / HW[1]) * scale)
    cw = int(ch * HW[1] / HW[0])
    y, x = int(rng.integers(0, h - ch + 1)), int(rng.integers(0, w - cw + 1))
    img = cv2.resize(pic[y : y + ch, x : x + cw], (HW[1], HW[0]), interpolation=cv2.INTER_AREA)
    if rng.random() < 0.5:
        img = img[:, ::-1]
    return cv2.convertScaleAbs(img, alpha=rng.uniform(0.8, 1.2), beta=rng.uniform(-20, 20))


def _paint(img: np.ndarray, event: str, rng: np.random.Generator) -> None:
    style = EVENT_STYLES[event]
    h, w = img.shape[:2]
    bw, bh = w * rng.uniform(*style.w_frac), h * rng.uniform(*style.h_frac)
    x0 = rng.uniform(0, w - bw)
    y1 = rng.uniform(h * 0.6, h)
    style.painter(img, rng, (x0, max(0.0, y1 - bh), x0 + bw, y1))


def _frames(n_per_class: int, pictures: tuple[str, ...], seed: int) -> tuple[list[np.ndarray], np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    pics = [_picture(p) for p in pictures]
    images, labels, real = [], [], []
    for c, event in enumerate(CLASSES):
        for i in range(n_per_class):
            is_real = i % 2 == 0
            if is_real:
                img = _real_background(pics[int(rng.integers(len(pics)))], rng)
                if event != "none":
                    _paint(img, event, rng)
            else:
                scene = SCENES[int(rng.integers(len(SCENES)))]
                cond = ("day", "night", "rain", "fog")[int(rng.integers(4))]
                evs = () if event == "none" else (event,)
                img = render_frame(scene, events=evs, seed=int(rng.integers(2**31)), condition=cond).image
            images.append(np.ascontiguousarray(img))
            labels.append(c)
            real.append(is_real)
    return images, np.array(labels), np.array(real)


def make_task(*, train_per_class: int, test_per_class: int, seed: int = 0) -> FewShotTask:
    """Build the train pool (``train_per_class`` per class) and the held-out test set."""
    tr = _frames(train_per_class, TRAIN_PICTURES, seed * 2 + 1)
    te = _frames(test_per_class, TEST_PICTURES, seed * 2 + 2)
    return FewShotTask(tr[0], tr[1], tr[2], te[0], te[1], te[2])


def subsample(labels: np.ndarray, per_class: int, seed: int) -> np.ndarray:
    """Indices of ``per_class`` rows of each class (half real, half synthetic by construction order)."""
    rng = np.random.default_rng(seed)
    out = []
    for c in np.unique(labels):
        idx = np.flatnonzero(labels == c)
        out.extend(rng.choice(idx, size=min(per_class, len(idx)), replace=False))
    return np.sort(np.array(out))


def macro_f1(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    from sklearn.metrics import f1_score

    return float(f1_score(y_true, y_pred, average="macro", labels=list(range(len(CLASSES))), zero_division=0))


def backbone_heads_predict(train_emb: np.ndarray, train_y: np.ndarray, test_emb: np.ndarray, *, c: float = 0.2) -> np.ndarray:
    """One-vs-rest linear heads (the catalog's head trainer), class = argmax score."""
    from warehouse.training.heads import fit_logistic

    mu, sd = train_emb.mean(0), train_emb.std(0) + 1e-4
    y = np.eye(len(CLASSES))[train_y]
    w, b = fit_logistic((train_emb - mu) / sd, y, c)
    return np.argmax(((test_emb - mu) / sd) @ w + b, axis=1)


def scratch_cnn_predict(train_images: list[np.ndarray], train_y: np.ndarray, test_images: list[np.ndarray], *, seed: int,
                        epochs: int = 40, input_hw: tuple[int, int] = (96, 96)) -> np.ndarray:  # fmt: skip
    """A small CNN (4 conv blocks, ~100k parameters) trained from random init on CPU."""
    import torch
    from torch import nn

    torch.manual_seed(seed)
    torch.set_num_threads(2)

    def prep(images):
        arr = np.stack([cv2.resize(im, (input_hw[1], input_hw[0]), interpolation=cv2.INTER_AREA) for im in images])
        t = torch.from_numpy(arr[..., ::-1].copy()).permute(0, 3, 1, 2).float() / 255.0
        return (t - 0.45) / 0.25

    def block(i, o):
        return nn.Sequential(nn.Conv2d(i, o, 3, padding=1), nn.BatchNorm2d(o), nn.ReLU(), nn.MaxPool2d(2))

    net = nn.Sequential(block(3, 16), block(16, 32), block(32, 64), block(64, 96), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                        nn.Dropout(0.3), nn.Linear(96, len(CLASSES)))  # fmt: skip
    x, y = prep(train_images), torch.from_numpy(train_y).long()
    opt = torch.optim.AdamW(net.parameters(), lr=3e-3, weight_decay=1e-3)
    steps_per_epoch = max(1, int(np.ceil(len(y) / 32)))
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=3e-3, total_steps=epochs * steps_per_epoch)
    gen = torch.Generator().manual_seed(seed)
    net.train()
    for _ in range(epochs):
        perm = torch.randperm(len(y), generator=gen)
        for i in range(0, len(y), 32):
            idx = perm[i : i + 32]
            xb = x[idx]
            flip = torch.rand(len(idx), generator=gen) < 0.5  # augmentation: mirror
            xb = torch.where(flip[:, None, None, None], xb.flip(3), xb)
            loss = nn.functional.cross_entropy(net(xb), y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
    net.eval()
    with torch.no_grad():
        xt = prep(test_images)
        return torch.cat([net(xt[i : i + 64]) for i in range(0, len(xt), 64)]).argmax(1).numpy()
