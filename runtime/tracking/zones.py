"""Per-camera zones and lines, in the camera's own pixel coordinates (frozen, validated once).

The JSON form is the operations store's (``warehouse/ops/zones.py``: a list of
``{name, kind, points_xy, window?, direction_deg?, max_people?}``); the runtime reads it with
:meth:`CameraGeometry.from_dict` and never imports the application layer. Zone kinds:
``crowd`` (people count, crowd gathering), ``intrusion`` (with an optional local-time window,
may wrap past midnight), ``no_parking``, ``lane`` (allowed direction of travel in degrees,
image coordinates: 0 = +x, 90 = down), ``no_pedestrian``; line kinds ``tripwire`` and
``lane_line`` (a lane line's ``direction_deg`` is the allowed crossing direction).

>>> g = CameraGeometry.from_dict({"zones": [{"name": "lawn", "kind": "intrusion",
...     "points_xy": [[0, 300], [400, 300], [400, 576], [0, 576]], "window": {"start": "22:00", "end": "06:00"}}]})
>>> g.zones[0].contains_xy(100, 400), g.zones[0].active_at_minute(23 * 60), g.zones[0].active_at_minute(12 * 60)
(True, True, False)
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

ZONE_KINDS = ("crowd", "intrusion", "no_parking", "lane", "no_pedestrian")
LINE_KINDS = ("tripwire", "lane_line")
MAX_COORD = 16384.0


class GeometryConfigError(ValueError):
    """A zone or line the runtime cannot use; the message names the field, the value and the fix."""


def _hhmm(value: Any, where: str) -> int:
    if not isinstance(value, str) or len(value) != 5 or value[2] != ":" or not (value[:2] + value[3:]).isdigit():
        raise GeometryConfigError(f"{where}: time {value!r} must be local 'HH:MM', e.g. '22:00'")
    h, m = int(value[:2]), int(value[3:])
    if h > 23 or m > 59:
        raise GeometryConfigError(f"{where}: time {value!r} is not a clock time (00:00-23:59)")
    return h * 60 + m


def _points(raw: Any, where: str, need: int) -> tuple[tuple[float, float], ...]:
    if not isinstance(raw, (list, tuple)) or len(raw) < need:
        raise GeometryConfigError(f"{where}: points_xy must be a list of at least {need} [x, y] pairs; got {raw!r}")
    out = []
    for p in raw:
        if (not isinstance(p, (list, tuple)) or len(p) != 2
                or not all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) and 0 <= v <= MAX_COORD for v in p)):
            raise GeometryConfigError(f"{where}: point {p!r} is not [x, y] pixels within 0..{MAX_COORD:.0f}")
        out.append((float(p[0]), float(p[1])))
    return tuple(out)


@dataclass(frozen=True, slots=True)
class Zone:
    name: str
    kind: str
    points_xy: tuple[tuple[float, float], ...]
    window_min: tuple[int, int] | None = None  # local minutes of day [start, end), may wrap
    direction_deg: float | None = None
    max_people: int | None = None

    def __post_init__(self) -> None:
        where = f"zone {self.name!r}"
        if self.kind not in ZONE_KINDS:
            raise GeometryConfigError(f"{where}: kind {self.kind!r} is not a zone kind; use one of {', '.join(ZONE_KINDS)}")
        x = np.array([p[0] for p in self.points_xy])
        y = np.array([p[1] for p in self.points_xy])
        if len(x) < 3 or 0.5 * abs(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1))) < 1.0:
            raise GeometryConfigError(f"{where}: the polygon needs 3+ corners and an area (points collinear or repeated)")
        if self.kind == "lane" and self.direction_deg is None:
            raise GeometryConfigError(f"{where}: a lane needs direction_deg in [0, 360) (0 = +x, 90 = down)")

    def contains_xy(self, x: float, y: float) -> bool:
        """Point in polygon (even-odd rule); points on an edge may fall either way."""
        inside = False
        pts = self.points_xy
        for (x0, y0), (x1, y1) in zip(pts, pts[1:] + pts[:1]):
            if (y0 > y) != (y1 > y) and x < x0 + (y - y0) * (x1 - x0) / (y1 - y0):
                inside = not inside
        return inside

    def polygon_int(self) -> np.ndarray:
        """Corners as an ``int`` array (supervision's ``PolygonZone`` takes integer pixels)."""
        return np.round(np.asarray(self.points_xy)).astype(np.int64)

    def active_at_minute(self, minute_of_day: int) -> bool:
        """Whether a time window (if any) covers this local minute; no window = always."""
        if self.window_min is None:
            return True
        start, end = self.window_min
        return start <= minute_of_day < end if start <= end else (minute_of_day >= start or minute_of_day < end)


@dataclass(frozen=True, slots=True)
class Line:
    name: str
    kind: str
    start_xy: tuple[float, float]
    end_xy: tuple[float, float]
    direction_deg: float | None = None  # lane_line: the allowed crossing direction

    def __post_init__(self) -> None:
        if self.kind not in LINE_KINDS:
            raise GeometryConfigError(f"line {self.name!r}: kind {self.kind!r} is not a line kind; use one of {', '.join(LINE_KINDS)}")
        if math.dist(self.start_xy, self.end_xy) < 1.0:
            raise GeometryConfigError(f"line {self.name!r}: start and end are the same point")


@dataclass(frozen=True, slots=True)
class CameraGeometry:
    """All zones and lines of one camera."""

    zones: tuple[Zone, ...] = ()
    lines: tuple[Line, ...] = ()

    def of_kind(self, kind: str) -> tuple[Zone, ...]:
        return tuple(z for z in self.zones if z.kind == kind)

    @classmethod
    def from_dict(cls, data: dict | list | None) -> "CameraGeometry":
        """From ``{"zones": [...], "lines": [...]}`` or the operations store's flat list (lines are
        the entries whose kind is a line kind)."""
        if data is None:
            return cls()
        if isinstance(data, dict):
            unknown = set(data) - {"zones", "lines"}
            if unknown:
                raise GeometryConfigError(f"camera geometry: unknown key(s) {sorted(unknown)}; expected 'zones' and 'lines'")
            items = list(data.get("zones") or []) + list(data.get("lines") or [])
        elif isinstance(data, (list, tuple)):
            items = list(data)
        else:
            raise GeometryConfigError(f"camera geometry is {type(data).__name__}; expected a dict with zones/lines or a list")
        zones, lines, names = [], [], set()
        for item in items:
            if not isinstance(item, dict):
                raise GeometryConfigError(f"a zone or line is an object with name, kind, points_xy; got {item!r}")
            name, kind = item.get("name"), item.get("kind")
            if not isinstance(name, str) or not name:
                raise GeometryConfigError(f"zone/line name {name!r} must be a non-empty string")
            if name in names:
                raise GeometryConfigError(f"zone/line names must be unique per camera; {name!r} is repeated")
            names.add(name)
            where = f"{kind} {name!r}"
            d = item.get("direction_deg")
            if d is not None and (isinstance(d, bool) or not isinstance(d, (int, float)) or not 0 <= d < 360):
                raise GeometryConfigError(f"{where}: direction_deg {d!r} must be in [0, 360)")
            if kind in LINE_KINDS:
                pts = _points(item.get("points_xy"), where, 2)
                lines.append(Line(name, kind, pts[0], pts[-1], None if d is None else float(d)))
                continue
            w = item.get("window")
            window = None
            if w is not None:
                start, end = (w.get("start"), w.get("end")) if isinstance(w, dict) else tuple(w)
                window = (_hhmm(start, where), _hhmm(end, where))
            mp = item.get("max_people")
            if mp is not None and (isinstance(mp, bool) or not isinstance(mp, int) or mp < 1):
                raise GeometryConfigError(f"{where}: max_people {mp!r} must be a positive integer")
            zones.append(Zone(name, kind, _points(item.get("points_xy"), where, 3), window, None if d is None else float(d), mp))
        return cls(tuple(zones), tuple(lines))
