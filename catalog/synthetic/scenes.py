"""Scene layouts: one painter per scene type of the taxonomy.

A painter draws the empty scene (randomised camera angle, colours, clutter) and returns its
*zones*: named rectangles where events may be placed (``ground`` and ``upper`` always;
``road``, ``walk``, ``water``, ``wall`` where the scene has them).
"""
from __future__ import annotations

from typing import Callable

import numpy as np

from catalog.synthetic import _draw as d

Zones = dict[str, d.Rect]
Painter = Callable[[np.ndarray, np.random.Generator], Zones]


def _sky(img, rng, hy):
    w = img.shape[1]
    d.vgradient(img, (0, 0, w, hy), d.jitter(rng, (235, 190, 140), 20), d.jitter(rng, (250, 230, 215), 10))
    for _ in range(int(rng.integers(0, 4))):
        cx, cy = rng.uniform(0, w), rng.uniform(0, hy * 0.7)
        d.blobs(img, rng, [((cx + k * 18, cy + rng.uniform(-5, 5)), rng.uniform(10, 22)) for k in range(4)], (250, 250, 250), 0.8, 15)


def _skyline(img, rng, hy, *, x_range=(0.0, 1.0), tall=0.25):
    h, w = img.shape[:2]
    x = x_range[0] * w
    while x < x_range[1] * w:
        bw = rng.uniform(0.05, 0.12) * w
        bh = rng.uniform(0.3, 1.0) * tall * h
        col = d.jitter(rng, (150, 140, 135), 30)
        d.rect(img, (x, hy - bh, x + bw, hy), col)
        for wy in np.arange(hy - bh + 6, hy - 6, max(6, bh / 6)):
            for wx in np.arange(x + 4, x + bw - 6, max(6, bw / 4)):
                d.rect(img, (wx, wy, wx + 3, wy + 3), (200, 190, 170))
        x += bw + rng.uniform(0, 0.02) * w


def _road_perspective(img, rng, hy, vx, color, *, lanes=3, dashed=True):
    h, w = img.shape[:2]
    spread = rng.uniform(0.75, 1.1) * w
    d.poly(img, [(vx - 0.02 * w, hy), (vx + 0.02 * w, hy), (vx + spread, h), (vx - spread, h)], color)
    d.noise_texture(img, (0, hy, w, h), rng, 6)
    for i in range(1, lanes):
        fx = -1 + 2 * i / lanes
        bottom = vx + fx * spread
        top = vx + fx * 0.02 * w
        if dashed:
            for s in np.linspace(0, 1, 9)[:-1]:
                p0 = (top + (bottom - top) * s, hy + (h - hy) * s)
                p1 = (top + (bottom - top) * (s + 0.06), hy + (h - hy) * (s + 0.06))
                d.line(img, p0, p1, (235, 235, 235), max(2, int(3 * s + 1)))
        else:
            d.line(img, (top, hy), (bottom, h), (40, 200, 230), 3)


def _tiles(img, rng, r, color, step):
    x0, y0, x1, y1 = r
    d.rect(img, r, color)
    line_col = tuple(max(0, c - 35) for c in color)
    for y in np.arange(y0, y1, step):
        d.line(img, (x0, y), (x1, y), line_col, 1)
    for x in np.arange(x0 + rng.uniform(0, step), x1, step * 1.5):
        d.line(img, (x, y0), (x, y1), line_col, 1)


def road(img, rng) -> Zones:
    h, w = img.shape[:2]
    hy = int(h * rng.uniform(0.3, 0.42))
    vx = w * rng.uniform(0.4, 0.6)
    _sky(img, rng, hy)
    _skyline(img, rng, hy, tall=0.12)
    d.rect(img, (0, hy, w, h), d.jitter(rng, (70, 140, 90), 15))
    _road_perspective(img, rng, hy, vx, d.jitter(rng, (95, 95, 100), 12), lanes=int(rng.integers(2, 5)))
    d.line(img, (0, hy + (h - hy) * 0.35), (vx - 0.05 * w, hy), (200, 200, 205), 3)
    for k in range(int(rng.integers(0, 3))):  # far traffic
        d.car(img, vx + rng.uniform(-0.12, 0.08) * w, hy + (h - hy) * 0.2, w * 0.06, rng, view="rear")
    return {"road": (int(w * 0.12), int(hy + (h - hy) * 0.25), int(w * 0.88), h), "ground": (int(w * 0.1), int(hy + (h - hy) * 0.25), int(w * 0.9), h),
            "upper": (0, 0, w, hy + int(h * 0.1)), "walk": (0, int(hy + (h - hy) * 0.3), int(w * 0.35), h)}


def intersection(img, rng) -> Zones:
    h, w = img.shape[:2]
    hy = int(h * rng.uniform(0.22, 0.32))
    _sky(img, rng, hy)
    _skyline(img, rng, hy, tall=0.2)
    asphalt = d.jitter(rng, (90, 90, 95), 12)
    d.rect(img, (0, hy, w, h), asphalt)
    d.noise_texture(img, (0, hy, w, h), rng, 6)
    cy = hy + (h - hy) * rng.uniform(0.35, 0.5)
    for i in range(10):  # zebra crossing across the frame
        x = w * (0.05 + i * 0.095) + rng.uniform(-3, 3)
        d.poly(img, [(x, cy), (x + w * 0.05, cy), (x + w * 0.06, cy + h * 0.09), (x - w * 0.01, cy + h * 0.09)], (235, 235, 235))
    d.line(img, (0, cy + h * 0.13), (w, cy + h * 0.13), (240, 240, 240), 4)
    px = w * rng.choice([0.06, 0.94])
    d.rect(img, (px - 3, hy - h * 0.1, px + 3, cy), (60, 60, 60))
    d.rect(img, (px - 9, hy - h * 0.1, px + 9, hy - h * 0.1 + 40), (30, 30, 30))
    d.circle(img, (px, hy - h * 0.1 + 32), 5, (80, 220, 60))
    return {"road": (0, int(hy + (h - hy) * 0.1), w, h), "ground": (0, int(hy + (h - hy) * 0.1), w, h), "upper": (0, 0, w, hy + int(h * 0.08)),
            "walk": (0, int(cy), w, h)}


def tunnel(img, rng) -> Zones:
    h, w = img.shape[:2]
    vx, vy = w * rng.uniform(0.42, 0.58), h * rng.uniform(0.38, 0.48)
    wall = d.jitter(rng, (120, 170, 190), 15)
    d.rect(img, (0, 0, w, h), (40, 40, 45))
    d.ellipse(img, (w / 2, h * 0.9), (w * 0.62, h * 0.95), wall)
    d.ellipse(img, (vx, vy + h * 0.05), (w * 0.08, h * 0.08), (20, 25, 30))
    d.poly(img, [(vx - w * 0.06, vy + h * 0.08), (vx + w * 0.06, vy + h * 0.08), (w * 0.92, h), (w * 0.08, h)], d.jitter(rng, (70, 70, 75), 8))
    for s in np.linspace(0.05, 1, 8):  # ceiling lamps converging
        for side in (-1, 1):
            x = vx + side * s * w * 0.3
            y = vy - s * h * 0.35
            d.ellipse(img, (x, y), (4 + 10 * s, 2 + 4 * s), (170, 240, 255))
    for s in np.linspace(0, 1, 7)[:-1]:
        d.line(img, (vx, vy + h * 0.08 + (h - vy) * s), (vx, vy + h * 0.08 + (h - vy) * (s + 0.07)), (230, 230, 230), int(2 + 3 * s))
    return {"road": (int(w * 0.15), int(h * 0.6), int(w * 0.85), h), "ground": (int(w * 0.15), int(h * 0.6), int(w * 0.85), h),
            "upper": (int(w * 0.15), 0, int(w * 0.85), int(h * 0.4)), "wall": (0, int(h * 0.2), int(w * 0.3), int(h * 0.85))}


def bridge(img, rng) -> Zones:
    h, w = img.shape[:2]
    hy = int(h * rng.uniform(0.3, 0.4))
    _sky(img, rng, hy)
    d.rect(img, (0, hy, w, h), d.jitter(rng, (150, 110, 60), 15))
    for _ in range(12):
        y = rng.uniform(hy, h)
        x = rng.uniform(0, w)
        d.line(img, (x, y), (x + 25, y), (190, 160, 120), 1)
    deck_top = hy + (h - hy) * rng.uniform(0.3, 0.4)
    d.poly(img, [(w * 0.3, deck_top), (w * 0.7, deck_top), (w * 1.05, h), (-w * 0.05, h)], d.jitter(rng, (105, 105, 110), 10))
    for x in np.linspace(0.3, 0.0, 12):  # railing posts on the left edge
        px = w * x
        py = deck_top + (h - deck_top) * (0.3 - x) / 0.3
        d.line(img, (px, py), (px, py - 25 - 30 * (0.3 - x)), (200, 200, 200), 2)
    tx = w * rng.uniform(0.55, 0.75)
    d.rect(img, (tx - 10, h * 0.05, tx + 10, deck_top), (130, 130, 140))
    for k in range(6):
        d.line(img, (tx, h * 0.07), (tx - w * 0.08 * (k + 1), deck_top), (180, 180, 190), 1)
        d.line(img, (tx, h * 0.07), (tx + w * 0.05 * (k + 1), deck_top), (180, 180, 190), 1)
    return {"road": (int(w * 0.15), int(deck_top + h * 0.05), int(w * 0.85), h), "ground": (int(w * 0.15), int(deck_top + h * 0.05), int(w * 0.85), h),
            "water": (0, hy, int(w * 0.45), int(deck_top + h * 0.08)), "upper": (0, 0, w, hy), "wall": (int(tx - w * 0.2), int(h * 0.1), int(tx + w * 0.2), int(deck_top)),
            "walk": (int(w * 0.05), int(deck_top + h * 0.1), int(w * 0.5), h)}


def _facade(img, rng, y1, *, shops=True):
    w = img.shape[1]
    d.rect(img, (0, 0, w, y1), d.jitter(rng, (150, 170, 190), 25))
    for x in np.arange(rng.uniform(5, 30), w, rng.uniform(70, 110)):
        for y in np.arange(10, y1 * 0.55, 45):
            d.rect(img, (x, y, x + 30, y + 28), d.jitter(rng, (120, 100, 80), 15))
        if shops:
            d.rect(img, (x, y1 * 0.65, x + 45, y1), d.jitter(rng, (80, 70, 60), 20))


def sidewalk(img, rng) -> Zones:
    h, w = img.shape[:2]
    fy = int(h * rng.uniform(0.38, 0.48))
    _facade(img, rng, fy)
    curb = int(h * rng.uniform(0.86, 0.92))
    _tiles(img, rng, (0, fy, w, curb), d.jitter(rng, (165, 175, 180), 15), max(8, h // 24))
    d.rect(img, (0, curb, w, curb + 6), (200, 200, 200))
    d.rect(img, (0, curb + 6, w, h), (90, 90, 95))
    for _ in range(int(rng.integers(0, 3))):
        d.person(img, rng.uniform(0.05, 0.95) * w, fy + h * 0.08, h * 0.12, rng)
    return {"walk": (0, fy + int(h * 0.05), w, curb), "ground": (0, fy + int(h * 0.05), w, curb), "wall": (0, int(h * 0.02), w, fy),
            "upper": (0, 0, w, fy), "road": (0, curb - int(h * 0.2), w, h)}


def plaza(img, rng) -> Zones:
    h, w = img.shape[:2]
    hy = int(h * rng.uniform(0.28, 0.36))
    _sky(img, rng, hy)
    _skyline(img, rng, hy, tall=0.2)
    d.rect(img, (0, hy, w, h), d.jitter(rng, (175, 190, 200), 12))
    cx = w * rng.uniform(0.3, 0.7)
    for r in range(1, 9):
        d.ellipse(img, (cx, h * 1.05), (r * w * 0.12, r * (h - hy) * 0.14), (140, 150, 160), 0.0, 2)
    d.ellipse(img, (cx, hy + h * 0.06), (w * 0.08, h * 0.025), (200, 160, 110))
    d.blobs(img, rng, [((cx, hy + h * 0.02), w * 0.03)], (250, 240, 230), 0.8, 9)
    return {"ground": (0, hy + int(h * 0.1), w, h), "walk": (0, hy + int(h * 0.1), w, h), "wall": (0, int(hy - h * 0.2), w, hy + int(h * 0.1)), "upper": (0, 0, w, hy)}


def market_street(img, rng) -> Zones:
    h, w = img.shape[:2]
    gy = int(h * rng.uniform(0.45, 0.55))
    _facade(img, rng, gy, shops=False)
    for x in np.arange(0, w, w / 6):  # striped awnings
        cols = [d.jitter(rng, c, 20) for c in ((40, 40, 200), (40, 180, 230), (200, 120, 40), (60, 160, 60))]
        c = cols[int(rng.integers(4))]
        for k in range(6):
            d.poly(img, [(x + k * w / 36, gy * 0.55), (x + (k + 1) * w / 36, gy * 0.55), (x + (k + 1) * w / 36, gy * 0.72), (x + k * w / 36, gy * 0.72)], c if k % 2 else (240, 240, 240))
        d.rect(img, (x + 4, gy * 0.72, x + w / 6 - 4, gy), d.jitter(rng, (60, 90, 120), 25))
    _tiles(img, rng, (0, gy, w, h), d.jitter(rng, (130, 145, 160), 12), max(10, h // 18))
    for x in np.arange(w * 0.1, w, w * 0.2):
        d.circle(img, (x, gy * 0.2), 7, (30, 30, 220))
    return {"ground": (0, gy + int(h * 0.03), w, h), "walk": (0, gy + int(h * 0.03), w, h), "wall": (0, 0, w, int(gy * 0.55)), "upper": (0, 0, w, int(gy * 0.55))}


def seafront(img, rng) -> Zones:
    h, w = img.shape[:2]
    hy = int(h * rng.uniform(0.25, 0.33))
    sy = int(h * rng.uniform(0.55, 0.65))
    _sky(img, rng, hy)
    d.vgradient(img, (0, hy, w, sy), d.jitter(rng, (150, 110, 40), 15), d.jitter(rng, (190, 160, 80), 15))
    for _ in range(25):
        x, y = rng.uniform(0, w), rng.uniform(hy, sy)
        d.line(img, (x, y), (x + rng.uniform(10, 35), y), (230, 220, 200), 1)
    d.vgradient(img, (0, sy, w, h), d.jitter(rng, (150, 200, 225), 10), d.jitter(rng, (120, 170, 200), 10))
    d.noise_texture(img, (0, sy, w, h), rng, 10)
    d.line(img, (0, sy), (w, sy), (240, 240, 240), 3)
    return {"water": (0, hy + int(h * 0.03), w, sy), "ground": (0, sy + int(h * 0.03), w, h), "walk": (0, sy + int(h * 0.03), w, h),
            "upper": (0, 0, w, hy), "wall": (0, sy - int(h * 0.1), w, h)}


def river_bank(img, rng) -> Zones:
    h, w = img.shape[:2]
    hy = int(h * rng.uniform(0.2, 0.28))
    _sky(img, rng, hy)
    far = hy + int(h * 0.08)
    d.rect(img, (0, hy, w, far), d.jitter(rng, (60, 120, 70), 15))
    for x in np.arange(0, w, 30):
        d.tree(img, x + rng.uniform(-8, 8), far, rng.uniform(0.12, 0.2) * h, rng)
    wy = int(h * rng.uniform(0.58, 0.68))
    d.vgradient(img, (0, far, w, wy), d.jitter(rng, (110, 120, 80), 12), d.jitter(rng, (90, 110, 70), 12))
    for _ in range(15):
        x, y = rng.uniform(0, w), rng.uniform(far, wy)
        d.line(img, (x, y), (x + 30, y), (150, 160, 130), 1)
    d.poly(img, [(0, wy), (w, wy - h * 0.05), (w, h), (0, h)], d.jitter(rng, (70, 150, 90), 15))
    d.poly(img, [(0, wy), (w, wy - h * 0.05), (w, wy + h * 0.03), (0, wy + h * 0.08)], (150, 150, 150))
    return {"water": (0, far + int(h * 0.02), w, wy - int(h * 0.02)), "ground": (0, wy + int(h * 0.06), w, h), "walk": (0, wy + int(h * 0.06), w, h),
            "upper": (0, 0, w, far), "wall": (0, wy - int(h * 0.1), w, h)}


def park(img, rng) -> Zones:
    h, w = img.shape[:2]
    hy = int(h * rng.uniform(0.3, 0.4))
    _sky(img, rng, hy)
    d.rect(img, (0, hy, w, h), d.jitter(rng, (60, 160, 80), 15))
    d.noise_texture(img, (0, hy, w, h), rng, 12)
    for x in np.arange(0, w, w / 7):
        d.tree(img, x + rng.uniform(-15, 15), hy + h * 0.05, rng.uniform(0.18, 0.3) * h, rng)
    px = w * rng.uniform(0.3, 0.7)
    d.poly(img, [(px - w * 0.02, hy + h * 0.05), (px + w * 0.02, hy + h * 0.05), (px + w * 0.2, h), (px - w * 0.2, h)], d.jitter(rng, (150, 190, 210), 10))
    bx = w * rng.uniform(0.05, 0.3)
    d.rect(img, (bx, hy + h * 0.2, bx + w * 0.1, hy + h * 0.22), (40, 70, 110))
    return {"ground": (0, hy + int(h * 0.12), w, h), "walk": (0, hy + int(h * 0.12), w, h), "upper": (0, 0, w, hy + int(h * 0.05)), "wall": (0, int(hy - h * 0.2), w, hy + int(h * 0.15))}


def building_lobby(img, rng) -> Zones:
    h, w = img.shape[:2]
    fy = int(h * rng.uniform(0.5, 0.6))
    cy = int(h * 0.12)
    d.rect(img, (0, 0, w, cy), d.jitter(rng, (225, 225, 225), 10))
    for x in np.arange(w * 0.1, w, w * 0.2):
        d.ellipse(img, (x, cy * 0.6), (w * 0.04, 4), (200, 250, 255))
    d.rect(img, (0, cy, w, fy), d.jitter(rng, (170, 200, 215), 20))
    ex = w * rng.uniform(0.15, 0.6)
    for k in range(2):  # elevator doors
        d.rect(img, (ex + k * w * 0.14, fy - h * 0.3, ex + k * w * 0.14 + w * 0.1, fy), (180, 180, 185))
        d.line(img, (ex + k * w * 0.14 + w * 0.05, fy - h * 0.3), (ex + k * w * 0.14 + w * 0.05, fy), (120, 120, 120), 1)
    dx = w * rng.uniform(0.65, 0.8)
    d.rect(img, (dx, fy - h * 0.12, dx + w * 0.2, fy + h * 0.02), d.jitter(rng, (60, 80, 110), 15))
    floor = d.jitter(rng, (200, 205, 210), 15)
    d.rect(img, (0, fy, w, h), floor)
    step = max(20, w // 12)
    for x in np.arange(-w, 2 * w, step):
        d.line(img, (w / 2 + (x - w / 2) * 0.3, fy), (x, h), tuple(c - 30 for c in floor), 1)
    for y in np.geomspace(fy + 4, h, 7):
        d.line(img, (0, y), (w, y), tuple(c - 30 for c in floor), 1)
    return {"ground": (0, fy + int(h * 0.04), w, h), "walk": (0, fy + int(h * 0.04), w, h), "wall": (0, cy, w, fy), "upper": (0, 0, w, int(fy * 0.6))}


def parking_lot(img, rng) -> Zones:
    h, w = img.shape[:2]
    hy = int(h * rng.uniform(0.25, 0.33))
    _sky(img, rng, hy)
    _skyline(img, rng, hy, tall=0.15)
    d.rect(img, (0, hy, w, h), d.jitter(rng, (100, 100, 105), 10))
    d.noise_texture(img, (0, hy, w, h), rng, 7)
    for row_y in (hy + (h - hy) * 0.3, hy + (h - hy) * 0.75):
        d.line(img, (0, row_y), (w, row_y), (230, 230, 230), 2)
        for x in np.arange(rng.uniform(0, 40), w, w / 8):
            d.line(img, (x, row_y), (x - (x - w / 2) * 0.15, row_y - (h - hy) * 0.22), (230, 230, 230), 2)
    for _ in range(int(rng.integers(1, 4))):
        x = rng.uniform(0, 0.85) * w
        d.car(img, x, hy + (h - hy) * 0.28, w * 0.1, rng, view="rear")
    return {"ground": (0, hy + int((h - hy) * 0.35), w, h), "road": (0, hy + int((h - hy) * 0.35), w, h), "upper": (0, 0, w, hy),
            "walk": (0, hy + int((h - hy) * 0.35), w, h), "wall": (0, int(hy - h * 0.15), w, hy + int(h * 0.15))}


def construction_site(img, rng) -> Zones:
    h, w = img.shape[:2]
    hy = int(h * rng.uniform(0.4, 0.5))
    _sky(img, rng, hy)
    d.rect(img, (0, hy, w, h), d.jitter(rng, (70, 110, 150), 15))
    d.noise_texture(img, (0, hy, w, h), rng, 18)
    bx0, bx1 = w * rng.uniform(0.35, 0.5), w * rng.uniform(0.85, 1.0)
    d.rect(img, (bx0, h * 0.08, bx1, hy), d.jitter(rng, (70, 140, 60), 15))  # green safety net
    for x in np.arange(bx0, bx1, 14):
        d.line(img, (x, h * 0.08), (x, hy), (60, 120, 50), 1)
    cx = w * rng.uniform(0.1, 0.25)
    d.rect(img, (cx - 5, h * 0.05, cx + 5, hy), (30, 190, 240))
    d.rect(img, (cx - w * 0.1, h * 0.05, cx + w * 0.25, h * 0.07), (30, 190, 240))
    for x in np.arange(0, w, 25):
        d.line(img, (x, hy + h * 0.03), (x, hy - h * 0.02), (180, 180, 180), 1)
    return {"ground": (0, hy + int(h * 0.06), w, h), "road": (0, hy + int(h * 0.06), w, h), "upper": (0, 0, int(bx0), hy), "wall": (int(bx0), int(h * 0.08), int(bx1), hy)}


def residential_gate(img, rng) -> Zones:
    h, w = img.shape[:2]
    hy = int(h * rng.uniform(0.3, 0.4))
    _sky(img, rng, hy)
    d.rect(img, (0, hy - h * 0.18, w, hy + h * 0.05), d.jitter(rng, (170, 185, 200), 15))  # compound wall
    gx = w * rng.uniform(0.3, 0.5)
    d.rect(img, (gx - 18, hy - h * 0.25, gx, hy + h * 0.1), (120, 130, 140))
    d.rect(img, (gx + w * 0.28, hy - h * 0.25, gx + w * 0.28 + 18, hy + h * 0.1), (120, 130, 140))
    for x in np.arange(gx, gx + w * 0.28, 10):
        d.line(img, (x, hy - h * 0.15), (x, hy + h * 0.08), (60, 60, 60), 2)
    d.rect(img, (w * 0.82, hy - h * 0.15, w * 0.95, hy + h * 0.1), d.jitter(rng, (200, 210, 220), 10))
    d.rect(img, (0, hy + int(h * 0.05), w, h), d.jitter(rng, (120, 120, 125), 10))
    d.noise_texture(img, (0, hy, w, h), rng, 6)
    return {"ground": (0, hy + int(h * 0.12), w, h), "road": (0, hy + int(h * 0.12), w, h), "walk": (0, hy + int(h * 0.12), w, h),
            "wall": (0, int(hy - h * 0.18), w, hy + int(h * 0.05)), "upper": (0, 0, w, hy)}


def bus_stop(img, rng) -> Zones:
    h, w = img.shape[:2]
    fy = int(h * rng.uniform(0.3, 0.38))
    _facade(img, rng, fy)
    curb = int(h * rng.uniform(0.72, 0.8))
    _tiles(img, rng, (0, fy, w, curb), d.jitter(rng, (160, 170, 175), 12), max(8, h // 24))
    sx = w * rng.uniform(0.1, 0.45)
    d.rect(img, (sx, fy - h * 0.05, sx + w * 0.4, fy), (60, 60, 60))  # shelter roof
    d.rect(img, (sx, fy, sx + w * 0.4, fy + h * 0.22), (200, 190, 160))
    d.rect(img, (sx + 4, fy + 4, sx + w * 0.4 - 4, fy + h * 0.22), (215, 205, 180))
    d.rect(img, (sx + w * 0.42, fy - h * 0.1, sx + w * 0.47, fy - h * 0.03), (200, 120, 30))
    d.rect(img, (0, curb, w, curb + 6), (210, 210, 210))
    d.rect(img, (0, curb + 6, w, h), (90, 90, 95))
    return {"ground": (0, fy + int(h * 0.12), w, h), "walk": (0, fy + int(h * 0.12), w, curb), "road": (0, curb - int(h * 0.1), w, h),
            "wall": (0, 0, w, fy + int(h * 0.1)), "upper": (0, 0, w, fy)}


def school_gate(img, rng) -> Zones:
    h, w = img.shape[:2]
    hy = int(h * rng.uniform(0.35, 0.42))
    _sky(img, rng, hy)
    d.rect(img, (w * 0.15, hy - h * 0.28, w * 0.85, hy), d.jitter(rng, (120, 150, 210), 15))  # school building
    for x in np.arange(w * 0.18, w * 0.82, w * 0.07):
        d.rect(img, (x, hy - h * 0.24, x + w * 0.04, hy - h * 0.16), (200, 170, 130))
    d.line(img, (w * 0.5, hy - h * 0.28), (w * 0.5, hy - h * 0.4), (80, 80, 80), 2)
    d.rect(img, (w * 0.5, hy - h * 0.4, w * 0.56, hy - h * 0.36), (40, 40, 220))
    gy = hy + int(h * 0.06)
    d.rect(img, (0, hy, w, h), d.jitter(rng, (130, 130, 135), 10))
    for x in np.arange(0, w, 12):  # picket fence
        if abs(x - w / 2) > w * 0.12:
            d.poly(img, [(x, gy), (x + 6, gy), (x + 6, hy - h * 0.02), (x + 3, hy - h * 0.05), (x, hy - h * 0.02)], (240, 240, 240))
    d.rect(img, (w * 0.36, hy - h * 0.12, w * 0.64, hy - h * 0.06), (50, 130, 50))
    for i in range(8):
        x = w * (0.1 + i * 0.1)
        d.rect(img, (x, h * 0.85, x + w * 0.05, h * 0.95), (235, 235, 235))
    return {"ground": (0, gy + int(h * 0.04), w, h), "walk": (0, gy + int(h * 0.04), w, h), "road": (0, gy + int(h * 0.15), w, h),
            "wall": (0, hy - int(h * 0.2), w, gy), "upper": (0, 0, w, hy - int(h * 0.15))}


PAINTERS: dict[str, Painter] = {
    "road": road, "intersection": intersection, "tunnel": tunnel, "bridge": bridge, "sidewalk": sidewalk, "plaza": plaza,
    "market_street": market_street, "seafront": seafront, "river_bank": river_bank, "park": park, "building_lobby": building_lobby,
    "parking_lot": parking_lot, "construction_site": construction_site, "residential_gate": residential_gate, "bus_stop": bus_stop,
    "school_gate": school_gate,
}
