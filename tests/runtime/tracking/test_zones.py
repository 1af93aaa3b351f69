"""Camera geometry: the operations store's zone JSON, validated once, with clear errors."""
from __future__ import annotations

import pytest

from runtime.tracking import CameraGeometry, GeometryConfigError

SQUARE = [[0, 0], [100, 0], [100, 100], [0, 100]]


@pytest.mark.parametrize(
    ("data", "match"),
    [
        ({"zones": [{"name": "a", "kind": "fence", "points_xy": SQUARE}]}, "kind 'fence' is not a zone kind"),  # unknown kind
        ({"zones": [{"name": "a", "kind": "crowd", "points_xy": [[0, 0], [1, 1]]}]}, "at least 3"),  # too few corners
        ({"zones": [{"name": "a", "kind": "crowd", "points_xy": [[0, 0], [5, 5], [10, 10]]}]}, "an area"),  # collinear
        ({"zones": [{"name": "a", "kind": "crowd", "points_xy": [[0, 0], [1e6, 0], [0, 5]]}]}, "within 0..16384"),
        ({"zones": [{"name": "a", "kind": "lane", "points_xy": SQUARE}]}, "lane needs direction_deg"),
        ({"zones": [{"name": "a", "kind": "lane", "points_xy": SQUARE, "direction_deg": 400}]}, "direction_deg 400"),
        ({"zones": [{"name": "a", "kind": "intrusion", "points_xy": SQUARE, "window": {"start": "25:00", "end": "06:00"}}]},
         "'25:00' is not a clock time"),
        ({"zones": [{"name": "a", "kind": "intrusion", "points_xy": SQUARE, "window": {"start": "10pm", "end": "06:00"}}]},
         "'HH:MM'"),
        ({"zones": [{"name": "a", "kind": "crowd", "points_xy": SQUARE, "max_people": 0}]}, "max_people 0"),
        ({"zones": [{"name": "a", "kind": "crowd", "points_xy": SQUARE}, {"name": "a", "kind": "no_parking", "points_xy": SQUARE}]},
         "'a' is repeated"),
        ({"lines": [{"name": "l", "kind": "tripwire", "points_xy": [[5, 5], [5, 5]]}]}, "same point"),
        ({"zones": [], "areas": []}, "unknown key"),
        ("lawn", "expected a dict"),
    ],
)
def test_invalid_geometry(data, match):
    with pytest.raises(GeometryConfigError, match=match):
        CameraGeometry.from_dict(data)


def test_reads_the_ops_store_flat_list():
    g = CameraGeometry.from_dict([
        {"name": "gate", "kind": "intrusion", "points_xy": SQUARE, "window": {"start": "22:00", "end": "06:00"}},
        {"name": "lane 1", "kind": "lane", "points_xy": SQUARE, "direction_deg": 90},
        {"name": "wire", "kind": "tripwire", "points_xy": [[0, 50], [100, 50]]},
    ])
    assert [z.name for z in g.zones] == ["gate", "lane 1"] and [ln.name for ln in g.lines] == ["wire"]
    gate = g.of_kind("intrusion")[0]
    # the window wraps past midnight
    assert [gate.active_at_minute(m) for m in (21 * 60 + 59, 22 * 60, 3 * 60, 6 * 60)] == [False, True, True, False]
    assert gate.contains_xy(50, 50) and not gate.contains_xy(150, 50)
    assert CameraGeometry.from_dict(None) == CameraGeometry()
