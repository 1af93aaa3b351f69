"""Event painters with people, vehicles and animals as the main actors.

Each painter draws inside ``box`` (x0, y0, x1, y1), the area the composer sized and placed
for it (roughly 5-20% of the frame); the exact label box is measured afterwards from the
pixels that changed, so a painter never reports a box itself.
"""
from __future__ import annotations

import numpy as np

from catalog.synthetic import _draw as d


def _wh(box):
    x0, y0, x1, y1 = box
    return x0, y0, x1, y1, x1 - x0, y1 - y0


def crowd_gathering(img, rng, box):
    x0, y0, x1, y1, w, h = _wh(box)
    n = int(rng.integers(14, 22))
    pts = sorted(((rng.uniform(x0 + w * 0.08, x1 - w * 0.08), rng.uniform(y0 + h * 0.7, y1)) for _ in range(n)), key=lambda p: p[1])
    for x, y in pts:
        d.person(img, x, y, h * rng.uniform(0.55, 0.7), rng)


def person_lying_down(img, rng, box):
    x0, y0, x1, y1, w, h = _wh(box)
    d.ellipse(img, ((x0 + x1) / 2, y1 - h * 0.12), (w * 0.45, h * 0.1), (60, 60, 70))
    d.person(img, (x0 + x1) / 2, y1 - h * 0.1, w * 0.85, rng, shirt=d.jitter(rng, (40, 40, 200), 30), pose="lying")


def fighting(img, rng, box):
    x0, y0, x1, y1, w, h = _wh(box)
    d.person(img, x0 + w * 0.3, y1, h * 0.85, rng, pose="punch")
    d.person(img, x0 + w * 0.62, y1, h * 0.8, rng, pose="arms_up")
    c = (x0 + w * 0.48, y0 + h * 0.35)
    pts = [(c[0] + np.cos(a) * (h * (0.16 if i % 2 else 0.07)), c[1] + np.sin(a) * (h * (0.16 if i % 2 else 0.07))) for i, a in enumerate(np.linspace(0, 2 * np.pi, 16, endpoint=False))]
    d.poly(img, pts, (0, 80, 255))
    for k in range(4):
        d.line(img, (x0 + w * 0.12, y0 + h * (0.3 + k * 0.1)), (x0 + w * 0.22, y0 + h * (0.3 + k * 0.1)), (40, 40, 220), 2)


def loitering(img, rng, box):
    x0, y0, x1, y1, w, h = _wh(box)
    cx, cy = (x0 + x1) / 2, y1 - h * 0.15
    for a_ in np.linspace(0, 2 * np.pi, 14, endpoint=False):  # a worn loop of footprints
        d.ellipse(img, (cx + np.cos(a_) * w * 0.42, cy + np.sin(a_) * h * 0.12), (max(4, w * 0.04), max(2, h * 0.02)), (0, 200, 255))
    d.person(img, cx, cy + h * 0.05, h * 0.85, rng, shirt=(35, 35, 35), hair=(20, 20, 20))
    d.rect(img, (cx - h * 0.1, y1 - h * 0.85, cx + h * 0.1, y1 - h * 0.75), (35, 35, 35))  # hood
    d.circle(img, (cx + w * 0.3, y0 + h * 0.12), h * 0.06, (0, 200, 255), 2)  # a clock: still here
    d.line(img, (cx + w * 0.3, y0 + h * 0.12), (cx + w * 0.3, y0 + h * 0.08), (0, 200, 255), 2)


def intrusion_after_hours(img, rng, box):
    x0, y0, x1, y1, w, h = _wh(box)
    for x in np.arange(x0, x1, max(6, w / 12)):  # fence being climbed
        d.line(img, (x, y1 - h * 0.55), (x, y1), (70, 70, 70), 2)
    d.line(img, (x0, y1 - h * 0.55), (x1, y1 - h * 0.55), (70, 70, 70), 3)
    px = x0 + w * rng.uniform(0.35, 0.6)
    d.person(img, px, y1 - h * 0.25, h * 0.72, rng, shirt=(25, 25, 25), pose="arms_up")
    d.poly(img, [(px + h * 0.12, y1 - h * 0.62), (x1, y1 - h * 0.95), (x1, y1 - h * 0.35)], (150, 250, 255))  # torch beam


def queue_overflow(img, rng, box):
    x0, y0, x1, y1, w, h = _wh(box)
    n = int(rng.integers(8, 12))
    for i in range(n):
        d.person(img, x0 + w * (0.05 + 0.9 * i / (n - 1)), y1 - h * 0.05, h * 0.7, rng)
    for x in (x0, (x0 + x1) / 2, x1):  # stanchions and belt
        d.line(img, (x, y1), (x, y1 - h * 0.4), (40, 180, 220), 3)
    d.line(img, (x0, y1 - h * 0.38), (x1, y1 - h * 0.38), (200, 60, 30), 4)


def jaywalking(img, rng, box):
    x0, y0, x1, y1, w, h = _wh(box)
    for i in range(3):
        d.person(img, x0 + w * (0.2 + 0.25 * i), y1 - h * 0.05 * i, h * 0.75, rng)
    d.rect(img, (x1 - w * 0.14, y0, x1 - w * 0.02, y0 + h * 0.3), (20, 20, 20))
    d.person(img, x1 - w * 0.08, y0 + h * 0.27, h * 0.22, rng, shirt=(30, 30, 240), head=(30, 30, 240), hair=(30, 30, 240))


def pedestrian_on_motorway(img, rng, box):
    x0, y0, x1, y1, w, h = _wh(box)
    px = x0 + w * rng.uniform(0.4, 0.6)
    d.person(img, px, y1, h * 0.95, rng, shirt=(0, 230, 200), pose="arms_up")
    for k in (0.3, 0.4):  # reflective stripes of a hi-vis vest
        d.line(img, (px - h * 0.11, y0 + h * k), (px + h * 0.11, y0 + h * k), (230, 240, 240), 3)
    d.rect(img, (px + h * 0.15, y1 - h * 0.15, px + h * 0.32, y1), (40, 40, 160))  # dropped bag on the lane


def no_helmet_worker(img, rng, box):
    x0, y0, x1, y1, w, h = _wh(box)
    for i in range(2):
        x = x0 + w * (0.3 + 0.4 * i)
        d.person(img, x, y1, h * 0.9, rng, shirt=(0, 120, 255), hair=(20, 20, 20))
        d.line(img, (x + h * 0.15, y1 - h * 0.5), (x + h * 0.3, y1), (90, 90, 90), 3)  # shovel


def person_climbing_railing(img, rng, box):
    x0, y0, x1, y1, w, h = _wh(box)
    ry = y1 - h * 0.45
    d.line(img, (x0, ry), (x1, ry), (210, 210, 210), 4)
    for x in np.arange(x0, x1, max(6, w / 10)):
        d.line(img, (x, ry), (x, y1), (210, 210, 210), 2)
    px = x0 + w * 0.5
    d.person(img, px, ry, h * 0.55, rng, pose="arms_up")
    d.line(img, (px, ry - h * 0.25), (px + h * 0.25, ry - h * 0.05), (90, 60, 40), 4)  # leg over the rail


def beach_closure_intrusion(img, rng, box):
    x0, y0, x1, y1, w, h = _wh(box)
    ty = y1 - h * 0.3
    for i, x in enumerate(np.linspace(x0, x1, 12)[:-1]):  # striped closure tape
        d.line(img, (x, ty), (x + w / 11, ty), (30, 30, 230) if i % 2 else (245, 245, 245), 5)
    d.rect(img, (x0 + w * 0.05, ty - h * 0.25, x0 + w * 0.3, ty - h * 0.05), (30, 30, 220))
    d.text(img, "X", (x0 + w * 0.13, ty - h * 0.08), h / 110, (255, 255, 255), 2)
    for i in range(2):
        d.person(img, x0 + w * (0.55 + 0.25 * i), ty - h * 0.05, h * 0.6, rng, shirt=(20, 200, 240))


def person_in_water(img, rng, box):
    x0, y0, x1, y1, w, h = _wh(box)
    cx, cy = (x0 + x1) / 2, y0 + h * 0.6
    for r in (0.45, 0.33, 0.2):
        d.ellipse(img, (cx, cy), (w * r, h * r * 0.5), (245, 245, 245), 0.0, 3)
    d.circle(img, (cx, cy - h * 0.05), h * 0.1, (140, 170, 215))
    d.line(img, (cx - h * 0.08, cy), (cx - w * 0.28, y0 + h * 0.08), (140, 170, 215), 5)
    d.line(img, (cx + h * 0.08, cy), (cx + w * 0.28, y0 + h * 0.08), (140, 170, 215), 5)


def swimming_in_prohibited_area(img, rng, box):
    x0, y0, x1, y1, w, h = _wh(box)
    cy = (y0 + y1) / 2
    d.poly(img, [(x0 + w * 0.35, cy), (x0, cy - h * 0.35), (x0, cy - h * 0.28), (x0 + w * 0.3, cy + h * 0.03)], (250, 250, 250))  # wake
    d.poly(img, [(x0 + w * 0.35, cy), (x0, cy + h * 0.35), (x0, cy + h * 0.28), (x0 + w * 0.3, cy - h * 0.03)], (250, 250, 250))
    d.ellipse(img, (x0 + w * 0.55, cy), (w * 0.2, h * 0.1), (120, 150, 200))
    d.circle(img, (x0 + w * 0.8, cy), h * 0.13, (0, 140, 255))  # orange cap
    d.line(img, (x0 + w * 0.65, cy), (x0 + w * 0.85, cy - h * 0.35), (120, 150, 200), 5)
    for x in np.linspace(x0, x1, 6):  # buoy line
        d.circle(img, (x, y1 - h * 0.05), h * 0.05, (0, 0, 230))


def fishing_in_prohibited_area(img, rng, box):
    x0, y0, x1, y1, w, h = _wh(box)
    px = x0 + w * 0.25
    d.person(img, px, y1, h * 0.7, rng)
    tip = (x1 - w * 0.05, y0 + h * 0.05)
    d.line(img, (px + h * 0.1, y1 - h * 0.4), tip, (40, 40, 40), 3)
    d.line(img, tip, (tip[0], y1 - h * 0.05), (230, 230, 230), 1)
    d.circle(img, (tip[0], y1 - h * 0.05), 4, (0, 0, 255))
    d.rect(img, (px - w * 0.2, y1 - h * 0.15, px - w * 0.08, y1), (200, 110, 30))  # bucket


def street_vending(img, rng, box):
    x0, y0, x1, y1, w, h = _wh(box)
    cx = (x0 + x1) / 2
    for k in range(8):  # striped umbrella
        a0, a1 = np.pi + k * np.pi / 8, np.pi + (k + 1) * np.pi / 8
        d.poly(img, [(cx, y0 + h * 0.35), (cx + np.cos(a0) * w * 0.5, y0 + h * 0.35 + np.sin(a0) * h * 0.3), (cx + np.cos(a1) * w * 0.5, y0 + h * 0.35 + np.sin(a1) * h * 0.3)],
               (30, 30, 220) if k % 2 else (245, 245, 245))
    d.line(img, (cx, y0 + h * 0.35), (cx, y1 - h * 0.3), (80, 80, 80), 2)
    d.rect(img, (x0 + w * 0.1, y1 - h * 0.35, x1 - w * 0.1, y1 - h * 0.05), (40, 90, 150))
    for i in range(6):
        d.circle(img, (x0 + w * (0.18 + 0.13 * i), y1 - h * 0.38), h * 0.05, d.SHIRTS[i % len(d.SHIRTS)])
    d.person(img, x1 - w * 0.08, y1, h * 0.6, rng)


def outdoor_barbecue(img, rng, box):
    x0, y0, x1, y1, w, h = _wh(box)
    gx0, gx1 = x0 + w * 0.3, x0 + w * 0.7
    gy = y1 - h * 0.35
    d.rect(img, (gx0, gy, gx1, gy + h * 0.1), (20, 20, 20))
    for x in np.linspace(gx0 + 5, gx1 - 5, 8):
        d.circle(img, (x, gy + 2), h * 0.025, (30, 60, 230))
    d.line(img, (gx0 + 5, gy + h * 0.1), (gx0, y1), (20, 20, 20), 3)
    d.line(img, (gx1 - 5, gy + h * 0.1), (gx1, y1), (20, 20, 20), 3)
    d.blobs(img, rng, [(((gx0 + gx1) / 2 + rng.uniform(-10, 10), gy - h * (0.1 + 0.12 * k)), h * (0.06 + 0.03 * k)) for k in range(4)], (225, 225, 225), 0.6, 11)
    d.person(img, x0 + w * 0.12, y1, h * 0.75, rng)
    d.person(img, x1 - w * 0.12, y1, h * 0.75, rng)


def stray_animal(img, rng, box):
    x0, y0, x1, y1, w, h = _wh(box)
    coats = [(245, 245, 245), (25, 25, 25), (40, 120, 230), (90, 150, 200)]
    for i in range(2):
        bx = x0 + w * (0.02 + 0.5 * i)
        bw = w * 0.46
        by = y1 - h * (0.05 + 0.12 * i)
        col = d.jitter(rng, coats[int(rng.integers(len(coats)))], 12)
        d.ellipse(img, (bx + bw * 0.5, by - h * 0.38), (bw * 0.42, h * 0.17), col)
        d.circle(img, (bx + bw * 0.92, by - h * 0.58), h * 0.14, col)
        d.poly(img, [(bx + bw * 0.84, by - h * 0.68), (bx + bw * 0.88, by - h * 0.88), (bx + bw * 0.97, by - h * 0.66)], col)
        d.circle(img, (bx + bw * 0.97, by - h * 0.6), 2, (0, 0, 0))
        for lx in (0.18, 0.33, 0.67, 0.82):
            d.line(img, (bx + bw * lx, by - h * 0.25), (bx + bw * lx, by), col, max(3, int(h * 0.05)))
        d.line(img, (bx + bw * 0.1, by - h * 0.42), (bx - bw * 0.08, by - h * 0.7), col, max(3, int(h * 0.04)))


def boat_in_restricted_zone(img, rng, box):
    x0, y0, x1, y1, w, h = _wh(box)
    wy = y1 - h * 0.25
    d.poly(img, [(x0, wy - h * 0.25), (x1, wy - h * 0.25), (x1 - w * 0.12, wy), (x0 + w * 0.08, wy)], d.jitter(rng, (240, 240, 240), 10))
    d.line(img, (x0 + w * 0.05, wy - h * 0.12), (x1 - w * 0.05, wy - h * 0.12), (30, 30, 200), 4)
    d.rect(img, (x0 + w * 0.35, wy - h * 0.55, x0 + w * 0.7, wy - h * 0.25), (200, 200, 200))
    d.rect(img, (x0 + w * 0.4, wy - h * 0.5, x0 + w * 0.65, wy - h * 0.38), (120, 80, 40))
    d.ellipse(img, (x0 + w * 0.45, wy + h * 0.05), (w * 0.5, h * 0.05), (240, 240, 240), 0.0, 2)
    d.poly(img, [(x1 - w * 0.05, y1), (x1 - w * 0.12, y1), (x1 - w * 0.085, y1 - h * 0.3)], (0, 0, 230))  # restricted buoy


def unattended_bag(img, rng, box):
    x0, y0, x1, y1, w, h = _wh(box)
    col = d.jitter(rng, [(120, 40, 30), (30, 30, 160), (40, 40, 40)][int(rng.integers(3))], 20)
    d.rect(img, (x0 + w * 0.15, y1 - h * 0.8, x0 + w * 0.5, y1 - h * 0.05), col)  # suitcase
    d.rect(img, (x0 + w * 0.26, y1 - h * 0.95, x0 + w * 0.39, y1 - h * 0.8), (30, 30, 30), 3)
    d.line(img, (x0 + w * 0.15, y1 - h * 0.45), (x0 + w * 0.5, y1 - h * 0.45), (200, 200, 200), 2)
    d.ellipse(img, (x0 + w * 0.72, y1 - h * 0.3), (w * 0.15, h * 0.27), d.jitter(rng, (40, 120, 40), 30))  # backpack
    d.ellipse(img, (x0 + w * 0.72, y1 - h * 0.2), (w * 0.09, h * 0.1), (30, 30, 30), 0.0, 2)
    for a_ in np.linspace(0, 2 * np.pi, 20, endpoint=False):  # nobody within the dashed ring
        d.circle(img, (x0 + w * 0.45 + np.cos(a_) * w * 0.48, y1 - h * 0.1 + np.sin(a_) * h * 0.08), 2, (0, 200, 255))
