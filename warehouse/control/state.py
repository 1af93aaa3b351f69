"""The control plane's plain data: desired state, actual state, and the actions between them.

*Desired* is what the city should run: each worker (one per Ray node the plan uses) and each
camera (its worker, stream, frame rate and :class:`runtime.CameraWork`: heads at versions,
detectors at rates). *Actual* is what the cluster reports: each worker actor's liveness and
the camera revisions it runs, each stream reader's liveness and health. The reconcile step
(:func:`warehouse.control.reconcile.reconcile`) turns the difference into :data:`Action` s.

Everything here is frozen and slotted; ids print well in logs (``str(action)``).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping, Union

from runtime.work import CameraWork


@dataclass(frozen=True, slots=True)
class WorkerSpec:
    """A worker the plan uses: an inference actor pinned to ``node_id`` with its resources."""

    worker_id: str
    node_id: str
    num_cpus: float = 1.0
    num_gpus: float = 0.0
    memory_budget_mib: float = 2048.0

    def __str__(self) -> str:
        return f"worker {self.worker_id}@{self.node_id[:12]}"


@dataclass(frozen=True, slots=True)
class CameraSpec:
    """Where and how a camera runs: its stream read at ``fps`` on ``worker_id``, scoring ``work``."""

    camera_id: str
    worker_id: str
    stream_url: str
    fps: float
    work: CameraWork

    def __str__(self) -> str:
        return f"camera {self.camera_id}->{self.worker_id}@{self.fps:g}fps rev={self.work.revision}"


@dataclass(frozen=True, slots=True)
class DesiredState:
    workers: Mapping[str, WorkerSpec] = field(default_factory=dict)
    cameras: Mapping[str, CameraSpec] = field(default_factory=dict)
    unplaced: Mapping[str, str] = field(default_factory=dict)  # camera_id -> why it runs nowhere


@dataclass(frozen=True, slots=True)
class WorkerView:
    worker_id: str
    node_id: str
    alive: bool
    cameras: Mapping[str, str] = field(default_factory=dict)  # camera_id -> revision it runs
    serving: Mapping[str, str] = field(default_factory=dict)  # head slot -> version in the bank
    error: str | None = None


@dataclass(frozen=True, slots=True)
class ReaderView:
    camera_id: str
    worker_id: str
    alive: bool
    stream_url: str
    fps: float
    health: str = "connecting"  # runtime.HealthState value
    finished: bool = False  # run() returned (a finite source ended) or raised
    error: str | None = None


@dataclass(frozen=True, slots=True)
class ActualState:
    workers: Mapping[str, WorkerView] = field(default_factory=dict)
    readers: Mapping[str, ReaderView] = field(default_factory=dict)


# -- actions ----------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class StartWorker:
    spec: WorkerSpec

    @property
    def key(self) -> str:
        return f"worker:{self.spec.worker_id}"

    def __str__(self) -> str:
        return f"start {self.spec}"


@dataclass(frozen=True, slots=True)
class StopWorker:
    worker_id: str
    reason: str

    @property
    def key(self) -> str:
        return f"worker:{self.worker_id}"

    def __str__(self) -> str:
        return f"stop worker {self.worker_id} ({self.reason})"


@dataclass(frozen=True, slots=True)
class ConfigureCamera:
    worker_id: str
    work: CameraWork

    @property
    def key(self) -> str:
        return f"camera:{self.work.camera_id}"

    def __str__(self) -> str:
        return f"configure camera {self.work.camera_id} on {self.worker_id} rev={self.work.revision}"


@dataclass(frozen=True, slots=True)
class RemoveCamera:
    worker_id: str
    camera_id: str

    @property
    def key(self) -> str:
        return f"camera:{self.camera_id}"

    def __str__(self) -> str:
        return f"remove camera {self.camera_id} from {self.worker_id}"


@dataclass(frozen=True, slots=True)
class StartReader:
    camera_id: str
    worker_id: str
    stream_url: str
    fps: float

    @property
    def key(self) -> str:
        return f"camera:{self.camera_id}"

    def __str__(self) -> str:
        return f"start reader {self.camera_id}->{self.worker_id}@{self.fps:g}fps"


@dataclass(frozen=True, slots=True)
class RerateReader:
    """A running stream's rate changes (a re-plan lowered or raised it): re-rated in place."""

    camera_id: str
    worker_id: str
    fps: float

    @property
    def key(self) -> str:
        return f"camera:{self.camera_id}"

    def __str__(self) -> str:
        return f"re-rate reader {self.camera_id}@{self.fps:g}fps"


@dataclass(frozen=True, slots=True)
class StopReader:
    camera_id: str
    reason: str

    @property
    def key(self) -> str:
        return f"camera:{self.camera_id}"

    def __str__(self) -> str:
        return f"stop reader {self.camera_id} ({self.reason})"


Action = Union[StartWorker, StopWorker, ConfigureCamera, RemoveCamera, StartReader, RerateReader, StopReader]
# the order actions run in within one tick: free before take, workers before what runs on them
ACTION_ORDER: tuple[type, ...] = (StopReader, RemoveCamera, StopWorker, StartWorker, ConfigureCamera, RerateReader, StartReader)


@dataclass(frozen=True, slots=True)
class Failure:
    """A failed action's item (``key``): retried at ``retry_at_ms`` (exponential backoff)."""

    key: str
    attempts: int
    retry_at_ms: int
    error: str


def backoff_ms(attempts: int, *, base_ms: int = 500, cap_ms: int = 30_000) -> int:
    """Delay before retry number ``attempts`` (1, 2, ...): 0.5 s, 1 s, 2 s, ... capped at 30 s.

    >>> [backoff_ms(n) for n in (1, 2, 3, 10)]
    [500, 1000, 2000, 30000]
    """
    return min(cap_ms, base_ms * 2 ** max(0, attempts - 1))


__all__ = [
    "ACTION_ORDER", "Action", "ActualState", "CameraSpec", "ConfigureCamera", "DesiredState", "Failure", "ReaderView",
    "RemoveCamera", "RerateReader", "StartReader", "StartWorker", "StopReader", "StopWorker", "WorkerSpec", "WorkerView", "backoff_ms",
]
