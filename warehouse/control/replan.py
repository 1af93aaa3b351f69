"""The drift policy's full re-plan, run off the control loop's thread.

The loop re-plans each change through the scheduler's fast incremental path. When the chain
of such re-plans has drifted (``scheduler.needs_full_replan``), a whole-instance re-plan
(re-priced, cameras kept where they are) is due; at city scale it takes seconds, so it runs
here in a thread while the loop goes on with the incremental plan. The loop adopts the result
on a later tick only if it was made for the instance the loop still has (same digest); a
result overtaken by a newer change is dropped (the next drifted change asks again).
"""
from __future__ import annotations

import logging
import threading
import time
from typing import Any

log = logging.getLogger(__name__)

__all__ = ["BackgroundReplan"]


class BackgroundReplan:
    """``submit(instance, current, key)`` starts one full re-plan (one at a time); ``take(key)``
    returns its result once done, if it was made for ``key``, else None."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._done: tuple[Any, Any] | None = None  # (key, PlanResult)
        self.submitted = self.adopted = self.dropped = 0
        self.last_s: float | None = None

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def submit(self, instance: Any, current: Any, key: Any) -> bool:
        """Re-plan ``instance`` (a ``scheduler.Instance``) whole, keeping ``current``'s placements;
        False when one is already running (it is not queued: the next drifted change asks again)."""
        with self._lock:
            if self.running:
                return False
            self._done = None
            self.submitted += 1
            self._thread = threading.Thread(target=self._run, args=(instance, current, key), name="control-full-replan",
                                            daemon=True)
            self._thread.start()
            return True

    def _run(self, instance: Any, current: Any, key: Any) -> None:
        import scheduler

        t0 = time.perf_counter()
        try:
            result = scheduler.plan(instance, previous=current)
        except Exception:
            log.exception("control: background full re-plan failed; the incremental plan stays")
            return
        self.last_s = time.perf_counter() - t0
        log.info("control: background full re-plan done in %.2f s (objective %.3f)", self.last_s, result.objective)
        with self._lock:
            self._done = (key, result)

    def take(self, key: Any) -> Any | None:
        with self._lock:
            done, self._done = self._done, None
        if done is None:
            return None
        if done[0] != key:
            self.dropped += 1  # made for an instance that has changed since
            return None
        self.adopted += 1
        return done[1]
