"""Reading the instance JSON of a city again and again (a control loop re-plans on every change).

:meth:`InstanceReader.read` returns what :meth:`Instance.from_json` returns for the same
document (equal, with the same errors), but a demand or camera whose JSON record is the same
as at the reader's last read keeps its record object: nothing is validated again, and
:func:`scheduler.rebase` then finds the unchanged records identical. Backbone, workers,
algorithms and jobs (a few hundred records) are read as usual.

>>> from scheduler.families import tiny
>>> reader, doc = InstanceReader(), tiny().to_json()
>>> first = reader.read(doc)
>>> first == Instance.from_json(doc), reader.read(doc).cameras[0] is first.cameras[0]
(True, True)
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from scheduler.errors import InstanceError
from scheduler.instance import CameraSpec, Demand, Instance, _rec

_DEMAND_KEYS = {"camera", "algorithm", "priority", "fps", "min_fps"}


class InstanceReader:
    """``Instance.from_json`` that re-uses the demand and camera records of its last read (one
    reader per stream of documents; not thread-safe)."""

    def __init__(self) -> None:
        self._demands: dict[tuple, tuple[tuple, Demand]] = {}
        self._cameras: dict[Any, tuple[tuple, CameraSpec]] = {}
        self.reused = 0  # records re-used by the last read (demands + cameras)

    def read(self, doc: Mapping[str, Any]) -> Instance:
        if not isinstance(doc, Mapping) or not isinstance(doc.get("cameras"), list) or not isinstance(doc.get("demands", []), list):
            return Instance.from_json(doc)  # refused there, with its message
        rest = Instance.from_json({**doc, "cameras": [], "demands": []})  # format, keys, backbone, workers, algorithms, jobs
        old_d, old_c = self._demands, self._cameras
        new_d: dict[tuple, tuple[tuple, Demand]] = {}
        new_c: dict[Any, tuple[tuple, CameraSpec]] = {}
        reused = 0
        by_camera: dict[str, list[Demand]] = {}
        for d in doc.get("demands", []):
            if type(d) is not dict and not isinstance(d, Mapping):
                return Instance.from_json(doc)
            get = d.get
            key = (get("camera"), get("algorithm"))
            # a cached key came from a valid record, so a hit has camera and algorithm; equal non-None
            # values and five keys in all mean exactly the five known keys, unchanged
            sig = (get("priority"), get("fps"), get("min_fps"), len(d))
            hit = old_d.get(key)
            if hit is not None and hit[0] == sig:
                rec = hit[1]
                reused += 1
            else:
                rec = Demand(**_rec("demand", d, _DEMAND_KEYS, set()))
            new_d[key] = (sig, rec)
            mine = by_camera.get(rec.camera)
            if mine is None:
                by_camera[rec.camera] = [rec]
            else:
                mine.append(rec)
        cams = []
        for c in doc["cameras"]:
            if type(c) is not dict and not isinstance(c, Mapping):
                return Instance.from_json(doc)
            cid = c.get("id")
            mine = tuple(by_camera.pop(cid, ())) if isinstance(cid, str) else ()
            sig = (tuple(c), c.get("decode_ms"), c.get("backbone_ms"), c.get("node"), c.get("cost_source"))
            hit = old_c.get(cid) if isinstance(cid, str) else None
            if hit is not None and hit[0] == sig and len(hit[1].demands) == len(mine) and all(
                    a is b for a, b in zip(hit[1].demands, mine)):
                rec, reused = hit[1], reused + 1
            else:
                rec = CameraSpec(demands=mine, **_rec("camera", c, {"id", "decode_ms", "backbone_ms"}, {"node", "cost_source"}))
            new_c[cid] = (sig, rec)
            cams.append(rec)
        if by_camera:
            cam = next(iter(by_camera))
            raise InstanceError(f"demand {cam}/{by_camera[cam][0].algorithm}: camera {cam!r} is not in 'cameras'; "
                                f"add the camera or drop its demands")
        inst = Instance(rest.backbone, rest.workers, tuple(cams), rest.algorithms, rest.jobs, rest.declared_defaults)
        self._demands, self._cameras, self.reused = new_d, new_c, reused
        return inst
