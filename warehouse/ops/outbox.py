"""The outbox relay: publishes the events the store wrote beside its rows, retrying while
the bus is down, so a bus outage delays events but loses none.

>>> relay = OutboxRelay(ops, bus)          # doctest: +SKIP
>>> relay.run_once()                       # doctest: +SKIP
RelayRound(published=1, failed=0, pending=0, error=None)

Delivery is at least once (a crash between publish and mark publishes again; consumers
de-duplicate by ``event_id``). ``run_forever`` backs off exponentially while the bus fails.
"""
from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass

__all__ = ["OutboxRelay", "RelayRound"]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class RelayRound:
    published: int
    failed: int
    pending: int
    error: str | None = None


class OutboxRelay:
    def __init__(self, ops, bus, *, batch: int = 200, idle_s: float = 0.5, max_backoff_s: float = 30.0) -> None:
        self.ops, self.bus = ops, bus
        self.batch, self.idle_s, self.max_backoff_s = batch, idle_s, max_backoff_s
        self.published_total = 0
        self.last_error: str | None = None
        self.last_ok_ms: int | None = None
        self.last_failure_ms: int | None = None
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def bus_ok(self) -> bool | None:
        """None before any attempt; else whether the last attempt reached the bus."""
        if self.last_ok_ms is None and self.last_failure_ms is None:
            return None
        return (self.last_failure_ms or 0) <= (self.last_ok_ms or 0)

    def run_once(self, *, blocking: bool = True) -> RelayRound:
        """Publish what is pending (one batch); a busy relay returns at once when not ``blocking``."""
        if not self._lock.acquire(blocking=blocking):
            return RelayRound(0, 0, -1, None)
        try:
            return self._round()
        finally:
            self._lock.release()

    def _round(self) -> RelayRound:
        rows = self.ops.pending_outbox(limit=self.batch)
        if not rows:
            return RelayRound(0, 0, 0)
        done: list[int] = []
        try:
            for row in rows:
                self.bus.publish(row["topic"], row["value"], key=row["key"])
                done.append(row["id"])
            self.bus.flush()
        except Exception as exc:  # the bus is down or refused: keep the rows, retry later
            failed = [r["id"] for r in rows]
            self.last_error, self.last_failure_ms = f"{type(exc).__name__}: {exc}", int(time.time() * 1000)
            log.warning("outbox relay: bus refused %d event(s) (first %s): %s", len(failed), rows[0]["value"].get("event_id"), exc)
            self.ops.mark_failed(failed, self.last_error)
            return RelayRound(0, len(failed), len(rows), self.last_error)
        self.ops.mark_published(done)
        self.published_total += len(done)
        self.last_ok_ms, self.last_error = int(time.time() * 1000), None
        return RelayRound(len(done), 0, len(rows) - len(done))

    def kick(self) -> None:
        """Wake the background loop now (after a write)."""
        self._wake.set()

    def run_forever(self) -> None:
        backoff = self.idle_s
        while not self._stop.is_set():
            try:
                rnd = self.run_once()
            except Exception:  # the database itself failed; log and keep trying
                log.exception("outbox relay round failed")
                rnd = RelayRound(0, 1, -1, "database")
            if rnd.failed:
                backoff = min(self.max_backoff_s, backoff * 2)
            else:
                backoff = self.idle_s
                if rnd.published == self.batch:
                    continue  # more waiting: no pause
            self._wake.wait(backoff)
            self._wake.clear()

    def start(self) -> "OutboxRelay":
        if self._thread is None or not self._thread.is_alive():
            self._stop.clear()
            self._thread = threading.Thread(target=self.run_forever, name="outbox-relay", daemon=True)
            self._thread.start()
        return self

    def stop(self, timeout_s: float = 5.0) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout_s)
