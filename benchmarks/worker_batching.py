"""worker_batching: N cameras on one InferenceWorker, cross-camera batches vs one frame at a time (CPU).

    .venv/bin/python -m benchmarks.worker_batching          # 4 cameras x 40 frames, 20 heads
    .venv/bin/python -m benchmarks.worker_batching --full   # 16 cameras x 100 frames, 100 heads

* batched: one reader thread per camera pushes its frames (one frame per call, 2 calls in
  flight, like ``StreamReader`` on Ray) into one ``InferenceWorker``; the worker gathers
  them into cross-camera batches (``BatchPolicy(max_batch, max_wait_ms)``): one backbone
  call and one fused head-bank matmul per batch, then the event logic.
* one-at-a-time: the same frames through the same worker path with ``max_batch=1`` (each
  frame its own backbone call and matmul).
Frames are unpaced (as fast as the worker takes them): the figure is the worker's capacity.
Both runs score every frame with every head; the change gate is not involved.
Prints one JSON object as its last line.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import threading
import time

import numpy as np


def _heads(n: int) -> dict[str, bytes]:
    from catalog import linear_head_onnx

    rng = np.random.default_rng(0)
    return {f"alg-{i:03d}": linear_head_onnx(rng.normal(0, 0.05, (1280, 1)).astype(np.float32),
                                             np.array([-4.0], np.float32), labels=["on"]) for i in range(n)}


def _run(bb_path: str, heads: dict, cams: list[str], frames: dict, *, max_batch: int, max_wait_ms: float,
         in_flight: int) -> dict:
    from runtime.actors import InferenceWorker
    from runtime.batching import BatchPolicy
    from runtime.scoring import inference_core_scorer_factory

    asg = [(c, a) for c in cams for a in heads]  # pairs: no rate, every frame scored by every head
    w = InferenceWorker("bench", asg, scorer_factory=inference_core_scorer_factory(bb_path, heads),
                        put_evidence=lambda b: hashlib.sha256(b).hexdigest(),  # evidence not stored: no disk in the timing
                        batch_policy=BatchPolicy(max_batch=max_batch, max_wait_ms=max_wait_ms))
    w.process([frames[cams[0]][0]])  # warm-up (sessions, first-call allocations), not timed
    base = w.stats()

    def feed(cam: str, part: int) -> None:  # `in_flight` callers per camera, frames interleaved
        for f in frames[cam][part::in_flight]:
            w.process([f])

    threads = [threading.Thread(target=feed, args=(c, p)) for c in cams for p in range(in_flight)]
    t0, c0 = time.perf_counter(), time.process_time()
    [t.start() for t in threads]
    [t.join() for t in threads]
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    st = w.stats()
    w.close()
    n = st["frames_scored"] - base["frames_scored"]
    b = st["batches"] - base["batches"]
    sizes = {k: v - base["batch_sizes"].get(k, 0) for k, v in st["batch_sizes"].items() if v - base["batch_sizes"].get(k, 0)}
    return {"frames": n, "frames_per_s": n / wall, "wall_s": wall, "cpu_s_per_frame_ms": 1000 * cpu / max(n, 1),
            "batches": b, "mean_batch": n / max(b, 1), "batch_sizes": sizes}


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--full", action="store_true", help="16 cameras x 100 frames, 100 heads, max_batch 16")
    ap.add_argument("--cameras", type=int)
    ap.add_argument("--frames", type=int, help="frames per camera")
    ap.add_argument("--heads", type=int)
    ap.add_argument("--max-batch", type=int)
    ap.add_argument("--max-wait-ms", type=float, default=20.0)
    args = ap.parse_args(argv)
    cams_n = args.cameras or (16 if args.full else 4)
    per_cam = args.frames or (100 if args.full else 40)
    heads_n = args.heads or (100 if args.full else 20)
    max_batch = args.max_batch or (16 if args.full else 8)

    from runtime.streams import FrameEvent
    from warehouse.training.backbone_export import ensure_backbone_onnx

    bb_path = str(ensure_backbone_onnx("var/cache"))
    heads = _heads(heads_n)
    rng = np.random.default_rng(1)
    cams = [f"cam-{i:02d}" for i in range(cams_n)]
    frames = {c: [FrameEvent(c, i, i * 100, rng.integers(0, 255, (360, 640, 3), dtype=np.uint8)) for i in range(per_cam)]
              for c in cams}
    batched = _run(bb_path, heads, cams, frames, max_batch=max_batch, max_wait_ms=args.max_wait_ms, in_flight=2)
    single = _run(bb_path, heads, cams, frames, max_batch=1, max_wait_ms=0.0, in_flight=2)
    result = {
        "benchmark": "worker_batching", "cameras": cams_n, "frames_per_camera": per_cam, "heads": heads_n,
        "max_batch": max_batch, "max_wait_ms": args.max_wait_ms, "frame_wh": [640, 360],
        "batched": batched, "one_at_a_time": single,
        "speedup": batched["frames_per_s"] / single["frames_per_s"],
        "machine": f"{platform.machine()} {os.cpu_count()} cpus (shared)",
        "load_avg_1m": os.getloadavg()[0],
    }
    print(json.dumps(result))
    return result


if __name__ == "__main__":
    main()
