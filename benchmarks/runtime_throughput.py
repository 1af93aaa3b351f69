"""runtime_throughput: shared backbone + fused heads vs the naive way vs the backbone floor (CPU).

Every camera runs ``--algorithms`` algorithms (default 50) drawn from a pool of heads; frames
are 640x360 BGR pictures (scikit-image) resized by the runtime's preprocessing.

* shared: frames enter the cross-camera batcher, are batched, pay preprocessing + backbone
  once, then one fused matmul scores every head, thresholds decide the alerts.
* floor: preprocessing + backbone only, same frames, same batch size.
* naive: every algorithm is its own full model (backbone + its head merged into one ONNX
  graph, its own ORT session): 50 backbone passes per frame. Preprocessing is done once per
  frame and shared (favours naive). By default ``--naive-models`` distinct sessions are timed
  and the per-frame cost scaled to ``--algorithms`` (all models are the same size); ``--full``
  builds all of them.
* latency: a paced producer feeds the batcher at ``--load`` x the measured shared capacity;
  time from a frame entering the batcher to its threshold decisions being out.

    .venv/bin/python -m benchmarks.runtime_throughput          # small, ~1 min on 2 cores
    .venv/bin/python -m benchmarks.runtime_throughput --full

Prints one JSON object last.
"""
from __future__ import annotations

import argparse
import json
import logging
import platform
import statistics
import threading
import time

import numpy as np


def _frames(n: int, hw=(360, 640)) -> list[np.ndarray]:
    import cv2
    from skimage import data

    pics = [data.astronaut(), data.coffee(), data.chelsea(), data.rocket(), data.immunohistochemistry()]
    base = [np.ascontiguousarray(cv2.resize(p, (hw[1], hw[0]))[:, :, ::-1]) for p in pics]
    rng = np.random.default_rng(0)
    out = []
    for i in range(n):
        f = base[i % len(base)].copy()
        f[rng.integers(0, hw[0]), :] = rng.integers(0, 255, 3, dtype=np.uint8)  # frames differ a little
        out.append(f)
    return out


def _heads(pool: int, dim: int, seed: int = 0) -> dict[str, bytes]:
    from catalog import linear_head_onnx

    rng = np.random.default_rng(seed)
    out = {}
    for i in range(pool):
        k = int(rng.integers(1, 4))
        w = (rng.standard_normal((dim, k)) * 0.05).astype(np.float32)
        b = rng.standard_normal(k).astype(np.float32) - 2.0
        out[f"alg-{i:03d}"] = linear_head_onnx(w, b, labels=[f"alg-{i:03d}/l{j}" for j in range(k)])
    return out


def _naive_model(backbone_path: str, head_blob: bytes) -> bytes:
    """Backbone + one head as one ONNX graph: what an algorithm shipped as its own model looks like."""
    import onnx
    from onnx import compose

    bb = onnx.load(backbone_path)
    head = onnx.load_from_string(head_blob)
    head.ir_version = bb.ir_version
    merged = compose.merge_models(bb, head, io_map=[("embedding", "embedding")], prefix2="h_",
                                  outputs=["h_scores"])
    return merged.SerializeToString()


def _pct(xs, q):
    return float(np.percentile(np.asarray(xs), q)) if xs else float("nan")


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--full", action="store_true", help="the issue's size: naive with all 50 models, more frames")
    ap.add_argument("--cameras", type=int, default=8)
    ap.add_argument("--algorithms", type=int, default=50, help="algorithms per camera")
    ap.add_argument("--pool", type=int, default=300, help="distinct heads in the bank")
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--frames", type=int, default=64, help="frames per shared/floor round")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--naive-models", type=int, default=4)
    ap.add_argument("--naive-frames", type=int, default=16)
    ap.add_argument("--latency-s", type=float, default=6.0)
    ap.add_argument("--load", type=float, default=0.6, help="offered load for the latency phase, x measured capacity")
    ap.add_argument("--max-wait-ms", type=float, default=50.0)
    ap.add_argument("--threads", type=int, default=0, help="ORT intra-op threads (0: ORT default)")
    args = ap.parse_args(argv)
    if args.full:
        args.naive_models, args.frames, args.rounds, args.naive_frames, args.cameras, args.latency_s = (
            args.algorithms, 256, 5, 32, 16, 15.0)
    logging.basicConfig(level=logging.WARNING)

    from runtime import BatchPolicy, CrossCameraBatcher, InferenceCore, OrtEngine, preprocess_bgr
    from runtime.engines import EngineOptions
    from warehouse.training.backbone_export import ensure_backbone_onnx

    bb_path = str(ensure_backbone_onnx("var/cache"))
    opts = EngineOptions(intra_op_threads=args.threads)
    heads = _heads(args.pool, 1280)
    rng = np.random.default_rng(1)
    ids = sorted(heads)
    cams = [f"cam-{c:02d}" for c in range(args.cameras)]
    assignment = {c: set(rng.choice(ids, size=args.algorithms, replace=False).tolist()) for c in cams}
    core = InferenceCore.load(bb_path, heads, assignment=assignment, engine="ort-cpu", options=opts, max_batch=args.batch)
    frames = _frames(args.frames)
    policy = BatchPolicy(max_batch=args.batch, max_wait_ms=args.max_wait_ms, max_pending=max(4096, args.frames))

    heads_ms: list[float] = []

    def run_shared() -> tuple[float, int]:
        b = CrossCameraBatcher(policy)
        t0 = time.perf_counter()
        for i, f in enumerate(frames):
            b.put(cams[i % len(cams)], f, frame_id=i)
        b.close()
        alerts = 0
        while True:
            batch = b.get()
            if not batch:
                break
            out = core.infer_pending(batch)
            t_f = time.perf_counter()
            for fs in out:
                alerts += len(fs.fired())
            # heads + thresholds per batch: the only work the shared path adds to the floor
            heads_ms.append(core.last_timing.heads_ms + (time.perf_counter() - t_f) * 1000)
        return time.perf_counter() - t0, alerts

    def run_floor() -> float:
        t0 = time.perf_counter()
        for i in range(0, len(frames), args.batch):
            core.backbone.run(preprocess_bgr(frames[i : i + args.batch]))
        return time.perf_counter() - t0

    run_shared(), run_floor()  # warm-up
    shared_s, floor_s, ratios, alerts = [], [], [], 0
    for _ in range(args.rounds):  # interleaved, so both see the same machine load
        f_s = run_floor()
        s_s, alerts = run_shared()
        floor_s.append(f_s)
        shared_s.append(s_s)
        ratios.append(s_s / f_s)
    shared_ms_per_frame = statistics.median(shared_s) / len(frames) * 1000
    floor_ms_per_frame = statistics.median(floor_s) / len(frames) * 1000

    # naive: k separate full models, per-frame cost scaled to args.algorithms models
    k = min(args.naive_models, args.algorithms)
    naive_sessions = [OrtEngine(_naive_model(bb_path, heads[a]), options=opts) for a in ids[:k]]
    nf = frames[: args.naive_frames]
    for s in naive_sessions:  # warm-up
        s.run({"image": preprocess_bgr(nf[: args.batch])})
    naive_rounds, floor_near = [], []
    for _ in range(2):
        t0 = time.perf_counter()
        for i in range(0, len(nf), args.batch):
            x = preprocess_bgr(nf[i : i + args.batch])
            for s in naive_sessions:
                s.run({"image": x})
        naive_rounds.append((time.perf_counter() - t0) / len(nf) * 1000 * args.algorithms / k)
        t0 = time.perf_counter()
        for i in range(0, len(nf), args.batch):
            core.backbone.run(preprocess_bgr(nf[i : i + args.batch]))
        floor_near.append((time.perf_counter() - t0) / len(nf) * 1000)
    naive_ms_per_frame = statistics.median(naive_rounds)
    del naive_sessions

    # latency: paced producer at args.load x capacity, one consumer thread
    capacity_fps = 1000.0 / shared_ms_per_frame
    rate_fps = capacity_fps * args.load
    batcher = CrossCameraBatcher(policy)
    lat_ms: list[float] = []
    done = threading.Event()

    def consumer():
        while True:
            batch = batcher.get(timeout_s=0.5)
            if not batch:
                if done.is_set() and len(batcher) == 0:
                    return
                continue
            out = core.infer_pending(batch)
            for fs in out:
                fs.fired()
            t = time.monotonic()
            lat_ms.extend((t - p.enqueued_s) * 1000 for p in batch)

    th = threading.Thread(target=consumer, daemon=True)
    th.start()
    t_start = time.monotonic()
    i = 0
    while time.monotonic() - t_start < args.latency_s:
        due = t_start + i / rate_fps
        now = time.monotonic()
        if due > now:
            time.sleep(due - now)
        batcher.put(cams[i % len(cams)], frames[i % len(frames)], frame_id=i)
        i += 1
    done.set()
    batcher.close()
    th.join()

    result = {
        "benchmark": "runtime_throughput",
        "machine": f"{platform.machine()} cpu, {__import__('os').cpu_count()} cores (shared)",
        "engine": core.backbone.engine.info.name,
        "cameras": len(cams),
        "algorithms_per_camera": args.algorithms,
        "heads_in_bank": len(heads),
        "fused_columns": int(core.heads.state.weights.shape[1]),
        "batch": args.batch,
        "frame_hw": [360, 640],
        "frames_per_s": round(1000.0 / shared_ms_per_frame, 2),
        "floor_frames_per_s": round(1000.0 / floor_ms_per_frame, 2),
        "naive_frames_per_s": round(1000.0 / naive_ms_per_frame, 3),
        "shared_ms_per_frame": round(shared_ms_per_frame, 3),
        "floor_ms_per_frame": round(floor_ms_per_frame, 3),
        "naive_ms_per_frame": round(naive_ms_per_frame, 2),
        "speedup_vs_naive": round(naive_ms_per_frame / shared_ms_per_frame, 2),
        # naive and floor timed back to back in one window (less exposed to load swings)
        "naive_over_floor_same_window": round(naive_ms_per_frame / statistics.median(floor_near), 2),
        "ratio_to_floor": round(statistics.median(ratios), 3),
        "heads_ms_per_frame": round(sum(heads_ms) / (len(frames) * (args.rounds + 1)), 4),
        "ratio_to_floor_from_added_work": round(1 + sum(heads_ms) / (len(frames) * (args.rounds + 1)) / floor_ms_per_frame, 4),
        "latency_ms_p50": round(_pct(lat_ms, 50), 1),
        "latency_ms_p99": round(_pct(lat_ms, 99), 1),
        "latency_offered_fps": round(rate_fps, 1),
        "latency_frames": len(lat_ms),
        "naive_models_timed": k,
        "naive_note": f"{k} distinct backbone+head ORT sessions timed on {len(nf)} frames, per-frame cost scaled to {args.algorithms}; preprocessing shared",
        "alerts_last_round": alerts,
        "goals": {"speedup_vs_naive_min": 20, "ratio_to_floor_max": 1.25},
    }
    print(json.dumps(result))
    return result


if __name__ == "__main__":
    main()
