"""Per-camera zones and lines, in the camera's own pixel coordinates (pure, validated once).

A zone is a named polygon with a kind (``crowd``, ``intrusion``, ``no_parking``, ``lane``,
``no_pedestrian``); a line is a named polyline (``tripwire``, ``lane_line``). An
``intrusion`` zone may carry a local-time window (``"22:00"``–``"06:00"``, may wrap past
midnight); a ``lane`` (zone or line) carries the allowed direction of travel in degrees
(image coordinates: 0 = +x, 90 = +y, i.e. downwards).

>>> z = Zone.from_dict({"name": "pier", "kind": "intrusion", "points_xy": [[0, 0], [100, 0], [100, 80]],
...                     "window": {"start": "22:00", "end": "06:00"}})
>>> z.kind, z.is_polygon, z.window
('intrusion', True, ('22:00', '06:00'))
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

from warehouse.errors import InvalidInputError

__all__ = ["LINE_KINDS", "MAX_POINTS", "ZONE_KINDS", "Zone", "zones_from_json", "zones_to_json"]

ZONE_KINDS = ("crowd", "intrusion", "no_parking", "lane", "no_pedestrian")
LINE_KINDS = ("tripwire", "lane_line")
MAX_POINTS = 64
MAX_COORD = 16384.0  # larger than any camera's pixel grid
_NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9 ._-]{0,63}")
_HHMM_RE = re.compile(r"([01]\d|2[0-3]):[0-5]\d")


def _segments_cross(a, b, c, d) -> bool:
    def orient(p, q, r) -> float:
        return (q[0] - p[0]) * (r[1] - p[1]) - (q[1] - p[1]) * (r[0] - p[0])

    d1, d2, d3, d4 = orient(c, d, a), orient(c, d, b), orient(a, b, c), orient(a, b, d)
    return (d1 * d2 < 0) and (d3 * d4 < 0)


def _area(points) -> float:
    return 0.5 * abs(sum(x0 * y1 - x1 * y0 for (x0, y0), (x1, y1) in zip(points, points[1:] + points[:1])))


@dataclass(frozen=True, slots=True)
class Zone:
    name: str
    kind: str
    points_xy: tuple[tuple[float, float], ...]
    window: tuple[str, str] | None = None  # local "HH:MM" start, end (intrusion zones)
    direction_deg: float | None = None  # allowed travel direction (lanes)
    max_people: int | None = None  # crowd threshold (crowd zones)

    @property
    def is_polygon(self) -> bool:
        return self.kind in ZONE_KINDS

    def __post_init__(self) -> None:
        where = f"zone {self.name!r}"
        if not isinstance(self.name, str) or not _NAME_RE.fullmatch(self.name):
            raise InvalidInputError(f"zones.name {self.name!r} is not valid; use 1-64 letters, digits, spaces, '.', '_' or '-'")
        if self.kind not in ZONE_KINDS + LINE_KINDS:
            raise InvalidInputError(f"{where}: kind {self.kind!r} is not known; use one of {', '.join(ZONE_KINDS + LINE_KINDS)}")
        need = 3 if self.is_polygon else 2
        pts = self.points_xy
        if not (need <= len(pts) <= MAX_POINTS):
            raise InvalidInputError(f"{where}: points_xy has {len(pts)} points; a {self.kind} needs {need} to {MAX_POINTS}")
        for p in pts:
            if len(p) != 2 or not all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) and 0 <= v <= MAX_COORD for v in p):
                raise InvalidInputError(f"{where}: point {list(p)!r} is not [x, y] pixels within 0..{MAX_COORD:.0f}")
        if self.is_polygon:
            if _area(list(pts)) < 1.0:
                raise InvalidInputError(f"{where}: the polygon has no area (points collinear or repeated)")
            edges = list(zip(pts, pts[1:] + pts[:1]))
            for i, (a, b) in enumerate(edges):
                for j in range(i + 2, len(edges)):
                    if i == 0 and j == len(edges) - 1:
                        continue  # neighbours through the closing edge
                    if _segments_cross(a, b, *edges[j]):
                        raise InvalidInputError(f"{where}: the polygon crosses itself (edges {i} and {j}); list its corners in order")
        if self.window is not None:
            if self.kind != "intrusion":
                raise InvalidInputError(f"{where}: only intrusion zones take a time window, not a {self.kind}")
            if len(self.window) != 2 or not all(isinstance(t, str) and _HHMM_RE.fullmatch(t) for t in self.window):
                raise InvalidInputError(f"{where}: window {self.window!r} must be two local times 'HH:MM', e.g. ('22:00', '06:00')")
        if self.kind in ("lane", "lane_line"):
            d = self.direction_deg
            if not isinstance(d, (int, float)) or isinstance(d, bool) or not math.isfinite(d) or not 0 <= d < 360:
                raise InvalidInputError(f"{where}: a {self.kind} needs direction_deg in [0, 360) (0 = +x, 90 = down); got {d!r}")
        elif self.direction_deg is not None:
            raise InvalidInputError(f"{where}: direction_deg applies to lanes only, not a {self.kind}")
        if self.max_people is not None and (self.kind != "crowd" or not isinstance(self.max_people, int) or isinstance(self.max_people, bool) or self.max_people < 1):
            raise InvalidInputError(f"{where}: max_people is a positive int on crowd zones only; got {self.max_people!r}")

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "kind": self.kind, "points_xy": [list(p) for p in self.points_xy]}
        if self.window is not None:
            out["window"] = {"start": self.window[0], "end": self.window[1]}
        if self.direction_deg is not None:
            out["direction_deg"] = self.direction_deg
        if self.max_people is not None:
            out["max_people"] = self.max_people
        return out

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Zone:
        if not isinstance(d, dict):
            raise InvalidInputError(f"a zone is an object with name, kind, points_xy; got {type(d).__name__}")
        unknown = set(d) - {"name", "kind", "points_xy", "window", "direction_deg", "max_people"}
        if unknown:
            raise InvalidInputError(f"zone {d.get('name')!r}: unknown field(s) {sorted(unknown)}")
        w = d.get("window")
        window = None if w is None else ((w.get("start"), w.get("end")) if isinstance(w, dict) else tuple(w))
        pts = d.get("points_xy")
        if not isinstance(pts, (list, tuple)) or not all(isinstance(p, (list, tuple)) for p in pts):
            raise InvalidInputError(f"zone {d.get('name')!r}: points_xy must be a list of [x, y] pairs")
        return cls(name=d.get("name"), kind=d.get("kind"), points_xy=tuple(tuple(p) for p in pts), window=window,
                   direction_deg=d.get("direction_deg"), max_people=d.get("max_people"))


def zones_from_json(items: list[dict[str, Any]] | None) -> tuple[Zone, ...]:
    zones = tuple(Zone.from_dict(z) for z in (items or []))
    names = [z.name for z in zones]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise InvalidInputError(f"zone names must be unique per camera; repeated: {dupes}")
    return zones


def zones_to_json(zones: tuple[Zone, ...]) -> list[dict[str, Any]]:
    return [z.to_dict() for z in zones]
