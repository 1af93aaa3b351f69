"""Weather and light: each condition is a whole-frame transform, deterministic per seed."""
from __future__ import annotations

import cv2
import numpy as np

CONDITIONS = ("day", "night", "rain", "fog")
_RAIN_MIX = np.array([[0.78 + 0.22 * 0.114, 0.22 * 0.587, 0.22 * 0.299],
                      [0.22 * 0.114, 0.78 + 0.22 * 0.587, 0.22 * 0.299],
                      [0.22 * 0.114, 0.22 * 0.587, 0.78 + 0.22 * 0.299]], np.float32)


def apply_condition(img: np.ndarray, condition: str, rng: np.random.Generator) -> np.ndarray:
    """Return a new frame with ``condition`` applied (``img`` is not modified)."""
    h, w = img.shape[:2]
    if condition == "day":
        return cv2.convertScaleAbs(img, alpha=rng.uniform(0.92, 1.08), beta=rng.uniform(-8, 8))
    if condition == "night":
        # darken with a gamma (keeps bright things bright), tint blue, add sensor grain
        gamma, gain = rng.uniform(1.6, 2.0), rng.uniform(0.55, 0.7)
        lut = np.clip(255.0 * (np.arange(256) / 255.0) ** gamma * gain, 0, 255).astype(np.uint8)
        out = cv2.LUT(img, lut)
        out = cv2.add(out, np.full_like(out, 0) + np.array([25, 8, 0], np.uint8))
        grain = rng.integers(-6, 7, size=(h, w, 1), dtype=np.int16)
        return np.clip(out.astype(np.int16) + grain, 0, 255).astype(np.uint8)
    if condition == "rain":
        out = cv2.transform(img, _RAIN_MIX)
        out = cv2.subtract(out, np.full_like(out, 12))
        streaks = np.zeros((h, w), np.uint8)
        n = int(h * w / 900)
        xs, ys = rng.integers(0, w, n), rng.integers(0, h, n)
        length = max(6, h // 25)
        for x, y in zip(xs, ys):
            cv2.line(streaks, (int(x), int(y)), (int(x + length * 0.25), int(y + length)), 255, 1)
        idx = streaks > 0
        out[idx] = (out[idx] * 0.55 + 97).astype(np.uint8)
        return out
    if condition == "fog":
        density = rng.uniform(0.35, 0.5)
        # thicker towards the top of the frame (farther away)
        t = (np.linspace(1.0, 0.55, h, dtype=np.float32) * density)[:, None, None]
        out = (img.astype(np.float32) * (1 - t) + 205.0 * t).astype(np.uint8)
        return cv2.GaussianBlur(out, (5, 5), 1.2)
    raise ValueError(f"unknown condition {condition!r}; use one of {CONDITIONS}")
