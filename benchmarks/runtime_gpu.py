"""runtime_gpu: backbone images/s in FP16 per engine and batch size, and streams per GPU.

On a machine with an NVIDIA GPU:
* for every GPU engine installed (native TensorRT, ORT TensorRT / CUDA providers, PyTorch
  CUDA), the backbone's images/s at batch sizes 1..256 (FP16 where the engine does FP16;
  host arrays in and out, so copies are included);
* the GPU's measured limit: the best backbone images/s over engines and batch sizes;
* streams at 1 fps with ``--algorithms`` (30) algorithms each: frames/s of the whole path
  (640x360 frames, preprocessing on a CPU thread pool overlapping the GPU, backbone on the
  best engine, fused head bank, thresholds) = streams at 1 fps; and its ratio to the limit.

Without a CUDA device it prints ``{"skipped": "no CUDA device", ...}`` and exits 0.

    .venv/bin/python -m benchmarks.runtime_gpu            # batch sizes 1,4,16,64,256
    .venv/bin/python -m benchmarks.runtime_gpu --full     # every power of two 1..256

Prints one JSON object last.
"""
from __future__ import annotations

import argparse
import json
import logging
import statistics
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np

GPU_ENGINES = ("tensorrt", "ort-tensorrt", "ort-cuda", "torch-cuda")


def _cuda_missing() -> str | None:
    from runtime.engines import cuda_device_present

    if not cuda_device_present():
        return "no CUDA device"
    try:
        import torch
    except ImportError:
        return None  # ORT CUDA may still run
    if not torch.cuda.is_available():
        return "no CUDA device (torch.cuda.is_available() is False)"
    return None


def _time_ms(fn, warmup: int, repeats: int) -> float:
    for _ in range(warmup):
        fn()
    ts = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        ts.append((time.perf_counter() - t0) * 1000)
    return statistics.median(ts)


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--full", action="store_true")
    ap.add_argument("--algorithms", type=int, default=30)
    ap.add_argument("--pool", type=int, default=300)
    ap.add_argument("--engines", default=",".join(GPU_ENGINES))
    ap.add_argument("--pipeline-frames", type=int, default=4096)
    ap.add_argument("--repeats", type=int, default=10)
    ap.add_argument("--cache-dir", default="var/cache/engines")
    ap.add_argument("--batch-sizes", default="", help="comma-separated, overrides the default list")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    result: dict = {"benchmark": "runtime_gpu"}
    missing = _cuda_missing()
    if missing:
        result.update(skipped=missing, note="run on a machine with an NVIDIA GPU and a CUDA build of PyTorch "
                      "(pip install '.[gpu]' for ONNX Runtime GPU and TensorRT)")
        print(json.dumps(result))
        return result

    from benchmarks.runtime_throughput import _frames, _heads
    from runtime import Backbone, HeadBank, preprocess_bgr
    from runtime.engines import EngineOptions, default_registry
    from warehouse.training.backbone_export import ensure_backbone_onnx

    bb_path = ensure_backbone_onnx("var/cache")
    batch_sizes = [2**i for i in range(9)] if args.full else [1, 4, 16, 64, 256]
    if args.batch_sizes:
        batch_sizes = [int(b) for b in args.batch_sizes.split(",")]
    reg = default_registry()
    unavailable = reg.why_unavailable()
    opts = EngineOptions(fp16=True, max_batch=max(batch_sizes), opt_batch=64, cache_dir=args.cache_dir)
    rng = np.random.default_rng(0)
    x_big = rng.standard_normal((max(batch_sizes), 3, 224, 224)).astype(np.float32)
    try:
        import torch

        result["gpu"] = torch.cuda.get_device_name(0)
    except Exception:  # noqa: BLE001 - the name is only informative
        result["gpu"] = "unknown"
    per_engine, skipped, backbones = {}, {}, {}
    for name in args.engines.split(","):
        if name in unavailable:
            skipped[name] = unavailable[name]
            continue
        try:
            t0 = time.perf_counter()
            bb = Backbone.load(bb_path, engine=name, registry=reg, options=opts)
            build_s = time.perf_counter() - t0
            ips = {}
            for b in batch_sizes:
                ms = _time_ms(lambda: bb.run(x_big[:b]), warmup=3, repeats=args.repeats)
                ips[str(b)] = round(b / ms * 1000, 1)
            per_engine[name] = {"precision": bb.engine.info.precision, "build_s": round(build_s, 1), "images_per_s": ips}
            backbones[name] = bb
        except Exception as exc:  # noqa: BLE001 - one engine failing must not hide the others
            skipped[name] = f"{type(exc).__name__}: {exc}"[:300]
    result["engines"] = per_engine
    result["engines_skipped"] = skipped
    if not per_engine:
        result["skipped"] = "no GPU engine could run"
        print(json.dumps(result))
        return result
    best_engine, best_b, limit = max(
        ((e, int(b), v) for e, r in per_engine.items() for b, v in r["images_per_s"].items()), key=lambda t: t[2])
    result.update(limit_images_per_s=limit, limit_engine=best_engine, limit_batch=best_b)

    # the whole path on the best engine: 1 fps per stream, args.algorithms heads each
    bb = backbones[best_engine]
    heads = _heads(args.pool, bb.info.embedding_dim)
    bank = HeadBank(heads, embedding_dim=bb.info.embedding_dim)
    ids = sorted(heads)
    n_cams = 512
    assign = [frozenset(rng.choice(ids, size=args.algorithms, replace=False).tolist()) for _ in range(n_cams)]
    frames = _frames(256)
    batch = best_b
    chunks = [(i, [frames[(i + j) % len(frames)] for j in range(batch)]) for i in range(0, args.pipeline_frames, batch)]

    def run_pipeline() -> float:
        t0 = time.perf_counter()
        with ThreadPoolExecutor(max_workers=8) as pool:  # preprocessing overlaps the GPU
            futures = [pool.submit(preprocess_bgr, fr) for _, fr in chunks[:4]]
            nxt = 4
            for k, (i, _) in enumerate(chunks):
                x = futures[k].result()
                if nxt < len(chunks):
                    futures.append(pool.submit(preprocess_bgr, chunks[nxt][1]))
                    nxt += 1
                _, emb = bb.run(x)
                for fs in bank.score(emb, [assign[(i + j) % n_cams] for j in range(len(x))]):
                    fs.fired()
        return time.perf_counter() - t0

    run_pipeline()
    secs = statistics.median(run_pipeline() for _ in range(3))
    fps = len(chunks) * batch / secs
    result.update(
        algorithms_per_stream=args.algorithms,
        pipeline_batch=batch,
        pipeline_frames_per_s=round(fps, 1),
        streams_at_1fps=int(fps),
        ratio_to_limit=round(fps / limit, 3),
        note="images/s include host<->device copies; the pipeline includes 640x360->224 preprocessing on 8 CPU threads",
    )
    print(json.dumps(result))
    return result


if __name__ == "__main__":
    main()
    sys.exit(0)
