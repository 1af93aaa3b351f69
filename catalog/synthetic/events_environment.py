"""Event painters about the environment and infrastructure: fire, water, waste, damage."""
from __future__ import annotations

import numpy as np

from catalog.synthetic import _draw as d
from catalog.synthetic.events_actors import _wh


def _irregular(rng, cx, cy, rx, ry, n=14, rough=0.3):
    a = np.linspace(0, 2 * np.pi, n, endpoint=False)
    r = 1 + rng.uniform(-rough, rough, n)
    return np.stack([cx + np.cos(a) * rx * r, cy + np.sin(a) * ry * r], 1)


def missing_manhole_cover(img, rng, box):
    x0, y0, x1, y1, w, h = _wh(box)
    cx, cy = x0 + w * 0.4, y1 - h * 0.35
    d.ellipse(img, (cx, cy), (w * 0.33, h * 0.28), (120, 120, 125))
    d.ellipse(img, (cx, cy), (w * 0.28, h * 0.23), (8, 8, 10))
    d.ellipse(img, (cx, cy + h * 0.05), (w * 0.2, h * 0.12), (30, 30, 35))
    lx, ly = x1 - w * 0.15, y1 - h * 0.15  # the displaced lid
    d.ellipse(img, (lx, ly), (w * 0.14, h * 0.12), (70, 80, 90))
    for k in range(-2, 3):
        d.line(img, (lx - w * 0.1, ly + k * h * 0.03), (lx + w * 0.1, ly + k * h * 0.03), (110, 120, 130), 1)


def overflowing_garbage(img, rng, box):
    x0, y0, x1, y1, w, h = _wh(box)
    for i in range(2):
        bx = x0 + w * (0.15 + 0.35 * i)
        d.rect(img, (bx, y1 - h * 0.65, bx + w * 0.28, y1 - h * 0.05), (40, 110, 30))
        d.poly(img, [(bx - 4, y1 - h * 0.65), (bx + w * 0.3, y1 - h * 0.65), (bx + w * 0.26, y1 - h * 0.9)], (30, 90, 25))
    for _ in range(int(rng.integers(12, 18))):
        c = (rng.uniform(x0, x1), rng.uniform(y1 - h * 0.8, y1 - h * 0.02))
        d.circle(img, c, h * rng.uniform(0.06, 0.12), [(30, 30, 30), (230, 230, 230), (180, 110, 40), (60, 160, 200)][int(rng.integers(4))])


def litter(img, rng, box):
    x0, y0, x1, y1, w, h = _wh(box)
    for _ in range(int(rng.integers(25, 40))):
        x, y = rng.uniform(x0, x1), rng.uniform(y0 + h * 0.3, y1)
        kind = rng.integers(3)
        col = [(0, 0, 230), (250, 250, 250), (0, 210, 250), (200, 120, 0), (60, 180, 60)][int(rng.integers(5))]
        if kind == 0:
            d.rect(img, (x, y, x + 8, y + 5), col)
        elif kind == 1:
            d.ellipse(img, (x, y), (7, 3), col, rng.uniform(0, 180))
        else:
            d.circle(img, (x, y), 4, col)


def construction_waste_dumping(img, rng, box):
    x0, y0, x1, y1, w, h = _wh(box)
    d.poly(img, [(x0, y1), (x0 + w * 0.3, y0 + h * 0.25), (x0 + w * 0.6, y0 + h * 0.15), (x1, y1)], (140, 140, 145))
    d.noise_texture(img, (int(x0), int(y0), int(x1), int(y1)), rng, 30)
    for _ in range(14):  # bricks and rebar
        bx, by = rng.uniform(x0 + w * 0.15, x1 - w * 0.15), rng.uniform(y0 + h * 0.4, y1 - 8)
        d.rect(img, (bx, by, bx + w * 0.07, by + h * 0.05), (40, 60, 170))
    for _ in range(5):
        bx, by = rng.uniform(x0 + w * 0.2, x1 - w * 0.2), rng.uniform(y0 + h * 0.3, y1 - 10)
        d.line(img, (bx, by), (bx + w * 0.2, by - h * 0.2), (40, 50, 80), 2)


def road_debris(img, rng, box):
    x0, y0, x1, y1, w, h = _wh(box)
    for _ in range(int(rng.integers(6, 9))):
        c = (rng.uniform(x0 + w * 0.1, x1 - w * 0.1), rng.uniform(y0 + h * 0.3, y1 - h * 0.1))
        d.poly(img, _irregular(rng, *c, w * 0.12, h * 0.12, 7, 0.5), d.jitter(rng, (60, 90, 120), 30))
    for _ in range(3):  # bits of broken cardboard and plastic
        c = (rng.uniform(x0 + w * 0.1, x1 - w * 0.1), rng.uniform(y0 + h * 0.3, y1 - h * 0.1))
        d.poly(img, _irregular(rng, *c, w * 0.07, h * 0.06, 5, 0.4), (60, 160, 220))
    d.circle(img, (x0 + w * 0.25, y1 - h * 0.25), h * 0.22, (15, 15, 15), max(4, int(h * 0.1)))  # loose tyre
    d.poly(img, [(x0 + w * 0.5, y1 - h * 0.1), (x1 - w * 0.05, y1 - h * 0.4), (x1, y1 - h * 0.33), (x0 + w * 0.55, y1 - h * 0.02)], (70, 140, 200))  # plank


def pothole(img, rng, box):
    x0, y0, x1, y1, w, h = _wh(box)
    cx, cy = (x0 + x1) / 2, y1 - h * 0.4
    d.poly(img, _irregular(rng, cx, cy, w * 0.38, h * 0.3, 16, 0.25), (45, 60, 75))
    d.poly(img, _irregular(rng, cx, cy + h * 0.04, w * 0.26, h * 0.18, 12, 0.2), (25, 35, 45))
    for a in rng.uniform(0, 2 * np.pi, 8):
        r0 = 0.38
        d.line(img, (cx + np.cos(a) * w * r0, cy + np.sin(a) * h * 0.3), (cx + np.cos(a) * w * 0.5, cy + np.sin(a) * h * 0.45), (30, 30, 30), 2)


def standing_water(img, rng, box):
    x0, y0, x1, y1, w, h = _wh(box)
    pts = _irregular(rng, (x0 + x1) / 2, y1 - h * 0.35, w * 0.45, h * 0.3, 18, 0.2)
    layer = img.copy()
    d.poly(layer, pts, (240, 215, 175))
    mask = np.zeros(img.shape[:2], np.float32)
    d.poly(mask, pts, 1.0)
    d.blend(img, layer, mask * 0.92, (int(pts[:, 0].min()) - 2, int(pts[:, 1].min()) - 2, int(pts[:, 0].max()) + 3, int(pts[:, 1].max()) + 3))
    for k in range(4):
        d.ellipse(img, ((x0 + x1) / 2 + rng.uniform(-w * 0.2, w * 0.2), y1 - h * 0.35), (w * 0.06 * (k + 1), h * 0.03 * (k + 1)), (120, 90, 60), 0.0, 2)
    for _ in range(3):  # sky reflected in the water
        p = (rng.uniform(x0 + w * 0.2, x1 - w * 0.35), rng.uniform(y1 - h * 0.5, y1 - h * 0.2))
        d.line(img, p, (p[0] + w * 0.15, p[1]), (255, 255, 255), 3)


def ice_on_road(img, rng, box):
    x0, y0, x1, y1, w, h = _wh(box)
    pts = _irregular(rng, (x0 + x1) / 2, y1 - h * 0.35, w * 0.48, h * 0.3, 10, 0.15)
    d.poly(img, pts, (250, 240, 225))
    for _ in range(7):
        p = (rng.uniform(x0 + w * 0.15, x1 - w * 0.15), rng.uniform(y1 - h * 0.55, y1 - h * 0.15))
        d.line(img, p, (p[0] + rng.uniform(-w, w) * 0.15, p[1] + rng.uniform(-h, h) * 0.1), (200, 170, 140), 1)
    for _ in range(3):
        p = (rng.uniform(x0 + w * 0.2, x1 - w * 0.3), rng.uniform(y1 - h * 0.5, y1 - h * 0.2))
        d.line(img, p, (p[0] + w * 0.15, p[1] - h * 0.05), (255, 255, 255), 3)


def oil_spill(img, rng, box):
    x0, y0, x1, y1, w, h = _wh(box)
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2 + h * 0.1
    for i, col in enumerate(((140, 60, 120), (60, 160, 140), (160, 150, 40), (25, 20, 25))):
        s = 1 - i * 0.1
        d.poly(img, _irregular(rng, cx, cy, w * 0.45 * s, h * 0.32 * s, 14, 0.2), col)


def algae_bloom(img, rng, box):
    x0, y0, x1, y1, w, h = _wh(box)
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    d.poly(img, _irregular(rng, cx, cy, w * 0.47, h * 0.4, 16, 0.25), (40, 190, 110))
    for _ in range(40):
        d.circle(img, (rng.uniform(x0 + w * 0.1, x1 - w * 0.1), rng.uniform(y0 + h * 0.2, y1 - h * 0.2)), rng.uniform(2, 6), (30, 230, 150))


def floating_garbage(img, rng, box):
    x0, y0, x1, y1, w, h = _wh(box)
    for _ in range(int(rng.integers(14, 22))):
        x, y = rng.uniform(x0, x1 - 12), rng.uniform(y0 + h * 0.3, y1 - 6)
        col = [(250, 250, 250), (0, 0, 220), (40, 200, 240), (30, 30, 30), (200, 140, 40)][int(rng.integers(5))]
        if rng.random() < 0.5:
            d.rect(img, (x, y, x + w * 0.08, y + h * 0.1), col)
        else:
            d.ellipse(img, (x, y), (w * 0.06, h * 0.04), col, rng.uniform(0, 180))


def dead_fish(img, rng, box):
    x0, y0, x1, y1, w, h = _wh(box)
    for _ in range(int(rng.integers(5, 9))):
        x, y = rng.uniform(x0 + w * 0.1, x1 - w * 0.2), rng.uniform(y0 + h * 0.3, y1 - h * 0.1)
        fl = w * rng.uniform(0.15, 0.22)
        d.ellipse(img, (x, y), (fl / 2, fl / 6), (215, 215, 200), rng.uniform(-20, 20))
        d.poly(img, [(x + fl / 2, y), (x + fl * 0.75, y - fl / 6), (x + fl * 0.75, y + fl / 6)], (180, 180, 170))
        d.circle(img, (x - fl * 0.35, y - 1), 2, (20, 20, 20))


def smoke(img, rng, box):
    x0, y0, x1, y1, w, h = _wh(box)
    cx = (x0 + x1) / 2
    pts = [((cx + rng.uniform(-0.15, 0.15) * w + (k / 10) * w * 0.2, y1 - h * k / 10), w * (0.1 + 0.03 * k)) for k in range(10)]
    d.blobs(img, rng, pts, d.jitter(rng, (70, 70, 75), 10), 0.92, int(w * 0.1))


def dust_emission(img, rng, box):
    x0, y0, x1, y1, w, h = _wh(box)
    pts = [((rng.uniform(x0 + w * 0.1, x1 - w * 0.1), rng.uniform(y0 + h * 0.5, y1 - h * 0.1)), h * rng.uniform(0.15, 0.3)) for _ in range(14)]
    d.blobs(img, rng, pts, (150, 190, 215), 0.8, int(h * 0.15))
    for _ in range(60):
        d.circle(img, (rng.uniform(x0, x1), rng.uniform(y0 + h * 0.3, y1)), 1.5, (110, 150, 180))


def fire(img, rng, box):
    x0, y0, x1, y1, w, h = _wh(box)
    d.flames(img, rng, (x0 + x1) / 2, y1, w * 0.8, h * 0.95)


def open_air_burning(img, rng, box):
    x0, y0, x1, y1, w, h = _wh(box)
    for _ in range(10):  # heap of branches
        a = (rng.uniform(x0 + w * 0.1, x1 - w * 0.1), y1 - rng.uniform(0, h * 0.2))
        d.line(img, a, (a[0] + rng.uniform(-w, w) * 0.25, a[1] - rng.uniform(0, h * 0.15)), (30, 50, 80), 4)
    d.flames(img, rng, (x0 + x1) / 2, y1 - h * 0.1, w * 0.5, h * 0.4, glow=False)
    d.blobs(img, rng, [(((x0 + x1) / 2 + rng.uniform(-10, 10), y1 - h * (0.45 + 0.1 * k)), w * (0.1 + 0.02 * k)) for k in range(5)], (170, 170, 170), 0.7, 15)


def fallen_tree(img, rng, box):
    x0, y0, x1, y1, w, h = _wh(box)
    d.rect(img, (x0, y1 - h * 0.5, x0 + w * 0.08, y1), (40, 70, 100))  # broken stump
    d.poly(img, [(x0 + w * 0.02, y1 - h * 0.42), (x1 - w * 0.25, y1 - h * 0.2), (x1 - w * 0.25, y1 - h * 0.02), (x0 + w * 0.04, y1 - h * 0.2)], (35, 65, 100))
    for k in range(4):  # branches along the trunk
        bx = x0 + w * (0.3 + 0.12 * k)
        by = y1 - h * (0.32 - 0.04 * k)
        d.line(img, (bx, by), (bx + w * 0.08, by - h * rng.uniform(0.2, 0.35)), (35, 65, 100), max(2, int(h * 0.04)))
    for _ in range(10):
        c = (x1 - w * rng.uniform(0.03, 0.45), y1 - h * rng.uniform(0.15, 0.6))
        d.circle(img, c, h * rng.uniform(0.14, 0.22), d.jitter(rng, (40, 130, 50), 20))
    for _ in range(12):  # torn leaves on the ground
        d.circle(img, (rng.uniform(x0, x1), y1 - rng.uniform(0, h * 0.1)), 3, (40, 160, 70))


def clothes_hanging_on_trees(img, rng, box):
    x0, y0, x1, y1, w, h = _wh(box)
    d.tree(img, x0 + w * 0.1, y1, h * 0.95, rng)
    d.tree(img, x1 - w * 0.1, y1, h * 0.95, rng)
    ly = y0 + h * 0.45
    d.line(img, (x0 + w * 0.1, ly), (x1 - w * 0.1, ly), (240, 240, 240), 2)
    for x in np.linspace(x0 + w * 0.2, x1 - w * 0.25, 5):
        col = d.SHIRTS[int(rng.integers(len(d.SHIRTS)))]
        if rng.random() < 0.5:  # shirt
            d.poly(img, [(x, ly), (x + w * 0.1, ly), (x + w * 0.12, ly + h * 0.08), (x + w * 0.09, ly + h * 0.08), (x + w * 0.09, ly + h * 0.28), (x + w * 0.01, ly + h * 0.28),
                         (x + w * 0.01, ly + h * 0.08), (x - w * 0.02, ly + h * 0.08)], col)
        else:  # trousers
            d.poly(img, [(x, ly), (x + w * 0.09, ly), (x + w * 0.1, ly + h * 0.33), (x + w * 0.06, ly + h * 0.33), (x + w * 0.045, ly + h * 0.1), (x + w * 0.03, ly + h * 0.33),
                         (x - w * 0.01, ly + h * 0.33)], col)


def broken_streetlight(img, rng, box):
    x0, y0, x1, y1, w, h = _wh(box)
    base = (x0 + w * 0.3, y1)
    top = (x0 + w * 0.65, y0 + h * 0.15)  # tilted pole
    d.line(img, base, top, (70, 80, 90), 6)
    d.line(img, top, (top[0] + w * 0.2, top[1] + h * 0.1), (70, 80, 90), 5)
    head = (top[0] + w * 0.22, top[1] + h * 0.14)
    d.ellipse(img, head, (w * 0.1, h * 0.05), (35, 35, 35), 20)
    for _ in range(12):  # sparks and shards
        p = (head[0] + rng.uniform(-w, w) * 0.2, head[1] + rng.uniform(0, h * 0.6))
        d.circle(img, p, 2.5, (60, 230, 255))
    for _ in range(6):
        p = (rng.uniform(x0, x1), y1 - rng.uniform(0, h * 0.05))
        d.poly(img, [p, (p[0] + 6, p[1] - 3), (p[0] + 3, p[1] + 3)], (230, 230, 200))


def tunnel_lighting_failure(img, rng, box):
    x0, y0, x1, y1, w, h = _wh(box)
    layer = np.zeros_like(img)
    alpha = np.zeros(img.shape[:2], np.float32)
    alpha[int(y0):int(y1), int(x0):int(x1)] = 0.88
    d.blend(img, layer, alpha, (int(x0), int(y0), int(x1), int(y1)))
    for x in np.linspace(x0 + w * 0.1, x1 - w * 0.1, 5):
        d.ellipse(img, (x, y0 + h * 0.3), (w * 0.05, h * 0.04), (50, 50, 55))
        d.line(img, (x - w * 0.03, y0 + h * 0.27), (x + w * 0.03, y0 + h * 0.34), (90, 90, 90), 1)


def graffiti(img, rng, box):
    x0, y0, x1, y1, w, h = _wh(box)
    neon = [(255, 0, 255), (0, 255, 120), (255, 200, 0), (0, 80, 255), (255, 0, 120)]
    for _ in range(7):
        pts = np.stack([np.linspace(x0 + w * 0.05, x1 - w * 0.05, 6) + rng.uniform(-w, w, 6) * 0.05, rng.uniform(y0 + h * 0.1, y1 - h * 0.1, 6)], 1)
        cv_pts = pts.astype(np.int32)
        col = neon[int(rng.integers(len(neon)))]
        for a, b in zip(cv_pts[:-1], cv_pts[1:]):
            d.line(img, a, b, col, int(rng.integers(4, 9)))
    d.text(img, "".join(rng.choice(list("AKSXZW"), 3)), (x0 + w * 0.1, y1 - h * 0.2), h / 45, neon[int(rng.integers(len(neon)))], 6)


def illegal_banner(img, rng, box):
    x0, y0, x1, y1, w, h = _wh(box)
    by0, by1 = y0 + h * 0.25, y0 + h * 0.75
    d.line(img, (x0, y0), (x0 + 4, by0), (60, 60, 60), 2)
    d.line(img, (x1, y0), (x1 - 4, by0), (60, 60, 60), 2)
    d.rect(img, (x0 + 4, by0, x1 - 4, by1), (30, 30, 210))
    for i in range(5):
        cx = x0 + w * (0.12 + 0.18 * i)
        d.rect(img, (cx, by0 + h * 0.12, cx + w * 0.12, by1 - h * 0.12), (0, 220, 255), 3)
        d.line(img, (cx, (by0 + by1) / 2), (cx + w * 0.12, (by0 + by1) / 2), (0, 220, 255), 3)


def damaged_guardrail(img, rng, box):
    x0, y0, x1, y1, w, h = _wh(box)
    ry = y1 - h * 0.45
    rail = (215, 215, 220)
    d.rect(img, (x0, ry - h * 0.12, x0 + w * 0.4, ry + h * 0.12), rail)
    for x in np.arange(x0, x0 + w * 0.4, w * 0.08):  # red-white reflectors
        d.rect(img, (x, ry - h * 0.04, x + w * 0.03, ry + h * 0.04), (30, 30, 220))
    d.poly(img, [(x0 + w * 0.4, ry - h * 0.12), (x0 + w * 0.58, ry - h * 0.55), (x0 + w * 0.64, ry - h * 0.45), (x0 + w * 0.44, ry + h * 0.12)], rail)  # bent up
    d.poly(img, [(x0 + w * 0.66, ry + h * 0.4), (x1, ry - h * 0.12), (x1, ry + h * 0.12), (x0 + w * 0.72, ry + h * 0.5)], rail)  # twisted down
    for x in (x0 + w * 0.05, x0 + w * 0.3, x1 - w * 0.1):
        d.line(img, (x, ry), (x, y1), (110, 110, 110), 6)
    d.line(img, (x0 + w * 0.5, y1), (x0 + w * 0.62, y1 - h * 0.25), (50, 50, 50), 5)  # knocked-over post
    for _ in range(10):
        d.circle(img, (rng.uniform(x0 + w * 0.4, x0 + w * 0.75), rng.uniform(ry, y1)), 3, (240, 240, 240))


def damaged_road_sign(img, rng, box):
    x0, y0, x1, y1, w, h = _wh(box)
    base = (x0 + w * 0.3, y1)
    top = (x0 + w * 0.75, y0 + h * 0.4)
    d.line(img, base, top, (130, 130, 130), 5)
    board = np.array([[-0.3, -0.25], [0.3, -0.2], [0.28, 0.22], [-0.32, 0.2]]) * [w, h] + top
    d.poly(img, board, (130, 90, 20))
    d.poly(img, board * 0.0 + board.mean(0) + (board - board.mean(0)) * 0.8, (150, 110, 30))
    for _ in range(5):  # cracks
        p = board.mean(0) + rng.uniform(-1, 1, 2) * [w * 0.15, h * 0.1]
        d.line(img, p, p + rng.uniform(-1, 1, 2) * [w * 0.2, h * 0.15], (245, 245, 245), 2)


def unfenced_excavation(img, rng, box):
    x0, y0, x1, y1, w, h = _wh(box)
    d.poly(img, [(x0 + w * 0.05, y0 + h * 0.35), (x1 - w * 0.05, y0 + h * 0.35), (x1 - w * 0.2, y1 - h * 0.05), (x0 + w * 0.2, y1 - h * 0.05)], (40, 70, 100))
    d.poly(img, [(x0 + w * 0.15, y0 + h * 0.45), (x1 - w * 0.15, y0 + h * 0.45), (x1 - w * 0.25, y1 - h * 0.12), (x0 + w * 0.25, y1 - h * 0.12)], (15, 25, 35))
    for k in range(3):
        y = y0 + h * (0.38 + 0.05 * k)
        d.line(img, (x0 + w * 0.1, y), (x1 - w * 0.1, y), (60, 100, 140), 2)
    d.poly(img, [(x1 - w * 0.2, y0 + h * 0.35), (x1 - w * 0.05, y0), (x1, y0 + h * 0.35)], (60, 100, 140))  # spoil heap


def blocked_exit(img, rng, box):
    x0, y0, x1, y1, w, h = _wh(box)
    d.rect(img, (x0 + w * 0.2, y0 + h * 0.15, x1 - w * 0.2, y1), (60, 140, 60))  # exit door
    d.rect(img, (x0 + w * 0.3, y0, x1 - w * 0.3, y0 + h * 0.12), (40, 200, 40))
    d.text(img, "EXIT", (x0 + w * 0.33, y0 + h * 0.1), h / 160, (255, 255, 255), 2)
    for i in range(3):
        for j in range(2 if i < 2 else 1):
            bx = x0 + w * (0.1 + 0.27 * i)
            by = y1 - h * (0.22 + 0.22 * j)
            d.rect(img, (bx, by, bx + w * 0.26, by + h * 0.22), d.jitter(rng, (60, 130, 180), 15))
            d.line(img, (bx, by + h * 0.11), (bx + w * 0.26, by + h * 0.11), (150, 190, 220), 3)


def cargo_in_lobby(img, rng, box):
    x0, y0, x1, y1, w, h = _wh(box)
    d.rect(img, (x0 + w * 0.05, y1 - h * 0.08, x0 + w * 0.75, y1 - h * 0.03), (90, 90, 90))  # trolley deck
    d.line(img, (x0 + w * 0.05, y1 - h * 0.08), (x0 + w * 0.02, y0 + h * 0.1), (90, 90, 90), 4)
    for wx in (x0 + w * 0.12, x0 + w * 0.68):
        d.circle(img, (wx, y1 - h * 0.02), h * 0.03, (20, 20, 20))
    for i in range(3):
        for j in range(3 - i):
            bx, by = x0 + w * (0.08 + 0.22 * j + 0.1 * i), y1 - h * (0.3 + 0.22 * i)
            d.rect(img, (bx, by, bx + w * 0.21, by + h * 0.21), d.jitter(rng, (70, 140, 190), 12))
            d.line(img, (bx + w * 0.1, by), (bx + w * 0.1, by + h * 0.21), (200, 220, 230), 3)
    d.person(img, x1 - w * 0.1, y1, h * 0.8, rng)


def exposed_cables(img, rng, box):
    x0, y0, x1, y1, w, h = _wh(box)
    d.rect(img, (x0 + w * 0.35, y0, x0 + w * 0.65, y0 + h * 0.3), (150, 150, 150))  # open junction box
    d.rect(img, (x0 + w * 0.38, y0 + h * 0.03, x0 + w * 0.62, y0 + h * 0.27), (30, 30, 30))
    for k in range(6):
        col = [(20, 20, 20), (0, 120, 255), (0, 0, 200), (0, 200, 0)][k % 4]
        pts = np.stack([np.linspace(x0 + w * 0.5, x0 + w * rng.uniform(0, 1), 8), np.linspace(y0 + h * 0.25, y1 - h * 0.05, 8) + rng.uniform(-h, h, 8) * 0.08], 1)
        for a, b in zip(pts[:-1], pts[1:]):
            d.line(img, a, b, col, 4)
    d.blobs(img, rng, [((x0 + w * 0.5, y0 + h * 0.3), w * 0.06)], (100, 255, 255), 0.9, 7)


def missing_safety_net(img, rng, box):
    x0, y0, x1, y1, w, h = _wh(box)
    d.rect(img, (x0, y0, x1, y1), d.jitter(rng, (150, 160, 170), 10))  # bare concrete behind
    for x in np.linspace(x0, x1, 6):
        d.line(img, (x, y0), (x, y1), (90, 90, 100), 4)
    for y in np.linspace(y0, y1, 5):
        d.line(img, (x0, y), (x1, y), (90, 90, 100), 4)
    d.line(img, (x0, y0), (x1, y1), (90, 90, 100), 2)
    for _ in range(4):  # torn remains of the net
        p = (rng.uniform(x0, x1), rng.uniform(y0, y1))
        d.poly(img, [p, (p[0] + w * 0.06, p[1] + h * 0.02), (p[0] + w * 0.02, p[1] + h * 0.12)], (70, 140, 60))


def drone_flying(img, rng, box):
    x0, y0, x1, y1, w, h = _wh(box)
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    s = min(w * 0.38, h * 0.9)
    for ax, ay in ((-1, -0.5), (1, -0.5), (-1, 0.5), (1, 0.5)):
        end = (cx + ax * s, cy + ay * s * 0.6)
        d.line(img, (cx, cy), end, (30, 30, 30), 4)
        d.ellipse(img, end, (s * 0.35, s * 0.09), (90, 90, 90))
    d.rect(img, (cx - s * 0.22, cy - s * 0.12, cx + s * 0.22, cy + s * 0.15), (40, 40, 40))
    d.circle(img, (cx, cy + s * 0.2), s * 0.07, (60, 60, 60))
    d.circle(img, (cx + s * 0.15, cy - s * 0.05), 3, (0, 0, 255))


def outdoor_dining_occupation(img, rng, box):
    x0, y0, x1, y1, w, h = _wh(box)
    for i in range(2):
        tx = x0 + w * (0.25 + 0.5 * i)
        for k in range(8):  # parasol
            a0, a1 = np.pi + k * np.pi / 8, np.pi + (k + 1) * np.pi / 8
            d.poly(img, [(tx, y0 + h * 0.2), (tx + np.cos(a0) * w * 0.24, y0 + h * 0.2 + np.sin(a0) * h * 0.18), (tx + np.cos(a1) * w * 0.24, y0 + h * 0.2 + np.sin(a1) * h * 0.18)],
                   (40, 150, 40) if k % 2 else (230, 240, 240))
        d.line(img, (tx, y0 + h * 0.2), (tx, y1 - h * 0.3), (60, 60, 60), 2)
        d.ellipse(img, (tx, y1 - h * 0.3), (w * 0.15, h * 0.05), (235, 235, 235))
        d.line(img, (tx, y1 - h * 0.3), (tx, y1), (60, 60, 60), 3)
        for sx in (-1, 1):  # chairs
            cxx = tx + sx * w * 0.17
            d.rect(img, (cxx - w * 0.03, y1 - h * 0.2, cxx + w * 0.03, y1 - h * 0.17), (40, 80, 130))
            d.line(img, (cxx + sx * w * 0.03, y1 - h * 0.35), (cxx + sx * w * 0.03, y1), (40, 80, 130), 3)
