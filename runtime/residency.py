"""Memory-aware model residency: keep the models a worker uses within a memory budget.

Models are *registered* (assigned to this worker) and *loaded* on first use; when loading
one would exceed ``budget_mib``, the least recently (``lru``) or least frequently (``lfu``)
used unpinned models are evicted first. ``swap`` loads a new version while the old one keeps
serving, then switches atomically: no caller ever waits on a load of a model it already had.
Evicted or swapped-out models are dropped, not closed: a caller still running one finishes
its batch and the memory is freed with the last reference.

>>> res = ModelResidency(budget_mib=100)
>>> res.register("head-a", version="v1", load=lambda: "model-a-v1", size_mib=60)
>>> res.register("head-b", version="v1", load=lambda: "model-b-v1", size_mib=60)
>>> res.get("head-a"), res.get("head-b"), res.resident()
('model-a-v1', 'model-b-v1', ('head-b',))
"""
from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from typing import Callable, Sequence

log = logging.getLogger(__name__)

POLICIES = ("lru", "lfu")


class ResidencyError(MemoryError):
    """A model cannot be made resident within the budget (or is unknown)."""


@dataclass(frozen=True, slots=True)
class ResidentModel:
    """What the eviction decision sees of a loaded model."""

    name: str
    size_mib: float
    last_used_s: float
    uses: int
    pinned: bool = False


def choose_evictions(
    resident: Sequence[ResidentModel], *, need_mib: float, budget_mib: float, policy: str = "lru", protect: frozenset[str] = frozenset()
) -> tuple[str, ...]:
    """Names to evict (in order) so that ``need_mib`` more fits in ``budget_mib`` (pure).

    >>> ms = [ResidentModel("a", 40, last_used_s=1, uses=9), ResidentModel("b", 40, last_used_s=2, uses=1)]
    >>> choose_evictions(ms, need_mib=30, budget_mib=100, policy="lru"), choose_evictions(ms, need_mib=30, budget_mib=100, policy="lfu")
    (('a',), ('b',))
    """
    if policy not in POLICIES:
        raise ResidencyError(f"unknown eviction policy {policy!r}; use one of {POLICIES}")
    if need_mib > budget_mib:
        raise ResidencyError(f"a model of {need_mib:.1f} MiB can never fit a budget of {budget_mib:.1f} MiB; raise budget_mib")
    used = sum(m.size_mib for m in resident)
    if used + need_mib <= budget_mib:
        return ()
    if policy == "lru":
        order = sorted((m for m in resident if not m.pinned and m.name not in protect), key=lambda m: (m.last_used_s, m.uses))
    else:
        order = sorted((m for m in resident if not m.pinned and m.name not in protect), key=lambda m: (m.uses, m.last_used_s))
    victims = []
    for m in order:
        if used + need_mib <= budget_mib:
            break
        victims.append(m.name)
        used -= m.size_mib
    if used + need_mib > budget_mib:
        held = sorted(m.name for m in resident if m.pinned or m.name in protect)
        raise ResidencyError(
            f"need {need_mib:.1f} MiB but only {budget_mib - used:.1f} MiB can be freed (pinned or in use: {held}); "
            "raise budget_mib or assign fewer models to this worker"
        )
    return tuple(victims)


@dataclass(slots=True)
class _Entry:
    version: str
    load: Callable[[], object]
    size_mib: float
    pinned: bool
    model: object | None = None
    last_used_s: float = 0.0
    uses: int = 0


@dataclass(frozen=True, slots=True)
class ResidencyStats:
    budget_mib: float
    used_mib: float
    resident: tuple[str, ...]
    registered: int
    loads: int
    evictions: int
    hits: int
    misses: int
    swaps: int


class ModelResidency:
    """Thread-safe load/evict-by-use cache of models under a memory budget (see module doc)."""

    def __init__(self, *, budget_mib: float = float("inf"), policy: str = "lru", clock: Callable[[], float] = time.monotonic) -> None:
        if policy not in POLICIES:
            raise ResidencyError(f"unknown eviction policy {policy!r}; use one of {POLICIES}")
        if not budget_mib > 0:
            raise ResidencyError(f"budget_mib must be > 0, got {budget_mib!r}")
        self.budget_mib = float(budget_mib)
        self.policy = policy
        self._clock = clock
        self._entries: dict[str, _Entry] = {}
        self._lock = threading.RLock()
        self._loading: dict[str, threading.Lock] = {}
        self._counts = {"loads": 0, "evictions": 0, "hits": 0, "misses": 0, "swaps": 0}

    # -- registration -----------------------------------------------------------------
    def register(self, name: str, *, version: str, load: Callable[[], object], size_mib: float, pinned: bool = False, preload: bool = False) -> None:
        """Declare a model; a new ``version`` of a registered name is swapped in (see :meth:`swap`)."""
        if size_mib < 0:
            raise ResidencyError(f"size_mib of {name!r} must be >= 0, got {size_mib}")
        with self._lock:
            old = self._entries.get(name)
            if old is not None and old.version != version:
                pass  # fall through to swap outside the lock
            elif old is not None:
                old.pinned = old.pinned or pinned
                return
            else:
                self._entries[name] = _Entry(version, load, float(size_mib), pinned)
                old = None
        if old is not None:
            self.swap(name, version=version, load=load, size_mib=size_mib)
        elif preload or pinned:
            self.get(name)

    def unregister(self, name: str) -> None:
        with self._lock:
            self._entries.pop(name, None)

    def pin(self, name: str, pinned: bool = True) -> None:
        with self._lock:
            self._entry(name).pinned = pinned

    # -- use --------------------------------------------------------------------------
    def get(self, name: str) -> object:
        """The serving version of ``name``, loading it (and evicting others) if needed."""
        with self._lock:
            e = self._entry(name)
            e.last_used_s, e.uses = self._clock(), e.uses + 1
            if e.model is not None:
                self._counts["hits"] += 1
                return e.model
            self._counts["misses"] += 1
            gate = self._loading.setdefault(name, threading.Lock())
        with gate:  # one loader per model; others wait for it rather than load twice
            with self._lock:
                e = self._entry(name)
                if e.model is not None:
                    return e.model
                version, load, size = e.version, e.load, e.size_mib
                self._make_room(size, protect=frozenset({name}))
            model = load()
            with self._lock:
                e = self._entry(name)
                if e.version == version:
                    e.model = model
                    self._counts["loads"] += 1
                    log.info("residency loaded model=%s version=%s size_mib=%.1f", name, version, size)
                return model

    def swap(self, name: str, *, version: str, load: Callable[[], object], size_mib: float) -> None:
        """Load ``version`` while the current one keeps serving, then switch atomically."""
        with self._lock:
            e = self._entry(name)
            was_resident = e.model is not None
            if was_resident:
                self._make_room(size_mib, protect=frozenset({name}))
        model = load() if was_resident else None  # an idle model is loaded on its next use
        with self._lock:
            e = self._entry(name)
            old_version = e.version
            e.version, e.load, e.size_mib, e.model = version, load, float(size_mib), model
            self._counts["swaps"] += 1
            if model is not None:
                self._counts["loads"] += 1
        log.info("residency swapped model=%s %s -> %s (preloaded=%s)", name, old_version, version, was_resident)

    def version(self, name: str) -> str:
        with self._lock:
            return self._entry(name).version

    def evict(self, name: str) -> None:
        with self._lock:
            e = self._entry(name)
            if e.model is not None:
                e.model = None
                self._counts["evictions"] += 1

    def resident(self) -> tuple[str, ...]:
        with self._lock:
            return tuple(n for n, e in self._entries.items() if e.model is not None)

    def stats(self) -> ResidencyStats:
        with self._lock:
            used = sum(e.size_mib for e in self._entries.values() if e.model is not None)
            return ResidencyStats(self.budget_mib, used, self.resident(), len(self._entries), **self._counts)

    # -- inside -----------------------------------------------------------------------
    def _entry(self, name: str) -> _Entry:
        try:
            return self._entries[name]
        except KeyError:
            raise ResidencyError(f"model {name!r} is not registered here (registered: {sorted(self._entries)[:20]}); register it first") from None

    def _make_room(self, need_mib: float, *, protect: frozenset[str]) -> None:
        # the extra room a swap needs while both versions live is counted as need_mib
        view = [ResidentModel(n, e.size_mib, e.last_used_s, e.uses, e.pinned) for n, e in self._entries.items() if e.model is not None]
        for victim in choose_evictions(view, need_mib=need_mib, budget_mib=self.budget_mib, policy=self.policy, protect=protect):
            self._entries[victim].model = None
            self._counts["evictions"] += 1
            log.info("residency evicted model=%s to free room for %.1f MiB", victim, need_mib)
