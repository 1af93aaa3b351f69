"""The control plane's side of an inference worker: run-time configuration and the streams it reads.

Mixed into :class:`runtime.worker.InferenceWorker` (which owns the state these methods
change). The control plane (``warehouse.control``) calls them through the worker's Ray
actor, in its ``control`` concurrency group: cameras come and go and versions change while
the scoring thread runs.

- ``configure_camera(CameraWork)`` / ``remove_camera(camera_id)``: what a camera runs here;
  idempotent (configuring the revision a camera already runs changes nothing).
- ``load_head(HeadWork)``: a head's version by artifact hash; a head in the bank is
  hot-swapped at once (copy-on-write), others load on first use under the memory budget.
- ``start_stream`` / ``stop_stream`` / ``streams()``: one reader thread per camera placed here.
"""
from __future__ import annotations

import logging
import math
import threading
from typing import Any, Callable, Mapping

from runtime.events import EventPolicy
from runtime.sampling import RateSampler
from runtime.streams.base import HealthState, StreamConfigError
from runtime.reader import StreamReader
from runtime.work import CameraWork, HeadWork

log = logging.getLogger(__name__)


def _ray_node_id() -> str | None:
    """The Ray node this process runs on (None outside Ray): proof of where the actor landed."""
    import sys

    ray = sys.modules.get("ray")
    if ray is None or not ray.is_initialized():
        return None
    return ray.get_runtime_context().get_node_id()


class _StreamRun:
    """One camera's reader thread on a worker; keeps how it ended."""

    __slots__ = ("reader", "url", "fps", "thread", "finished", "error")

    def __init__(self, reader, url: str, fps: float) -> None:
        self.reader, self.url, self.fps = reader, url, fps
        self.thread: threading.Thread | None = None
        self.finished, self.error = False, None

    def main(self) -> None:
        try:
            self.reader.run()
            health = self.reader.health()
            if health.state is HealthState.FAILED:  # the source gave up (or refused its host): an error, not an end
                self.error = f"source failed: {health.last_error[:300]}"
                log.warning("stream camera=%s failed: %s", self.reader.camera_id, self.error)
        except Exception as exc:  # reported through status(); the control plane restarts it with backoff
            self.error = f"{type(exc).__name__}: {str(exc)[:300]}"
            log.warning("stream camera=%s failed: %s", self.reader.camera_id, self.error)
        finally:
            self.finished = True



class WorkerControl:
    """Methods of :class:`~runtime.worker.InferenceWorker` the control plane drives (module doc)."""

    def load_head(self, head: HeadWork) -> bool:
        """Make ``head``'s version the one its slot serves; a slot already in the bank is hot-swapped now
        (copy-on-write: running batches finish on the old head). Returns False if nothing changed."""
        if self._fetch is None:
            raise StreamConfigError(f"worker {self.worker_id!r} was built without fetch_artifact; it cannot load heads by hash")
        meta = (head.version, head.artifact_sha256, head.threshold)
        if self._head_meta.get(head.slot) == meta:
            return False
        fetch = self._fetch
        sha = head.artifact_sha256

        def load(sha: str = sha) -> bytes:
            return fetch(sha)

        self._residency.register(head.slot, version=head.version, load=load, size_mib=max(0.0, head.size_mib))
        self._head_meta[head.slot] = meta
        if head.slot in self._scorer.versions():  # serving now: swap at once, do not wait for the next use
            self._scorer.swap(head.slot, self._residency.get(head.slot), version=head.version, threshold=head.threshold)
        log.info("worker=%s head slot=%s version=%s sha=%s", self.worker_id, head.slot, head.version, sha[:12])
        return True

    def _ensure_resident(self, slots: set[str]) -> None:
        managed = [s for s in slots if s in self._head_meta]
        if not managed:
            return
        serving = self._scorer.versions()
        for slot in managed:
            version, _, threshold = self._head_meta[slot]
            blob = self._residency.get(slot)  # loads (evicting by use) or touches
            if serving.get(slot) != version:
                self._scorer.swap(slot, blob, version=version, threshold=threshold)
        resident = set(self._residency.resident())
        for slot in serving:
            if slot in self._head_meta and slot not in resident and slot not in slots:
                self._scorer.remove(slot)

    def configure_camera(self, work: CameraWork) -> str:
        """Run ``work`` for its camera from the next frame on (replacing what it ran); returns its revision."""
        cam = work.camera_id
        for h in work.heads:
            self.load_head(h)
        with self._lock:
            self._heads_of[cam] = {h.algorithm_id: h.slot for h in work.heads}
            for h in work.heads:
                old = self._samplers.get((cam, h.algorithm_id))
                if h.fps <= 0:
                    self._samplers.pop((cam, h.algorithm_id), None)
                elif old is None or old.target_fps != h.fps:
                    self._samplers[(cam, h.algorithm_id)] = RateSampler(target_fps=h.fps)
                self._versions[h.algorithm_id] = h.version
                thr = h.threshold if h.threshold is not None else 0.5
                self._events.set_policy(h.algorithm_id, EventPolicy(threshold=thr, k=h.k, n=h.n, cooldown_s=h.cooldown_s,
                                                                  window_s=h.window_s, window_share=h.window_share))
            for (c, alg) in [k for k in self._samplers if k[0] == cam and k[1] not in self._heads_of[cam]]:
                self._samplers.pop((c, alg), None)
            self._cameras.add(cam)
            self._revisions[cam] = work.revision
        if self._stage is not None:
            known = set(self._stage.algorithm_ids)
            rates = {a: (f if f > 0 else None) for a, f in work.detectors if a in known}
            unknown = [a for a, _ in work.detectors if a not in known]
            if unknown:
                log.warning("worker=%s camera=%s: detectors %s are not in this worker's stage; skipped", self.worker_id, cam, unknown)
            self._stage.assign(cam, rates) if rates else self._stage.unassign(cam)
            if rates and work.zones and getattr(self._stage, "track_hub", None) is not None:
                zones = work.zones.get("items", work.zones) if isinstance(work.zones, Mapping) else work.zones
                self._stage.set_geometry(cam, zones)  # the camera's zones and lines, in its own pixels
        self._gc_slots()
        log.info("worker=%s configured camera=%s revision=%s heads=%d detectors=%d", self.worker_id, cam, work.revision,
                 len(work.heads), len(work.detectors))
        return work.revision

    def remove_camera(self, camera_id: str) -> bool:
        """Stop scoring ``camera_id`` here and free the heads no other camera uses."""
        with self._lock:
            known = camera_id in self._cameras
            self._cameras.discard(camera_id)
            self._heads_of.pop(camera_id, None)
            self._revisions.pop(camera_id, None)
            for k in [k for k in self._samplers if k[0] == camera_id]:
                self._samplers.pop(k, None)
        if self._stage is not None:
            try:
                self._stage.unassign(camera_id)
            except Exception:
                log.debug("stage had no camera %s", camera_id)
        self._gc_slots()
        return known

    def _gc_slots(self) -> None:
        used = {slot for heads in self._heads_of.values() for slot in heads.values()}
        for slot in [s for s in self._head_meta if s not in used]:
            self._head_meta.pop(slot, None)
            self._residency.unregister(slot)
            if slot in self._scorer.versions():
                self._scorer.remove(slot)

    # -- streams: the worker reads its own cameras (one thread each; decode releases the GIL) ----------
    def start_stream(self, camera_id: str, url: str, *, fps: float, gate: bool = True,
                     source_options: Mapping[str, Any] | None = None, gate_options: Mapping[str, Any] | None = None,
                     host_guard: Callable[[str], None] | None = None) -> None:
        """Read ``url`` for ``camera_id`` here (sampled at ``fps``, gated), scoring its frames on this worker.
        ``host_guard`` re-checks a network stream's host at every connect (the deployment's stream policy)."""
        self.stop_stream(camera_id)
        if gate:
            gate_options = self._hold_for_windows(camera_id, fps, gate_options)
        reader = StreamReader(camera_id, url, fps=fps, worker=self, gate=gate, source_options=source_options,
                              gate_options=gate_options, host_guard=host_guard)
        run = _StreamRun(reader, url, fps)
        run.thread = threading.Thread(target=run.main, name=f"read-{camera_id}", daemon=True)
        with self._lock:
            self._streams[camera_id] = run
        run.thread.start()
        log.info("worker=%s stream camera=%s fps=%g started", self.worker_id, camera_id, fps)

    def _hold_for_windows(self, camera_id: str, fps: float, gate_options: Mapping[str, Any] | None) -> dict[str, Any]:
        """After a change the gate passes frames across the longest persistence window of the camera's
        heads (the time rule needs frames across it: a static event must not wait for the next
        keyframe; docs/event-logic.md), unless ``gate_options`` set ``hold_frames``."""
        opts = dict(gate_options or {})
        windows = [w for a in self._heads_of.get(camera_id, {}) if (w := self._events.policy_for(a).window_s)]
        if windows and fps > 0 and "hold_frames" not in opts:
            opts["hold_frames"] = max(2, math.ceil(max(windows) * fps) + 1)
        return opts

    def set_stream_fps(self, camera_id: str, fps: float) -> bool:
        """Re-rate a running stream in place (no reconnect, no gap); False if it does not run here."""
        with self._lock:
            run = self._streams.get(camera_id)
        if run is None:
            return False
        run.reader.set_fps(fps)
        run.fps = fps
        return True

    def stop_stream(self, camera_id: str) -> bool:
        with self._lock:
            run = self._streams.pop(camera_id, None)
        if run is None:
            return False
        run.reader.stop()
        run.thread.join(timeout=5.0)
        return True

    def streams(self) -> dict[str, dict[str, Any]]:
        with self._lock:
            runs = dict(self._streams)
        out = {}
        for cam, run in runs.items():
            st = run.reader.stats()
            out[cam] = {"url": run.url, "fps": run.fps, "alive": run.thread.is_alive(), "finished": run.finished,
                        "error": run.error, "health": st["health"], "frames_read": st["frames_read"],
                        "frames_sent": st["frames_sent"], "gate_skip_rate": st["gate_skip_rate"]}
        return out

