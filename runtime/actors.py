"""The stream reader and the inference worker's Ray actor form.

``StreamReader`` reads a source, samples it at the camera's planned rate, gates it, and
pushes frames to its worker; the worker runs one reader thread per camera placed on it
(``InferenceWorker.start_stream``), so decoding sits beside scoring and no frame crosses a
process. ``InferenceWorker`` (``runtime.worker``) gathers the frames of all its cameras into
cross-camera batches, scores them (backbone once, fused heads), runs real detectors at
their own rates, and turns the results into alerts. Both are plain classes (unit-testable
without Ray); ``InferenceWorkerActor`` is the worker's Ray actor form, built on first use
so ``import runtime`` does not import Ray. The actor is threaded; control calls
(``configure_camera``, ``start_stream``, ``status``, ...) go to their own concurrency group
so a busy stream cannot starve them. The application's control plane
(``warehouse.control``) is the only caller of these actors.

>>> w = InferenceWorkerActor.options(num_cpus=1).remote("w0", [], scorer_factory=factory,       # doctest: +SKIP
...                                                     put_evidence=put, fetch_artifact=fetch)
>>> w.start_stream.options(concurrency_group=CONTROL_GROUP).remote("cam-1", "rtsp://...", fps=2)  # doctest: +SKIP
"""
from __future__ import annotations

import logging
from typing import Any

from runtime.reader import StreamReader
from runtime.worker import InferenceWorker, ScoredFrame

__all__ = ["InferenceWorker", "ScoredFrame", "StreamReader", "ensure_ray"]

log = logging.getLogger(__name__)


_ACTORS: dict[str, Any] = {}
WORKER_MAX_CONCURRENCY = 64  # >= readers per worker x their max_in_flight, else calls queue in Ray (still correct)
CONTROL_GROUP = "control"


def _control(handle, method: str):
    """``handle.method`` in the control concurrency group."""
    return getattr(handle, method).options(concurrency_group=CONTROL_GROUP)


def __getattr__(name: str):  # InferenceWorkerActor, built on first use
    if name == "InferenceWorkerActor":
        if name not in _ACTORS:
            import ray

            # process() calls of all readers wait inside the worker while their frames are batched
            # together: one thread each. Control calls get their own group (never starved by streams).
            _ACTORS["InferenceWorkerActor"] = ray.remote(max_concurrency=WORKER_MAX_CONCURRENCY,
                                                         concurrency_groups={CONTROL_GROUP: 2})(InferenceWorker)
        return _ACTORS[name]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def ensure_ray(address: str | None = None, *, num_cpus: int = 2) -> None:
    """Start (or join) Ray once: local with ``num_cpus`` and no dashboard, or the cluster at ``address``."""
    import ray

    if not ray.is_initialized():
        kw: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False}
        if address is None:
            kw["num_cpus"] = num_cpus
        ray.init(address=address, **kw)
