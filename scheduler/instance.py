"""The ``warehouse.schedule/1`` instance: what there is to place and where (plain data).

Records are frozen, slotted and validated when built: a bad value raises
:class:`~scheduler.errors.InstanceError` (also a ``ValueError``) naming the record, the
field, the value received and the fix. A camera carries its own demands (the JSON keeps
them in one flat ``demands`` list, grouped here so that one camera's change is one record).

>>> inst = Instance.from_json({"format": "warehouse.schedule/1", "backbone": {"memory_mib": 64},
...     "workers": [{"id": "w0", "node": "n0", "compute_ms_per_s": 1000, "memory_mib": 512}],
...     "cameras": [{"id": "c0", "decode_ms": 2, "backbone_ms": 8, "node": None}],
...     "algorithms": [{"id": "fire", "head_ms": 1, "memory_mib": 4}],
...     "demands": [{"camera": "c0", "algorithm": "fire", "priority": 1, "fps": 5, "min_fps": 1}],
...     "jobs": []})
>>> inst.camera("c0").demands[0].algorithm, len(inst.demands)
('fire', 1)
>>> Instance.from_json(inst.to_json()) == inst
True
"""
from __future__ import annotations

import math
import weakref
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from scheduler._diff import changes as _changes
from scheduler.errors import InstanceError

INSTANCE_FORMAT = "warehouse.schedule/1"
COST_SOURCES = ("measured", "profile", "default")


def _num(owner: str, name: str, value: Any, *, positive: bool = False, allow_zero: bool = True) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise InstanceError(f"{owner}: {name}={value!r}; expected a finite number, e.g. {name}=1.0")
    if positive and (value < 0 or (value == 0 and not allow_zero)):
        bound = "> 0" if not allow_zero else ">= 0"
        raise InstanceError(f"{owner}: {name}={value!r}; expected {bound} (fix the {name} of this record)")
    return float(value)


def _ident(owner: str, name: str, value: Any) -> str:
    if not isinstance(value, str) or not value or len(value) > 200:
        raise InstanceError(f"{owner}: {name}={value!r}; expected a non-empty string of at most 200 characters")
    return value


def _source(owner: str, value: Any) -> str:
    if value not in COST_SOURCES:
        raise InstanceError(f"{owner}: cost_source={value!r}; expected one of {list(COST_SOURCES)}")
    return value


@dataclass(frozen=True, slots=True)
class Backbone:
    """The shared backbone: ``memory_mib`` once per worker that hosts any camera."""

    memory_mib: float
    cost_source: str = "measured"

    def __post_init__(self) -> None:
        object.__setattr__(self, "memory_mib", _num("backbone", "memory_mib", self.memory_mib, positive=True))
        _source("backbone", self.cost_source)


@dataclass(frozen=True, slots=True)
class WorkerSpec:
    """A place to run work: ``compute_ms_per_s`` reference-device milliseconds per second
    (a GPU worker counts many), ``memory_mib`` for the backbone, heads and jobs."""

    id: str
    node: str
    compute_ms_per_s: float
    memory_mib: float

    def __post_init__(self) -> None:
        _ident("worker", "id", self.id)
        owner = f"worker {self.id!r}"
        _ident(owner, "node", self.node)
        for name in ("compute_ms_per_s", "memory_mib"):
            object.__setattr__(self, name, _num(owner, name, getattr(self, name), positive=True, allow_zero=False))

    def __str__(self) -> str:
        return f"worker {self.id}@{self.node}"


@dataclass(frozen=True, slots=True)
class Demand:
    """Run ``algorithm`` on ``camera`` at up to ``fps`` (never below ``min_fps``) for a value
    of ``priority`` × granted fps / ``fps``."""

    camera: str
    algorithm: str
    priority: float
    fps: float
    min_fps: float

    def __post_init__(self) -> None:
        _ident("demand", "camera", self.camera)
        _ident(f"demand {self.camera!r}", "algorithm", self.algorithm)
        owner = f"demand {self.camera}/{self.algorithm}"
        for name in ("priority", "fps", "min_fps"):
            object.__setattr__(self, name, _num(owner, name, getattr(self, name), positive=True, allow_zero=False))
        if self.min_fps > self.fps:
            raise InstanceError(f"{owner}: min_fps={self.min_fps!r} > fps={self.fps!r}; expected 0 < min_fps <= fps "
                                f"(lower min_fps or raise fps)")

    def __str__(self) -> str:
        return f"{self.camera}/{self.algorithm}@{self.fps:g}fps"


@dataclass(frozen=True, slots=True)
class CameraSpec:
    """A camera: ``decode_ms + backbone_ms`` per frame (paid once, shared by its algorithms),
    pinned to ``node`` when set, with its ``demands``."""

    id: str
    decode_ms: float
    backbone_ms: float
    node: str | None = None
    demands: tuple[Demand, ...] = ()
    cost_source: str = "measured"

    def __post_init__(self) -> None:
        _ident("camera", "id", self.id)
        owner = f"camera {self.id!r}"
        for name in ("decode_ms", "backbone_ms"):
            object.__setattr__(self, name, _num(owner, name, getattr(self, name), positive=True))
        if self.node is not None:
            _ident(owner, "node", self.node)
        _source(owner, self.cost_source)
        demands = tuple(self.demands)
        seen: set[str] = set()
        for d in demands:
            if not isinstance(d, Demand) or d.camera != self.id:
                raise InstanceError(f"{owner}: demand {d!r} belongs to another camera; list it under its own camera")
            if d.algorithm in seen:
                raise InstanceError(f"{owner}: algorithm {d.algorithm!r} is demanded twice; merge the two demands")
            seen.add(d.algorithm)
        object.__setattr__(self, "demands", demands)

    @property
    def frame_ms(self) -> float:
        """Cost of one frame before any head: decode plus the shared backbone pass."""
        return self.decode_ms + self.backbone_ms


@dataclass(frozen=True, slots=True)
class AlgorithmSpec:
    """An algorithm's head: ``head_ms`` per frame, ``memory_mib`` once per worker that runs it."""

    id: str
    head_ms: float
    memory_mib: float
    cost_source: str = "measured"

    def __post_init__(self) -> None:
        _ident("algorithm", "id", self.id)
        owner = f"algorithm {self.id!r}"
        for name in ("head_ms", "memory_mib"):
            object.__setattr__(self, name, _num(owner, name, getattr(self, name), positive=True))
        _source(owner, self.cost_source)


@dataclass(frozen=True, slots=True)
class JobSpec:
    """A job that shares the pool (retraining): it must be placed, whole, on one worker."""

    id: str
    compute_ms_per_s: float
    memory_mib: float
    cost_source: str = "measured"

    def __post_init__(self) -> None:
        _ident("job", "id", self.id)
        owner = f"job {self.id!r}"
        for name in ("compute_ms_per_s", "memory_mib"):
            object.__setattr__(self, name, _num(owner, name, getattr(self, name), positive=True))
        _source(owner, self.cost_source)


def _unique(kind: str, ids: Iterable[str]) -> None:
    seen: set[str] = set()
    for i in ids:
        if i in seen:
            raise InstanceError(f"duplicate {kind} id {i!r}; each {kind} must appear once (rename or merge them)")
        seen.add(i)


@dataclass(frozen=True, slots=True, eq=False, weakref_slot=True)
class Instance:
    """A whole scheduling problem. Ids are unique per kind; every demand names a known
    camera (it is stored on it) and a known algorithm."""

    backbone: Backbone
    workers: tuple[WorkerSpec, ...]
    cameras: tuple[CameraSpec, ...]
    algorithms: tuple[AlgorithmSpec, ...]
    jobs: tuple[JobSpec, ...] = ()
    #: costs the instance's builder says are defaults (the JSON's optional ``defaults``
    #: list, e.g. ``"algorithm fire"`` or ``"decode_ms"``), besides records'``cost_source``
    declared_defaults: tuple[str, ...] = ()
    _index: dict = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        for name in ("workers", "cameras", "algorithms", "jobs", "declared_defaults"):
            object.__setattr__(self, name, tuple(getattr(self, name)))
        for note in self.declared_defaults:
            if not isinstance(note, str) or not note:
                raise InstanceError(f"instance: defaults entry {note!r}; expected a non-empty string such as "
                                    f"'algorithm fire' or 'decode_ms'")
        _unique("worker", (w.id for w in self.workers))
        _unique("camera", (c.id for c in self.cameras))
        _unique("algorithm", (a.id for a in self.algorithms))
        _unique("job", (j.id for j in self.jobs))
        algs = {a.id: a for a in self.algorithms}
        for c in self.cameras:
            for d in c.demands:
                if d.algorithm not in algs:
                    raise InstanceError(f"demand {d.camera}/{d.algorithm}: algorithm {d.algorithm!r} is not in "
                                        f"'algorithms'; add {{\"id\": {d.algorithm!r}, \"head_ms\": ..., "
                                        f"\"memory_mib\": ...}} or drop the demand")
        self._index.update(algorithms=algs)

    # equality by content (the private index is a cache)
    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Instance):
            return NotImplemented
        return (self.backbone, self.workers, self.cameras, self.algorithms, self.jobs, self.declared_defaults) == (
            other.backbone, other.workers, other.cameras, other.algorithms, other.jobs, other.declared_defaults)

    __hash__ = None  # type: ignore[assignment]

    def _lookup(self, kind: str) -> dict:
        if kind not in self._index:
            self._index[kind] = {r.id: r for r in getattr(self, kind)}
        return self._index[kind]

    def camera(self, camera_id: str) -> CameraSpec:
        return self._get("cameras", "camera", camera_id)

    def algorithm(self, algorithm_id: str) -> AlgorithmSpec:
        return self._get("algorithms", "algorithm", algorithm_id)

    def worker(self, worker_id: str) -> WorkerSpec:
        return self._get("workers", "worker", worker_id)

    def job(self, job_id: str) -> JobSpec:
        return self._get("jobs", "job", job_id)

    def _get(self, kind: str, noun: str, key: str):
        table = self._lookup(kind)
        try:
            return table[key]
        except KeyError:
            some = sorted(r.id for r in getattr(self, kind))[:5]
            raise InstanceError(f"{noun} {key!r} is not in this instance (known, first 5: {some})") from None

    @property
    def demands(self) -> tuple[Demand, ...]:
        """Every demand, camera by camera (the JSON's flat list)."""
        return tuple(d for c in self.cameras for d in c.demands)

    @property
    def defaults(self) -> tuple[str, ...]:
        """Records whose costs are defaults (nothing was measured for them), as 'kind id'."""
        out = ["backbone"] if self.backbone.cost_source == "default" else []
        out += [f"camera {c.id}" for c in self.cameras if c.cost_source == "default"]
        out += [f"algorithm {a.id}" for a in self.algorithms if a.cost_source == "default"]
        out += [f"job {j.id}" for j in self.jobs if j.cost_source == "default"]
        out += [n for n in self.declared_defaults if n not in out]
        return tuple(out)

    def replace(self, **changes: Any) -> Instance:
        """A copy with some top-level fields replaced. Only what the change can break is
        re-validated (one camera's change stays cheap on a city-sized instance), and the new
        instance remembers its :class:`Delta` from this one, which lets the planner re-plan
        incrementally without comparing whole instances."""
        fields = {"backbone": self.backbone, "workers": self.workers, "cameras": self.cameras,
                  "algorithms": self.algorithms, "jobs": self.jobs, "declared_defaults": self.declared_defaults}
        unknown = set(changes) - set(fields)
        if unknown:
            raise InstanceError(f"replace(): unknown fields {sorted(unknown)}; expected some of {sorted(fields)}")
        fields.update(changes)
        return _derived(self, fields, set(changes))

    # ---- JSON -------------------------------------------------------------------------
    @classmethod
    def from_json(cls, doc: Mapping[str, Any]) -> Instance:
        """Build from the documented JSON (a dict); unknown keys are refused by name."""
        if not isinstance(doc, Mapping):
            raise InstanceError(f"instance: expected a JSON object, got {type(doc).__name__}")
        if doc.get("format") != INSTANCE_FORMAT:
            raise InstanceError(f"instance: format={doc.get('format')!r}; expected {INSTANCE_FORMAT!r}")
        allowed = {"format", "backbone", "workers", "cameras", "algorithms", "demands", "jobs", "defaults", "note"}
        _keys("instance", doc, allowed, {"format", "backbone", "workers", "cameras", "algorithms"})
        bb = doc["backbone"]
        _keys("backbone", bb, {"memory_mib", "cost_source"}, {"memory_mib"})
        backbone = Backbone(bb["memory_mib"], bb.get("cost_source", "measured"))
        workers = [WorkerSpec(**_rec("worker", w, {"id", "node", "compute_ms_per_s", "memory_mib"}, set()))
                   for w in _list(doc, "workers")]
        algorithms = [AlgorithmSpec(**_rec("algorithm", a, {"id", "head_ms", "memory_mib"}, {"cost_source"}))
                      for a in _list(doc, "algorithms")]
        jobs = [JobSpec(**_rec("job", j, {"id", "compute_ms_per_s", "memory_mib"}, {"cost_source"}))
                for j in _list(doc, "jobs")]
        by_camera: dict[str, list[Demand]] = {}
        for d in _list(doc, "demands"):
            rec = _rec("demand", d, {"camera", "algorithm", "priority", "fps", "min_fps"}, set())
            by_camera.setdefault(rec["camera"] if isinstance(rec["camera"], str) else "", []).append(Demand(**rec))
        cameras = []
        for c in _list(doc, "cameras"):
            rec = _rec("camera", c, {"id", "decode_ms", "backbone_ms"}, {"node", "cost_source"})
            cameras.append(CameraSpec(demands=tuple(by_camera.pop(rec["id"], ()) if isinstance(rec["id"], str)
                                                    else ()), **rec))
        if by_camera:
            cam = next(iter(by_camera))
            raise InstanceError(f"demand {cam}/{by_camera[cam][0].algorithm}: camera {cam!r} is not in 'cameras'; "
                                f"add the camera or drop its demands")
        notes = doc.get("defaults", [])
        if not isinstance(notes, list):
            raise InstanceError(f"instance: defaults={notes!r}; expected a JSON list of strings")
        return cls(backbone, tuple(workers), tuple(cameras), tuple(algorithms), tuple(jobs), tuple(notes))

    def to_json(self) -> dict[str, Any]:
        doc = self._to_json()
        if self.declared_defaults:
            doc["defaults"] = list(self.declared_defaults)
        return doc

    def _to_json(self) -> dict[str, Any]:
        def src(r: Any, d: dict) -> dict:
            if r.cost_source != "measured":
                d["cost_source"] = r.cost_source
            return d

        return {
            "format": INSTANCE_FORMAT,
            "backbone": src(self.backbone, {"memory_mib": self.backbone.memory_mib}),
            "workers": [{"id": w.id, "node": w.node, "compute_ms_per_s": w.compute_ms_per_s,
                         "memory_mib": w.memory_mib} for w in self.workers],
            "cameras": [src(c, {"id": c.id, "decode_ms": c.decode_ms, "backbone_ms": c.backbone_ms, "node": c.node})
                        for c in self.cameras],
            "algorithms": [src(a, {"id": a.id, "head_ms": a.head_ms, "memory_mib": a.memory_mib})
                           for a in self.algorithms],
            "demands": [{"camera": d.camera, "algorithm": d.algorithm, "priority": d.priority, "fps": d.fps,
                         "min_fps": d.min_fps} for d in self.demands],
            "jobs": [src(j, {"id": j.id, "compute_ms_per_s": j.compute_ms_per_s, "memory_mib": j.memory_mib})
                     for j in self.jobs],
        }


@dataclass(frozen=True, slots=True)
class Delta:
    """What changed from ``base`` to an instance made by ``base.replace(...)``: ids of
    records set (added or changed) and removed, per kind. ``base`` is a weak reference
    (call it): a chain of changes does not keep every past instance alive."""

    base: Any
    cameras_set: tuple[str, ...] = ()
    cameras_removed: tuple[str, ...] = ()
    workers_set: tuple[str, ...] = ()
    workers_removed: tuple[str, ...] = ()
    algorithms_set: tuple[str, ...] = ()
    algorithms_removed: tuple[str, ...] = ()
    jobs_set: tuple[str, ...] = ()
    jobs_removed: tuple[str, ...] = ()
    backbone_changed: bool = False


def _derived(base: Instance, fields: dict, changed: set[str]) -> Instance:
    """``base`` with ``fields`` (those in ``changed`` new), validating only what changed."""
    inst = object.__new__(Instance)
    for name in ("workers", "cameras", "algorithms", "jobs", "declared_defaults"):
        object.__setattr__(inst, name, tuple(fields[name]))
    if not isinstance(fields["backbone"], Backbone):
        raise InstanceError(f"replace(): backbone={fields['backbone']!r}; expected a Backbone record")
    object.__setattr__(inst, "backbone", fields["backbone"])
    index: dict = {}
    sets: dict[str, tuple] = {}
    for kind, noun, cls in (("workers", "worker", WorkerSpec), ("algorithms", "algorithm", AlgorithmSpec),
                            ("jobs", "job", JobSpec), ("cameras", "camera", CameraSpec)):
        if kind not in changed:
            continue
        index[kind], *diff = _changes(noun, cls, getattr(base, kind), base._lookup(kind), getattr(inst, kind))
        sets[kind] = tuple(diff)
    algs = index.get("algorithms", base._index["algorithms"])
    index["algorithms"] = algs
    cams = index["cameras"] if "cameras" in index else base._lookup("cameras")
    index["cameras"] = cams
    if sets.get("algorithms", ((), ()))[1]:  # an algorithm left: no camera may still demand it
        check_cams = inst.cameras
    else:
        check_cams = [cams[k] for k in sets.get("cameras", ((), ()))[0]]
    for c in check_cams:
        for d in c.demands:
            if d.algorithm not in algs:
                raise InstanceError(f"demand {d.camera}/{d.algorithm}: algorithm {d.algorithm!r} is not in "
                                    f"'algorithms'; add it or drop the demand")
    for note in inst.declared_defaults:
        if not isinstance(note, str) or not note:
            raise InstanceError(f"instance: defaults entry {note!r}; expected a non-empty string")
    empty = ((), ())
    index["delta"] = Delta(weakref.ref(base), *sets.get("cameras", empty), *sets.get("workers", empty),
                           *sets.get("algorithms", empty), *sets.get("jobs", empty),
                           inst.backbone != base.backbone)
    object.__setattr__(inst, "_index", index)
    return inst


def _keys(owner: str, doc: Any, allowed: set[str], required: set[str]) -> None:
    if not isinstance(doc, Mapping):
        raise InstanceError(f"{owner}: expected a JSON object, got {doc!r}")
    missing = sorted(required - set(doc))
    if missing:
        raise InstanceError(f"{owner}: missing field(s) {missing}; add them (see docs/scheduler.md)")
    extra = sorted(set(doc) - allowed)
    if extra:
        raise InstanceError(f"{owner}: unknown field(s) {extra}; expected only {sorted(allowed)}")


def _rec(kind: str, doc: Any, required: set[str], optional: set[str]) -> dict:
    owner = f"{kind} {doc.get('id', doc.get('camera', ''))!r}" if isinstance(doc, Mapping) else kind
    _keys(owner, doc, required | optional, required)
    return dict(doc)


def _list(doc: Mapping[str, Any], name: str) -> list:
    value = doc.get(name, [])
    if not isinstance(value, list):
        raise InstanceError(f"instance: {name}={type(value).__name__}; expected a JSON list")
    return value
