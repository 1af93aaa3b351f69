"""Drawing primitives shared by scenes and events (OpenCV on BGR uint8, in place).

Coordinates are integer pixels; sizes are passed in pixels by callers that scale them from
the frame size, so every primitive works at any resolution.
"""
from __future__ import annotations

import zlib

import cv2
import numpy as np

AA = cv2.LINE_AA
Rect = tuple[int, int, int, int]  # x0, y0, x1, y1 (exclusive ends)


def rng_for(seed: int, *tags: object) -> np.random.Generator:
    """A generator keyed by the seed and string tags; stable across processes (crc32, not hash())."""
    words = [int(seed) & 0xFFFFFFFF] + [zlib.crc32(str(t).encode()) for t in tags]
    return np.random.default_rng(words)


def jitter(rng: np.random.Generator, color: tuple[int, int, int], amount: int = 18) -> tuple[int, int, int]:
    return tuple(int(np.clip(c + rng.integers(-amount, amount + 1), 0, 255)) for c in color)  # type: ignore[return-value]


def vgradient(img: np.ndarray, rect: Rect, top: tuple[int, int, int], bottom: tuple[int, int, int]) -> None:
    x0, y0, x1, y1 = _clip(img, rect)
    if y1 <= y0 or x1 <= x0:
        return
    t = np.linspace(0.0, 1.0, y1 - y0, dtype=np.float32)[:, None, None]
    col = (1 - t) * np.array(top, np.float32) + t * np.array(bottom, np.float32)
    img[y0:y1, x0:x1] = np.broadcast_to(col, (y1 - y0, x1 - x0, 3)).astype(np.uint8)


def _clip(img: np.ndarray, rect: Rect) -> Rect:
    h, w = img.shape[:2]
    x0, y0, x1, y1 = rect
    return max(0, int(x0)), max(0, int(y0)), min(w, int(x1)), min(h, int(y1))


def poly(img: np.ndarray, pts, color) -> None:
    cv2.fillPoly(img, [np.asarray(pts, np.int32).reshape(-1, 2)], color, AA)


def rect(img: np.ndarray, r: Rect, color, thickness: int = -1) -> None:
    cv2.rectangle(img, (int(r[0]), int(r[1])), (int(r[2]), int(r[3])), color, thickness, AA)


def line(img, p0, p1, color, thickness: int = 1) -> None:
    cv2.line(img, (int(p0[0]), int(p0[1])), (int(p1[0]), int(p1[1])), color, max(1, int(thickness)), AA)


def circle(img, c, r, color, thickness: int = -1) -> None:
    cv2.circle(img, (int(c[0]), int(c[1])), max(1, int(r)), color, thickness, AA)


def ellipse(img, c, axes, color, angle: float = 0.0, thickness: int = -1) -> None:
    cv2.ellipse(img, (int(c[0]), int(c[1])), (max(1, int(axes[0])), max(1, int(axes[1]))), angle, 0, 360, color, thickness, AA)


def text(img, s: str, org, scale: float, color, thickness: int = 2) -> None:
    cv2.putText(img, s, (int(org[0]), int(org[1])), cv2.FONT_HERSHEY_SIMPLEX, scale, color, max(1, int(thickness)), AA)


def blend(img: np.ndarray, layer: np.ndarray, alpha: np.ndarray, roi: Rect | None = None) -> None:
    """img = img*(1-alpha) + layer*alpha inside ``roi`` (whole frame if None); alpha HxW in [0,1]."""
    x0, y0, x1, y1 = _clip(img, roi if roi is not None else (0, 0, img.shape[1], img.shape[0]))
    if x1 <= x0 or y1 <= y0:
        return
    a = alpha[y0:y1, x0:x1, None].astype(np.float32)
    sub = img[y0:y1, x0:x1].astype(np.float32)
    img[y0:y1, x0:x1] = (sub + (layer[y0:y1, x0:x1].astype(np.float32) - sub) * a).astype(np.uint8)


def blobs(img: np.ndarray, rng, centers_radii, color, alpha: float, blur_px: int) -> None:
    """Soft blurred blobs (smoke, dust, haze, foliage glow), alpha-blended."""
    k = max(3, int(blur_px) | 1)
    pad = k
    xs = [c[0] for c, _ in centers_radii]
    ys = [c[1] for c, _ in centers_radii]
    rmax = max(r for _, r in centers_radii)
    roi = _clip(img, (int(min(xs) - rmax - pad), int(min(ys) - rmax - pad), int(max(xs) + rmax + pad + 1), int(max(ys) + rmax + pad + 1)))
    x0, y0, x1, y1 = roi
    if x1 <= x0 or y1 <= y0:
        return
    mask = np.zeros((y1 - y0, x1 - x0), np.float32)
    for (cx, cy), r in centers_radii:
        cv2.circle(mask, (int(cx - x0), int(cy - y0)), max(1, int(r)), 1.0, -1, AA)
    mask = np.clip(cv2.GaussianBlur(mask, (k, k), 0) * alpha, 0, 1)
    sub = img[y0:y1, x0:x1].astype(np.float32)
    img[y0:y1, x0:x1] = (sub + (np.array(color, np.float32) - sub) * mask[..., None]).astype(np.uint8)


def noise_texture(img: np.ndarray, r: Rect, rng, amp: int) -> None:
    x0, y0, x1, y1 = _clip(img, r)
    if y1 <= y0 or x1 <= x0:
        return
    n = rng.integers(-amp, amp + 1, size=(y1 - y0, x1 - x0, 1), dtype=np.int16)
    img[y0:y1, x0:x1] = np.clip(img[y0:y1, x0:x1].astype(np.int16) + n, 0, 255).astype(np.uint8)


# ---- objects --------------------------------------------------------------------------

SHIRTS = [(40, 40, 200), (200, 80, 30), (30, 160, 40), (20, 180, 220), (160, 40, 160), (230, 230, 230), (40, 40, 40), (0, 120, 255)]


def person(img, x: float, y_feet: float, h: float, rng, *, shirt=None, pose: str = "stand", head=(140, 170, 215), hair=(30, 30, 40)) -> None:
    """A stick-and-block person, feet at (x, y_feet), height h pixels."""
    shirt = shirt if shirt is not None else SHIRTS[int(rng.integers(len(SHIRTS)))]
    pants = jitter(rng, (90, 60, 40), 30)
    t = max(2, int(h * 0.09))
    hr = h * 0.09
    if pose == "lying":  # horizontal, head to the left
        y = y_feet - h * 0.1
        x0 = x - h / 2
        circle(img, (x0 + hr, y), hr, head)
        rect(img, (x0 + 2 * hr, y - h * 0.08, x0 + h * 0.58, y + h * 0.08), shirt)
        line(img, (x0 + h * 0.58, y - h * 0.04), (x0 + h, y - h * 0.06), pants, t)
        line(img, (x0 + h * 0.58, y + h * 0.04), (x0 + h, y + h * 0.07), pants, t)
        line(img, (x0 + h * 0.3, y + h * 0.08), (x0 + h * 0.45, y + h * 0.18), shirt, t)
        return
    top = y_feet - h
    cx = x
    # legs
    line(img, (cx - h * 0.05, y_feet - h * 0.45), (cx - h * 0.09, y_feet), pants, t)
    line(img, (cx + h * 0.05, y_feet - h * 0.45), (cx + h * 0.09, y_feet), pants, t)
    # torso
    rect(img, (cx - h * 0.11, top + h * 0.19, cx + h * 0.11, y_feet - h * 0.42), shirt)
    # arms
    if pose == "arms_up":
        line(img, (cx - h * 0.1, top + h * 0.22), (cx - h * 0.22, top - h * 0.02), shirt, t)
        line(img, (cx + h * 0.1, top + h * 0.22), (cx + h * 0.22, top - h * 0.02), shirt, t)
    elif pose == "punch":
        line(img, (cx - h * 0.1, top + h * 0.24), (cx - h * 0.2, top + h * 0.45), shirt, t)
        line(img, (cx + h * 0.1, top + h * 0.24), (cx + h * 0.36, top + h * 0.2), shirt, t)
    else:
        line(img, (cx - h * 0.11, top + h * 0.22), (cx - h * 0.16, top + h * 0.52), shirt, t)
        line(img, (cx + h * 0.11, top + h * 0.22), (cx + h * 0.16, top + h * 0.52), shirt, t)
    circle(img, (cx, top + hr), hr, head)
    ellipse(img, (cx, top + hr * 0.6), (hr, hr * 0.55), hair)


def car(img, x0: float, y_base: float, w: float, rng, *, color=None, view: str = "side", lights=None) -> None:
    """A car with its wheels on y_base, w pixels wide."""
    color = color if color is not None else jitter(rng, [(40, 40, 180), (180, 120, 40), (200, 200, 200), (50, 50, 50), (30, 140, 200)][int(rng.integers(5))], 20)
    h = w * (0.42 if view == "side" else 0.7)
    if view == "side":
        rect(img, (x0, y_base - h * 0.62, x0 + w, y_base - h * 0.12), color)
        poly(img, [(x0 + w * 0.2, y_base - h * 0.62), (x0 + w * 0.32, y_base - h), (x0 + w * 0.7, y_base - h), (x0 + w * 0.82, y_base - h * 0.62)], color)
        poly(img, [(x0 + w * 0.26, y_base - h * 0.64), (x0 + w * 0.35, y_base - h * 0.92), (x0 + w * 0.5, y_base - h * 0.92), (x0 + w * 0.5, y_base - h * 0.64)], (200, 170, 120))
        poly(img, [(x0 + w * 0.53, y_base - h * 0.64), (x0 + w * 0.53, y_base - h * 0.92), (x0 + w * 0.68, y_base - h * 0.92), (x0 + w * 0.77, y_base - h * 0.64)], (200, 170, 120))
        for wx in (x0 + w * 0.2, x0 + w * 0.8):
            circle(img, (wx, y_base - h * 0.14), h * 0.18, (20, 20, 20))
            circle(img, (wx, y_base - h * 0.14), h * 0.08, (150, 150, 150))
        if lights is not None:
            circle(img, (x0 + w * 0.97, y_base - h * 0.45), h * 0.08, lights)
            circle(img, (x0 + w * 0.03, y_base - h * 0.45), h * 0.08, lights)
    else:  # front/rear view
        rect(img, (x0, y_base - h * 0.6, x0 + w, y_base - h * 0.1), color)
        poly(img, [(x0 + w * 0.12, y_base - h * 0.6), (x0 + w * 0.22, y_base - h), (x0 + w * 0.78, y_base - h), (x0 + w * 0.88, y_base - h * 0.6)], color)
        poly(img, [(x0 + w * 0.18, y_base - h * 0.62), (x0 + w * 0.26, y_base - h * 0.93), (x0 + w * 0.74, y_base - h * 0.93), (x0 + w * 0.82, y_base - h * 0.62)], (90, 70, 60))
        rect(img, (x0 + w * 0.05, y_base - h * 0.12, x0 + w * 0.2, y_base), (20, 20, 20))
        rect(img, (x0 + w * 0.8, y_base - h * 0.12, x0 + w * 0.95, y_base), (20, 20, 20))
        lc = lights if lights is not None else (60, 60, 200)
        ellipse(img, (x0 + w * 0.13, y_base - h * 0.38), (w * 0.07, h * 0.07), lc)
        ellipse(img, (x0 + w * 0.87, y_base - h * 0.38), (w * 0.07, h * 0.07), lc)
        rect(img, (x0 + w * 0.38, y_base - h * 0.3, x0 + w * 0.62, y_base - h * 0.2), (230, 230, 230))


def truck(img, x0, y_base, w, rng, *, cab=(40, 60, 170), body=(40, 180, 220), load=None) -> None:
    h = w * 0.5
    rect(img, (x0 + w * 0.72, y_base - h * 0.85, x0 + w, y_base - h * 0.15), cab)
    rect(img, (x0 + w * 0.78, y_base - h * 0.78, x0 + w * 0.96, y_base - h * 0.52), (200, 170, 120))
    poly(img, [(x0, y_base - h * 0.7), (x0 + w * 0.7, y_base - h * 0.7), (x0 + w * 0.66, y_base - h * 0.15), (x0 + w * 0.04, y_base - h * 0.15)], body)
    if load is not None:
        pts = [(x0 + w * 0.01, y_base - h * 0.7)]
        for i in range(1, 8):
            pts.append((x0 + w * 0.7 * i / 8, y_base - h * (0.95 + 0.12 * rng.random())))
        pts.append((x0 + w * 0.69, y_base - h * 0.7))
        poly(img, pts, load)
        noise_texture(img, (int(x0), int(y_base - h * 1.08), int(x0 + w * 0.7), int(y_base - h * 0.7)), rng, 25)
    for wx in (x0 + w * 0.15, x0 + w * 0.4, x0 + w * 0.86):
        circle(img, (wx, y_base - h * 0.14), h * 0.16, (20, 20, 20))


def tree(img, x, y_base, h, rng, *, leaf=None) -> None:
    leaf = leaf if leaf is not None else jitter(rng, (40, 120, 50), 25)
    rect(img, (x - h * 0.05, y_base - h * 0.55, x + h * 0.05, y_base), (30, 60, 90))
    for _ in range(5):
        c = (x + rng.uniform(-0.2, 0.2) * h, y_base - h * rng.uniform(0.6, 0.85))
        circle(img, c, h * rng.uniform(0.16, 0.24), jitter(rng, leaf, 15))


def bicycle(img, x, y_base, w, color, rng, angle: float = 0.0) -> None:
    r = w * 0.22
    c1 = np.array([x + r, y_base - r])
    c2 = np.array([x + w - r, y_base - r])
    if angle:
        c2 = c1 + np.array([np.cos(angle), np.sin(angle)]) * (w - 2 * r)
    circle(img, c1, r, (30, 30, 30), max(2, int(r * 0.2)))
    circle(img, c2, r, (30, 30, 30), max(2, int(r * 0.2)))
    mid = (c1 + c2) / 2 + np.array([0, -r * 1.1])
    t = max(2, int(w * 0.05))
    line(img, c1, mid, color, t)
    line(img, c2, mid, color, t)
    line(img, c1, c2, color, t)
    line(img, mid, mid + np.array([0, -r * 0.6]), color, t)
    rect(img, (c2[0] - r * 0.5, c2[1] - r * 1.9, c2[0] + r * 0.5, c2[1] - r * 1.6), color)


def flames(img, rng, cx: float, y_base: float, w: float, h: float, *, glow: bool = True) -> None:
    if glow:
        blobs(img, rng, [((cx, y_base - h * 0.4), w * 0.6)], (60, 160, 255), 0.45, int(w * 0.5))
    for color, scale in (((20, 40, 220), 1.0), ((0, 140, 255), 0.72), ((60, 230, 255), 0.42)):
        n = 7
        pts = [(cx - w / 2 * scale, y_base)]
        for i in range(n):
            fx = cx - w / 2 * scale + w * scale * (i + 0.5) / n
            pts.append((fx, y_base - h * scale * rng.uniform(0.45, 1.0)))
            pts.append((fx + w * scale / (2 * n), y_base - h * scale * rng.uniform(0.15, 0.4)))
        pts.append((cx + w / 2 * scale, y_base))
        poly(img, pts, color)


def sign_post(img, x, y_base, h, board_color, rng, *, tilt: float = 0.0, symbol: str = "") -> tuple[float, float]:
    top = (x + np.sin(tilt) * h, y_base - np.cos(tilt) * h)
    line(img, (x, y_base), top, (120, 120, 120), max(2, int(h * 0.04)))
    r = h * 0.22
    circle(img, top, r, board_color)
    if symbol == "no_parking":
        circle(img, top, r, (30, 30, 210), max(2, int(r * 0.25)))
        line(img, (top[0] - r * 0.7, top[1] - r * 0.7), (top[0] + r * 0.7, top[1] + r * 0.7), (30, 30, 210), max(2, int(r * 0.22)))
    return top
