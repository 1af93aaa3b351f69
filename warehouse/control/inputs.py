"""The stores' records read into the control loop's plain inputs (pure).

A camera record's zones (``CameraRecord.zones``: :class:`warehouse.ops.Zone` s, or a mapping
from an older record) become the mapping the worker's detector stage reads, and their kinds
the graph's ``zones`` hint (the track algorithms they ask for); a catalog version becomes the
:class:`~warehouse.control.desired.VersionRef` the desired state carries.
"""
from __future__ import annotations

from typing import Any, Mapping

from warehouse.control.desired import VersionRef, finite_or

__all__ = ["version_ref", "zone_kinds", "zones_of"]


def zones_of(rec) -> Mapping[str, Any]:
    """``{"items": [zone dicts]}`` for a record's zones (a mapping is passed through)."""
    zones = getattr(rec, "zones", None) or {}
    if not isinstance(zones, Mapping):
        zones = {"items": [z.to_dict() if hasattr(z, "to_dict") else z for z in zones]}
    return zones


def zone_kinds(rec) -> list[str]:
    """The sorted kinds of the zones and lines drawn on a camera (``no_parking``, ``lane`` ...)."""
    zs = zones_of(rec)
    return sorted({z.get("kind") for z in [*zs.get("items", ()), *zs.get("zones", ()), *zs.get("lines", ())]
                   if isinstance(z, Mapping) and z.get("kind")})


def version_ref(v) -> VersionRef:
    """A catalog version as the desired state's reference: number, artifact, threshold, measured costs."""
    cp = v.cost_profile
    return VersionRef(v.number, v.artifact_sha256, finite_or(v.metrics.get("threshold"), 0.5) if "threshold" in v.metrics else None,
                      cp.latency_ms_per_frame if cp else None, cp.memory_mib if cp else None)
