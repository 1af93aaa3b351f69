"""The ``warehouse.plan/1`` plan: which worker runs which camera, at what rates (plain data).

>>> p = PlanResult.from_json({"format": "warehouse.plan/1", "cameras": [{"camera": "c0", "worker": "w0",
...     "fps": 5, "demands": [{"algorithm": "fire", "fps": 5}]}], "jobs": [], "unserved": [], "objective": 1.0})
>>> p.cameras[0].demands[0].algorithm, p.worker_of("c0")
('fire', 'w0')
"""
from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from scheduler.errors import PlanFormatError

PLAN_FORMAT = "warehouse.plan/1"
#: the resource words an unserved reason starts with (what ran out)
REASONS = ("compute", "memory", "node pin", "no worker", "demand")


def _fnum(owner: str, name: str, v: Any) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
        raise PlanFormatError(f"{owner}: {name}={v!r}; expected a finite number")
    return float(v)


def _fstr(owner: str, name: str, v: Any) -> str:
    if not isinstance(v, str) or not v:
        raise PlanFormatError(f"{owner}: {name}={v!r}; expected a non-empty string")
    return v


class LazyRows(Sequence):
    """An immutable sequence of plan records built on first read (a city-sized incremental
    re-plan changes a few rows; most callers read a few or none)."""

    __slots__ = ("_make", "_rows")

    def __init__(self, make: Callable[[], Iterable]) -> None:
        self._make: Callable[[], Iterable] | None = make
        self._rows: tuple | None = None

    def _get(self) -> tuple:
        if self._rows is None:
            self._rows = tuple(self._make())
            self._make = None
        return self._rows

    def __getitem__(self, i):
        return self._get()[i]

    def __len__(self) -> int:
        return len(self._get())

    def __iter__(self) -> Iterator:
        return iter(self._get())

    def __eq__(self, other: object) -> bool:
        if isinstance(other, (LazyRows, tuple)):
            return self._get() == tuple(other)
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return repr(self._get())


@dataclass(frozen=True, slots=True)
class Grant:
    """One granted demand: ``algorithm`` runs at ``fps`` on its camera."""

    algorithm: str
    fps: float

    def __post_init__(self) -> None:
        _fstr("grant", "algorithm", self.algorithm)
        object.__setattr__(self, "fps", _fnum(f"grant {self.algorithm!r}", "fps", self.fps))


@dataclass(frozen=True, slots=True)
class CameraAssignment:
    """A camera on ``worker`` at ``fps`` with its granted demands."""

    camera: str
    worker: str
    fps: float
    demands: tuple[Grant, ...]

    def __post_init__(self) -> None:
        _fstr("camera assignment", "camera", self.camera)
        _fstr(f"camera assignment {self.camera!r}", "worker", self.worker)
        object.__setattr__(self, "fps", _fnum(f"camera assignment {self.camera!r}", "fps", self.fps))
        object.__setattr__(self, "demands", tuple(self.demands))

    def __str__(self) -> str:
        return f"{self.camera}->{self.worker}@{self.fps:g}fps"


@dataclass(frozen=True, slots=True)
class JobPlacement:
    job: str
    worker: str


@dataclass(frozen=True, slots=True)
class Unserved:
    """A demand not granted; ``reason`` starts with what ran out (see ``REASONS``)."""

    camera: str
    algorithm: str
    reason: str


@dataclass(frozen=True, slots=True)
class UnplacedJob:
    job: str
    reason: str


@dataclass(frozen=True, slots=True, eq=False)
class PlanResult:
    """A plan. ``migrations`` counts cameras whose worker changed against the previous plan
    (0 for a plan made from scratch). ``_state`` is the planner's private carry-over for
    incremental re-planning and is not part of the plan's content."""

    cameras: tuple[CameraAssignment, ...]
    jobs: tuple[JobPlacement, ...]
    unserved: tuple[Unserved, ...]
    objective: float
    migrations: int = 0
    unplaced_jobs: tuple[UnplacedJob, ...] = ()
    _state: Any = field(default=None, repr=False, compare=False)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, PlanResult):
            return NotImplemented
        return self.to_json() == other.to_json()

    __hash__ = None  # type: ignore[assignment]

    def worker_of(self, camera: str) -> str | None:
        for a in self.cameras:
            if a.camera == camera:
                return a.worker
        return None

    def by_camera(self) -> dict[str, CameraAssignment]:
        return {a.camera: a for a in self.cameras}

    def to_placements(self, workers: tuple | list | None = None) -> Any:
        """This plan as the runtime's older :class:`scheduler.Plan` (one ``Assignment`` per
        granted demand). ``workers`` are :class:`scheduler.Worker` records (built from the
        instance's workers if omitted, with ``compute_fps`` in backbone frames/s unknown: the
        instance's compute is used as is)."""
        from scheduler.plan import Assignment, CameraPlacement, Plan, Worker

        if workers is None:
            names = sorted({a.worker for a in self.cameras})
            workers = [Worker(n, compute_fps=1e6, memory_mib=1e6) for n in names]
        placements = tuple(
            CameraPlacement(a.camera, a.worker, tuple(Assignment(a.camera, g.algorithm, fps=g.fps) for g in a.demands))
            for a in self.cameras if a.demands)
        return Plan(tuple(workers), placements)

    def to_json(self) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "format": PLAN_FORMAT,
            "cameras": [{"camera": a.camera, "worker": a.worker, "fps": a.fps,
                         "demands": [{"algorithm": g.algorithm, "fps": g.fps} for g in a.demands]}
                        for a in self.cameras],
            "jobs": [{"job": j.job, "worker": j.worker} for j in self.jobs],
            "unserved": [{"camera": u.camera, "algorithm": u.algorithm, "reason": u.reason} for u in self.unserved],
            "objective": self.objective,
            "migrations": self.migrations,
        }
        if self.unplaced_jobs:
            doc["unplaced_jobs"] = [{"job": j.job, "reason": j.reason} for j in self.unplaced_jobs]
        return doc

    @classmethod
    def from_json(cls, doc: Mapping[str, Any]) -> PlanResult:
        if not isinstance(doc, Mapping):
            raise PlanFormatError(f"plan: expected a JSON object, got {type(doc).__name__}")
        if doc.get("format") != PLAN_FORMAT:
            raise PlanFormatError(f"plan: format={doc.get('format')!r}; expected {PLAN_FORMAT!r}")
        extra = sorted(set(doc) - {"format", "cameras", "jobs", "unserved", "objective", "migrations",
                                   "unplaced_jobs", "note"})
        if extra:
            raise PlanFormatError(f"plan: unknown field(s) {extra}; see docs/scheduler.md")
        try:
            cams = tuple(CameraAssignment(c["camera"], c["worker"], c["fps"],
                                          tuple(Grant(g["algorithm"], g["fps"]) for g in c.get("demands", [])))
                         for c in doc.get("cameras", []))
            jobs = tuple(JobPlacement(_fstr("job placement", "job", j["job"]),
                                      _fstr("job placement", "worker", j["worker"])) for j in doc.get("jobs", []))
            unserved = tuple(Unserved(_fstr("unserved", "camera", u["camera"]),
                                      _fstr("unserved", "algorithm", u["algorithm"]), str(u.get("reason", "")))
                             for u in doc.get("unserved", []))
            unplaced = tuple(UnplacedJob(_fstr("unplaced job", "job", j["job"]), str(j.get("reason", "")))
                             for j in doc.get("unplaced_jobs", []))
        except (KeyError, TypeError, AttributeError) as exc:
            raise PlanFormatError(f"plan: malformed record ({type(exc).__name__}: {exc}); "
                                  f"see the warehouse.plan/1 format in docs/scheduler.md") from None
        migrations = doc.get("migrations", 0)
        if isinstance(migrations, bool) or not isinstance(migrations, int) or migrations < 0:
            raise PlanFormatError(f"plan: migrations={migrations!r}; expected an integer >= 0")
        return cls(cams, jobs, unserved, _fnum("plan", "objective", doc.get("objective", 0.0)), migrations, unplaced)
