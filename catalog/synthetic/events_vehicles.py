"""Event painters about vehicles, bikes and traffic (see ``events_actors`` for the contract)."""
from __future__ import annotations

import numpy as np

from catalog.synthetic import _draw as d
from catalog.synthetic.events_actors import _wh


def illegal_parking(img, rng, box):
    x0, y0, x1, y1, w, h = _wh(box)
    for i in range(10):  # yellow zig-zag no-parking marking
        x = x0 + w * i / 10
        d.line(img, (x, y1 - h * 0.02), (x + w / 20, y1 - h * 0.12), (0, 220, 255), 3)
        d.line(img, (x + w / 20, y1 - h * 0.12), (x + w / 10, y1 - h * 0.02), (0, 220, 255), 3)
    d.car(img, x0 + w * 0.05, y1 - h * 0.08, w * 0.7, rng)
    d.sign_post(img, x1 - w * 0.1, y1, h * 0.95, (200, 80, 20), rng, symbol="no_parking")


def abandoned_vehicle(img, rng, box):
    x0, y0, x1, y1, w, h = _wh(box)
    d.car(img, x0, y1, w * 0.95, rng, color=d.jitter(rng, (40, 80, 130), 12))
    d.noise_texture(img, (int(x0), int(y1 - w * 0.4), int(x0 + w * 0.95), int(y1)), rng, 40)  # rust and dirt
    for _ in range(5):
        c = (x0 + w * rng.uniform(0.1, 0.9), y1 - w * rng.uniform(0.1, 0.35))
        d.circle(img, c, w * 0.03, (30, 60, 110))
    d.line(img, (x0 + w * 0.35, y1 - w * 0.38), (x0 + w * 0.45, y1 - w * 0.28), (250, 250, 250), 2)  # cracked window
    d.ellipse(img, (x0 + w * 0.19, y1 - w * 0.02), (w * 0.1, w * 0.025), (20, 20, 20))  # flat tyres
    d.ellipse(img, (x0 + w * 0.76, y1 - w * 0.02), (w * 0.1, w * 0.025), (20, 20, 20))
    for _ in range(12):
        d.circle(img, (x0 + w * rng.uniform(0, 1), y1 - w * rng.uniform(0.36, 0.42)), 3, (40, 110, 160))  # leaves


def blocked_fire_lane(img, rng, box):
    x0, y0, x1, y1, w, h = _wh(box)
    lane_top = y1 - h * 0.35
    d.rect(img, (x0, lane_top, x1, y1), (40, 40, 200))
    for x in np.arange(x0, x1, w / 8):
        d.line(img, (x, y1), (x + w / 12, lane_top), (240, 240, 240), 4)
    d.text(img, "FIRE LANE", (x0 + w * 0.05, y1 - h * 0.05), h / 120, (255, 255, 255), 2)
    truck_w = w * 0.7
    d.truck(img, x0 + w * 0.15, y1 - h * 0.15, truck_w, rng, cab=(220, 220, 220), body=(230, 230, 230))


def vehicle_on_sidewalk(img, rng, box):
    x0, y0, x1, y1, w, h = _wh(box)
    d.poly(img, [(x0, y1 - h * 0.12), (x1, y1 - h * 0.22), (x1, y1 - h * 0.16), (x0, y1 - h * 0.06)], (215, 215, 215))  # curb it mounted
    cw = w * 0.85
    d.car(img, x0 + w * 0.07, y1 - h * 0.08, cw, rng, color=d.jitter(rng, (30, 160, 60), 20))
    d.rect(img, (x0 + w * 0.35, y1 - h * 0.05, x0 + w * 0.65, y1), (60, 60, 200))


def wrong_way_driving(img, rng, box):
    x0, y0, x1, y1, w, h = _wh(box)
    ax = x0 + w * 0.15  # arrow painted on the lane, pointing away
    d.poly(img, [(ax, y0 + h * 0.1), (ax + w * 0.12, y0 + h * 0.35), (ax + w * 0.05, y0 + h * 0.35), (ax + w * 0.05, y1 - h * 0.05), (ax - w * 0.05, y1 - h * 0.05),
                 (ax - w * 0.05, y0 + h * 0.35), (ax - w * 0.12, y0 + h * 0.35)], (240, 240, 240))
    cx0 = x0 + w * 0.38
    d.blobs(img, rng, [((cx0 + w * 0.08, y1 - h * 0.35), h * 0.16), ((cx0 + w * 0.52, y1 - h * 0.35), h * 0.16)], (220, 255, 255), 0.9, 15)
    d.car(img, cx0, y1 - h * 0.05, w * 0.6, rng, view="front", lights=(230, 255, 255))


def traffic_jam(img, rng, box):
    x0, y0, x1, y1, w, h = _wh(box)
    rows = 3
    for r in range(rows):
        y = y0 + h * (0.35 + 0.3 * r)
        cw = w * (0.22 + 0.04 * r)
        for x in np.arange(x0 + rng.uniform(0, w * 0.05) - w * 0.02 * r, x1 - cw * 0.9, cw * 1.02):
            d.car(img, x, y, cw, rng, view="rear", lights=(40, 40, 255))


def vehicle_breakdown(img, rng, box):
    x0, y0, x1, y1, w, h = _wh(box)
    cw = w * 0.62
    cx0 = x0 + w * 0.35
    d.car(img, cx0, y1 - h * 0.05, cw, rng, lights=(0, 170, 255))
    d.poly(img, [(cx0 + cw * 0.82, y1 - h * 0.3), (cx0 + cw * 1.0, y1 - h * 0.62), (cx0 + cw * 1.03, y1 - h * 0.58), (cx0 + cw * 0.88, y1 - h * 0.28)], (150, 150, 150))  # open hood
    tx, ty = x0 + w * 0.12, y1 - h * 0.05
    d.poly(img, [(tx - w * 0.1, ty), (tx + w * 0.1, ty), (tx, ty - h * 0.35)], (20, 20, 230))
    d.poly(img, [(tx - w * 0.05, ty - h * 0.05), (tx + w * 0.05, ty - h * 0.05), (tx, ty - h * 0.22)], (200, 200, 200))


def red_light_running(img, rng, box):
    x0, y0, x1, y1, w, h = _wh(box)
    d.rect(img, (x0, y0, x0 + w * 0.12, y0 + h * 0.5), (25, 25, 25))
    d.circle(img, (x0 + w * 0.06, y0 + h * 0.1), w * 0.045, (30, 30, 255))
    d.blobs(img, rng, [((x0 + w * 0.06, y0 + h * 0.1), w * 0.07)], (60, 60, 255), 0.6, 15)
    d.circle(img, (x0 + w * 0.06, y0 + h * 0.25), w * 0.04, (40, 60, 40))
    d.circle(img, (x0 + w * 0.06, y0 + h * 0.4), w * 0.04, (40, 60, 40))
    d.line(img, (x0 + w * 0.15, y1 - h * 0.05), (x1, y1 - h * 0.05), (245, 245, 245), 6)  # stop line, car beyond it
    cx = x0 + w * 0.4
    for k in range(4):
        d.line(img, (cx - w * 0.2, y1 - h * (0.25 + 0.08 * k)), (cx - w * 0.03, y1 - h * (0.25 + 0.08 * k)), (220, 220, 220), 2)
    d.car(img, cx, y1 - h * 0.25, w * 0.58, rng)


def uncovered_muck_truck(img, rng, box):
    x0, y0, x1, y1, w, h = _wh(box)
    d.truck(img, x0, y1 - h * 0.05, w, rng, cab=d.jitter(rng, (40, 60, 170), 20), body=(40, 170, 220), load=(40, 70, 110))
    d.blobs(img, rng, [((x0 + w * rng.uniform(0.1, 0.6), y1 - h * rng.uniform(0.6, 0.8)), h * 0.06) for _ in range(5)], (90, 120, 150), 0.7, 9)


def occupied_disabled_space(img, rng, box):
    x0, y0, x1, y1, w, h = _wh(box)
    d.poly(img, [(x0 + w * 0.1, y0 + h * 0.3), (x1 - w * 0.1, y0 + h * 0.3), (x1, y1), (x0, y1)], (200, 120, 30))
    wc = (x0 + w * 0.25, y1 - h * 0.25)
    d.circle(img, wc, h * 0.12, (255, 255, 255), 4)
    d.circle(img, (wc[0], wc[1] - h * 0.25), h * 0.05, (255, 255, 255))
    d.car(img, x0 + w * 0.35, y1 - h * 0.1, w * 0.6, rng, view="rear")


def parking_outside_lines(img, rng, box):
    x0, y0, x1, y1, w, h = _wh(box)
    for x in np.linspace(x0, x1, 4):
        d.line(img, (x, y1), (x + w * 0.05, y0 + h * 0.3), (245, 245, 245), 4)
    pts = np.array([[0, 0], [w * 0.7, 0], [w * 0.7, -w * 0.28], [0, -w * 0.28]])
    ang = rng.uniform(0.35, 0.5) * rng.choice([-1, 1])
    rot = np.array([[np.cos(ang), -np.sin(ang)], [np.sin(ang), np.cos(ang)]])
    c = np.array([x0 + w * 0.5, y1 - h * 0.3])
    body = (pts - pts.mean(0)) @ rot.T + c
    d.poly(img, body, d.jitter(rng, (160, 60, 120), 20))
    roof = (pts[:, :] * [0.5, 0.6] - pts.mean(0) * [0.5, 0.6]) @ rot.T + c
    d.poly(img, roof, (90, 70, 60))


def shared_bike_pileup(img, rng, box):
    x0, y0, x1, y1, w, h = _wh(box)
    cols = [(0, 200, 255), (0, 140, 255), (220, 140, 30), (60, 200, 60)]
    for _ in range(int(rng.integers(9, 14))):
        bw = w * rng.uniform(0.25, 0.35)
        bx = rng.uniform(x0, x1 - bw)
        by = rng.uniform(y0 + h * 0.45, y1)
        d.bicycle(img, bx, by, bw, cols[int(rng.integers(len(cols)))], rng, angle=rng.uniform(-0.6, 0.6))


def electric_bike_in_lobby(img, rng, box):
    x0, y0, x1, y1, w, h = _wh(box)
    r = h * 0.2
    c1, c2 = (x0 + w * 0.2, y1 - r), (x1 - w * 0.2, y1 - r)
    for c in (c1, c2):
        d.circle(img, c, r, (25, 25, 25))
        d.circle(img, c, r * 0.45, (160, 160, 160))
    d.poly(img, [(c1[0], c1[1] - r * 0.5), (c2[0] - r, c2[1] - r * 0.5), (c2[0] - r * 0.6, c1[1] - r * 2.2), (c1[0] + r * 0.5, c1[1] - r * 1.6)], d.jitter(rng, (200, 80, 30), 30))
    d.rect(img, (c1[0] + r * 0.2, c1[1] - r * 1.2, c1[0] + r * 2.2, c1[1] - r * 0.5), (30, 30, 30))  # battery box
    d.line(img, (c2[0] - r * 0.6, c1[1] - r * 2.2), (c2[0] - r * 0.4, y0 + h * 0.05), (40, 40, 40), 4)
    d.line(img, (c2[0] - r * 0.8, y0 + h * 0.05), (c2[0], y0 + h * 0.05), (40, 40, 40), 5)
    d.line(img, (c1[0] + r * 1.2, c1[1] - r * 0.9), (x0, y0 + h * 0.3), (0, 200, 255), 2)  # charging cable


def flooded_underpass(img, rng, box):
    x0, y0, x1, y1, w, h = _wh(box)
    wy = y0 + h * 0.45
    d.car(img, x0 + w * 0.3, wy + h * 0.15, w * 0.45, rng)
    layer = img.copy()
    d.rect(layer, (x0, wy, x1, y1), d.jitter(rng, (60, 110, 140), 12))
    alpha = np.zeros(img.shape[:2], np.float32)
    alpha[int(wy):int(y1), int(x0):int(x1)] = 0.9
    d.blend(img, layer, alpha, (int(x0), int(wy), int(x1), int(y1)))
    for _ in range(10):
        y = rng.uniform(wy, y1)
        x = rng.uniform(x0, x1 - 30)
        d.line(img, (x, y), (x + w * 0.1, y), (140, 180, 200), 2)
