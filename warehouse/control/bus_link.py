"""The control loop and the bus: watching ``model-updates``, announcing on ``control``, reading lag.

**Model updates** are watched in a thread of its own (:class:`UpdateWatcher`).

A promotion, canary or rollback must reach the workers at once, not at the loop's next
periodic catalog read. The watcher blocks in the bus consumer's ``poll`` (a real wait: a
Kafka consumer joins its group and fetches only while it polls with a timeout; polling with
0 s from the loop's tick never finished joining on kafka-python), commits what it read and
calls ``on_update`` with the algorithm ids. The catalog stays the truth: the loop re-reads it.

**Control events** (:func:`control_event`, pure): what the loop did that operators follow
(a camera placed or stopped, a worker started or lost, a plan applied), as typed events.

**Consumer lag** (:func:`consumer_lag`): records each application consumer group still has
to process, for ``status()`` and ``/metrics``.
"""
from __future__ import annotations

import logging
import threading
from typing import Any, Callable, Mapping

from warehouse.control.state import ConfigureCamera, StartReader, StartWorker, StopReader, StopWorker

log = logging.getLogger(__name__)

__all__ = ["UpdateWatcher", "consumer_lag", "control_event"]


def control_event(action, now_s: float):
    """The :class:`~warehouse.bus.events.ControlEvent` announcing ``action``, or None for actions
    operators do not follow (re-rates, removals already announced by their reader's stop)."""
    from warehouse.bus.events import ControlEvent

    kind = {StartReader: "camera_placed", StopReader: "camera_stopped", StartWorker: "worker_started",
            StopWorker: "worker_lost" if "dead" in getattr(action, "reason", "") else None,
            ConfigureCamera: "plan_applied"}.get(type(action))
    if kind is None:
        return None
    cam = getattr(action, "camera_id", None) or getattr(getattr(action, "work", None), "camera_id", None)
    wid = getattr(action, "worker_id", None) or getattr(getattr(action, "spec", None), "worker_id", None)
    return ControlEvent(event_id=f"ctl-{int(now_s * 1e6)}-{abs(hash(str(action))) % 10**8}", action=kind,
                        camera_id=cam, worker_id=wid, detail={"action": str(action)[:500]})


def consumer_lag(bus, groups: Mapping[str, str]) -> dict[str, int]:
    """``{group: records not yet committed}`` for each (group, topic); a group the bus cannot
    answer for now is absent (not wrong)."""
    if bus is None or not callable(getattr(bus, "lag", None)):
        return {}
    out = {}
    for group, topic in groups.items():
        try:
            out[group] = int(bus.lag(group, topic))
        except Exception:
            log.debug("control: lag of %s unavailable", group, exc_info=True)
    return out


class UpdateWatcher:
    """``UpdateWatcher(consumer, on_update).start()``; ``stop()`` closes the consumer."""

    def __init__(self, consumer: Any, on_update: Callable[[list[str]], None], *, poll_s: float = 0.5) -> None:
        self.consumer, self.on_update, self.poll_s = consumer, on_update, poll_s
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.seen = 0

    def start(self) -> "UpdateWatcher":
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="control-model-updates", daemon=True)
            self._thread.start()
        return self

    def poll_once(self, timeout_s: float) -> list[str]:
        """One poll: the algorithm ids announced (committed before ``on_update`` is called)."""
        records = self.consumer.poll(timeout_s=timeout_s)
        if not records:
            return []
        ids = [str((r.value or {}).get("algorithm_id")) for r in records if isinstance(r.value, dict)]
        self.consumer.commit()
        self.seen += len(records)
        log.info("control: %d model update(s): %s", len(records), ids[:5])
        self.on_update(ids)
        return ids

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.poll_once(self.poll_s)
            except Exception:  # the bus is away now: the loop's periodic catalog read still swaps
                log.warning("control: model-updates poll failed", exc_info=True)
                self._stop.wait(1.0)

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
        try:
            self.consumer.close()
        except Exception:
            log.debug("control: closing the model-updates consumer failed", exc_info=True)
