"""runtime_gpu: the whole GPU path on one device, against a limit measured in the same run.

What it measures (all on ``cuda:0`` with the PyTorch CUDA engine, FP16, channels-last):
* the device's own limits, independent of any engine: FP16 matrix throughput (a large
  ``torch.matmul``) and memory bandwidth (a large device-to-device copy);
* MobileNetV2's FLOPs and bytes counted from the ONNX graph (``runtime.engines.roofline``)
  and the roofline they give at each batch size;
* backbone images/s at 224x224 for batch 1..1024 (``--full``; 1..256 by default), eager and
  as a CUDA graph, inputs already on the device; the ratio of the best to the roofline;
* the fused head bank on the GPU (one FP16 matmul for every head, sigmoid, thresholds, each
  camera's own algorithms as a column mask);
* preprocessing on the GPU: 640x360 BGR uint8 frames -> area resize + normalise, with the
  host-to-device copy; JPEG frames decoded by nvJPEG (``torchvision.io.decode_jpeg``);
* streams at 1 fps with ``--algorithms`` (30) algorithms each through the whole GPU path
  (uint8 frames copied in on a second stream, preprocessing, backbone, head bank, fired
  flags copied out) = frames/s; and the same starting from JPEG.
Other GPU engines that are installed (native TensorRT, ONNX Runtime CUDA / TensorRT) are
timed too with host arrays in and out (``--engines``).

Without CUDA (or with ``--cpu-dry-run``) the same code runs on the CPU at a reduced size
(torch-cpu engine in FP32, small batches and matrices) and still prints its JSON, whose
``engine`` and ``device`` fields say what ran; those figures are not GPU figures.

    python -m benchmarks.runtime_gpu                  # batch 1..256
    python -m benchmarks.runtime_gpu --full           # batch 1..1024 (scripts/gpu_check.sh)
    python -m benchmarks.runtime_gpu --cpu-dry-run    # the reduced CPU run

The backbone comes from ``--backbone`` / ``WAREHOUSE_BACKBONE_ONNX`` or is exported into
var/cache; heads from ``--heads DIR`` / ``WAREHOUSE_HEAD_BANK_DIR`` (``*.onnx``) or are made
(``--pool`` random linear heads of the trained heads' shape: throughput does not depend on
the weights). Prints one JSON object last.
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np

GOAL_BACKBONE_IMAGES_PER_S = 30_000
GOAL_STREAMS_AT_1FPS = 10_000
HOST_ENGINES = ("tensorrt", "ort-tensorrt", "ort-cuda")
FRAME_HW = (360, 640)

log = logging.getLogger("benchmarks.runtime_gpu")


def _sync(torch, device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _timed_s(torch, device, fn, *, warmup: int, repeats: int) -> float:
    """Median seconds of ``fn`` over ``repeats`` runs, device work included."""
    for _ in range(warmup):
        fn()
    _sync(torch, device)
    ts = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        _sync(torch, device)
        ts.append(time.perf_counter() - t0)
    return statistics.median(ts)


def device_limits(torch, device, *, reduced: bool) -> dict:
    """Peak matrix throughput and memory bandwidth of the device, measured here."""
    n = 256 if reduced else 8192
    dtype = torch.float32 if device.type == "cpu" else torch.float16  # CPUs have no fast FP16 matmul
    a = torch.randn(n, n, device=device, dtype=dtype)
    b = torch.randn(n, n, device=device, dtype=dtype)
    reps = 3 if reduced else 20
    mm_s = _timed_s(torch, device, lambda: [torch.matmul(a, b) for _ in range(reps)], warmup=1, repeats=3) / reps
    nbytes = (32 << 20) if reduced else (4 << 30)
    src = torch.empty(nbytes // 2, dtype=torch.float16, device=device).fill_(1)
    dst = torch.empty_like(src)
    cp_s = _timed_s(torch, device, lambda: dst.copy_(src), warmup=2, repeats=5 if reduced else 20)
    del a, b, src, dst
    return {"matmul_dtype": str(dtype).removeprefix("torch."), "matmul_n": n,
            "matmul_tflops": float(f"{2 * n**3 / mm_s / 1e12:.4g}"),
            "copy_mib": nbytes >> 20, "memory_bandwidth_gb_s": float(f"{2 * nbytes / cp_s / 1e9:.4g}")}


def backbone_sweep(torch, engine, batch_sizes, *, repeats: int, use_graphs: bool, warmup: int = 3) -> dict:
    """images/s per batch size, eager and as a CUDA graph (device-resident inputs)."""
    out = {}
    shape = engine.input_shapes["image"]
    for b in batch_sizes:
        x = torch.randn((b, *shape), device=engine.device).to(engine.dtype)
        row = {}
        s = _timed_s(torch, engine.device, lambda: engine.run_torch({"image": x}), warmup=warmup, repeats=repeats)
        row["eager"] = round(b / s, 1)
        if use_graphs:
            try:
                runner = engine.cuda_graph(b)
                s = _timed_s(torch, engine.device, lambda: runner.run(x), warmup=3, repeats=repeats * 2)
                row["cuda_graph"] = round(b / s, 1)
                del runner
            except Exception as exc:  # noqa: BLE001 - a failed capture must not hide the eager figure
                row["cuda_graph_error"] = f"{type(exc).__name__}: {exc}"[:300]
            torch.cuda.empty_cache()
        out[str(b)] = row
        del x
    return out


class GpuHeadBank:
    """The fused head bank as one device matmul: scores, thresholds, per-camera columns."""

    def __init__(self, torch, bank, assignments, *, device, dtype) -> None:
        st = bank.state
        self.torch = torch
        self.w = torch.from_numpy(np.array(st.weights)).to(device, dtype)  # a writable copy
        self.b = torch.from_numpy(np.array(st.bias)).to(device, dtype)
        self.thr = torch.from_numpy(st.thresholds.astype(np.float32)).to(device, dtype)
        masks = np.stack([st.columns(a) for a in assignments])  # [cameras, K]
        self.masks = torch.from_numpy(masks).to(device)
        self.n_columns = int(st.weights.shape[1])

    def fired(self, emb, cams):
        """emb [N, D] on device, cams [N] camera rows -> bool [N, K] (assigned heads over threshold)."""
        scores = self.torch.sigmoid(self.torch.addmm(self.b, emb.to(self.w.dtype), self.w))
        return (scores >= self.thr) & self.masks[cams]


def _jpegs(frames) -> list[bytes]:
    import cv2

    return [cv2.imencode(".jpg", f, [cv2.IMWRITE_JPEG_QUALITY, 85])[1].tobytes() for f in frames]


def preprocessing(torch, device, frames, *, batch: int, dtype, channels_last: bool, repeats: int) -> dict:
    from runtime.engines.torch_preprocess import decode_jpeg_batch, normalize_rgb_nchw, preprocess_bgr_torch

    host = torch.from_numpy(np.stack([frames[i % len(frames)] for i in range(batch)]))
    if device.type == "cuda":
        host = host.pin_memory()
    dev = host.to(device)
    kw = dict(dtype=dtype, channels_last=channels_last)
    res = {"frame_hw": list(FRAME_HW), "batch": batch}
    s = _timed_s(torch, device, lambda: preprocess_bgr_torch(dev, **kw), warmup=2, repeats=repeats)
    res["uint8_on_device_frames_per_s"] = round(batch / s, 1)
    s = _timed_s(torch, device, lambda: preprocess_bgr_torch(host.to(device, non_blocking=True), **kw),
                 warmup=2, repeats=repeats)
    res["uint8_from_host_frames_per_s"] = round(batch / s, 1)
    blobs = _jpegs([frames[i % len(frames)] for i in range(batch)])
    res["jpeg_kib_per_frame"] = round(sum(map(len, blobs)) / len(blobs) / 1024, 1)
    try:
        dev_name = "cuda" if device.type == "cuda" else "cpu"
        s = _timed_s(torch, device, lambda: normalize_rgb_nchw(decode_jpeg_batch(blobs, device=dev_name), **kw),
                     warmup=1, repeats=max(2, repeats // 2))
        res["jpeg_decoder"] = "nvjpeg" if device.type == "cuda" else "libjpeg (cpu)"
        res["jpeg_frames_per_s"] = round(batch / s, 1)
    except Exception as exc:  # noqa: BLE001 - nvJPEG missing must not hide the rest
        res["jpeg_error"] = f"{type(exc).__name__}: {exc}"[:300]
    return res


def whole_path(torch, engine, heads: GpuHeadBank, frames, *, batch: int, n_batches: int, n_cams: int,
               use_graph: bool, jpeg: bool) -> dict:
    """Frames/s through copy-in -> preprocess -> backbone -> head bank -> fired flags out."""
    from runtime.engines.torch_preprocess import decode_jpeg_batch, normalize_rgb_nchw, preprocess_bgr_torch

    device = engine.device
    on_cuda = device.type == "cuda"
    kw = dict(dtype=engine.dtype, channels_last=on_cuda)
    cams = torch.arange(batch, device=device) % n_cams
    runner = engine.cuda_graph(batch) if use_graph else None

    def backbone(x):
        return runner.run(x)["embedding"] if runner is not None else engine.run_torch({"image": x})["embedding"]

    fired_host = torch.empty((2, batch, heads.n_columns), dtype=torch.bool)
    if on_cuda:
        fired_host = fired_host.pin_memory()
    if jpeg:
        blobs = _jpegs([frames[i % len(frames)] for i in range(batch)])

        def step(i):
            x = normalize_rgb_nchw(decode_jpeg_batch(blobs, device="cuda" if on_cuda else "cpu"), **kw)
            fired_host[i % 2].copy_(heads.fired(backbone(x), cams), non_blocking=on_cuda)
    else:
        host = torch.from_numpy(np.stack([frames[i % len(frames)] for i in range(batch)]))
        host = host.pin_memory() if on_cuda else host
        slots = [torch.empty_like(host, device=device) for _ in range(2)]
        copy_stream = torch.cuda.Stream(device) if on_cuda else None
        copied = [torch.cuda.Event() for _ in range(2)] if on_cuda else None
        consumed = [torch.cuda.Event() for _ in range(2)] if on_cuda else None

        def step(i):
            s = i % 2
            if on_cuda:  # the next batch's copy overlaps this batch's compute
                with torch.cuda.stream(copy_stream):
                    copy_stream.wait_event(consumed[s])
                    slots[s].copy_(host, non_blocking=True)
                    copied[s].record(copy_stream)
                torch.cuda.current_stream(device).wait_event(copied[s])
            else:
                slots[s].copy_(host)
            x = preprocess_bgr_torch(slots[s], **kw)
            if on_cuda:
                consumed[s].record(torch.cuda.current_stream(device))
            fired_host[s].copy_(heads.fired(backbone(x), cams), non_blocking=on_cuda)

    with torch.no_grad():
        for i in range(2):
            step(i)
        _sync(torch, device)
        t0 = time.perf_counter()
        for i in range(n_batches):
            step(i)
        _sync(torch, device)
        secs = time.perf_counter() - t0
    fps = n_batches * batch / secs
    return {"source": "jpeg (nvJPEG)" if jpeg and on_cuda else ("jpeg" if jpeg else "uint8 BGR frames from host"),
            "batch": batch, "frames": n_batches * batch, "cuda_graph": runner is not None,
            "frames_per_s": round(fps, 1), "streams_at_1fps": int(fps),
            "fired_per_frame": round(float(fired_host[(n_batches - 1) % 2].sum()) / batch, 2)}


def host_engines(names, blob: bytes, batch_sizes, *, repeats: int, cache_dir: str) -> tuple[dict, dict]:
    """Other installed GPU engines with host arrays in and out (TensorRT, ORT CUDA/TRT)."""
    from runtime.engines import EngineOptions, default_engine_registry

    reg = default_engine_registry()
    missing = reg.why_unavailable()
    rng = np.random.default_rng(0)
    measured, skipped = {}, {}
    for name in names:
        if name in missing:
            skipped[name] = missing[name]
            continue
        try:
            t0 = time.perf_counter()
            eng = reg.create(blob, engine=name, options=EngineOptions(fp16=True, max_batch=max(batch_sizes),
                                                                      opt_batch=64, cache_dir=cache_dir))
            build_s = time.perf_counter() - t0
            ips = {}
            for b in batch_sizes:
                x = rng.standard_normal((b, 3, 224, 224)).astype(np.float32)
                ts = []
                for k in range(3 + repeats):
                    t1 = time.perf_counter()
                    eng.run({"image": x})
                    if k >= 3:
                        ts.append(time.perf_counter() - t1)
                ips[str(b)] = round(b / statistics.median(ts), 1)
            measured[name] = {"precision": eng.info.precision, "build_s": round(build_s, 1), "images_per_s": ips,
                              "detail": eng.info.detail}
            eng.close()
        except Exception as exc:  # noqa: BLE001 - one engine failing must not hide the others
            skipped[name] = f"{type(exc).__name__}: {exc}"[:300]
    return measured, skipped


def _backbone_path(arg: str | None) -> Path:
    given = arg or os.environ.get("WAREHOUSE_BACKBONE_ONNX")
    if given:
        return Path(given)
    from warehouse.training.backbone_export import ensure_backbone_onnx

    return ensure_backbone_onnx("var/cache")


def _head_blobs(arg: str | None, pool: int, dim: int) -> tuple[dict[str, bytes], str]:
    folder = arg or os.environ.get("WAREHOUSE_HEAD_BANK_DIR")
    if folder:
        blobs = {p.stem: p.read_bytes() for p in sorted(Path(folder).glob("*.onnx"))}
        if not blobs:
            raise SystemExit(f"head bank folder {folder!r} holds no *.onnx heads; run scripts/gpu_check.sh prepare")
        return blobs, f"{len(blobs)} heads from {folder}"
    from benchmarks.runtime_throughput import _heads

    return _heads(pool, dim), f"{pool} random linear heads ({dim} -> 1..3 labels)"


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--full", action="store_true", help="batch 1..1024 and the issue's sizes")
    ap.add_argument("--cpu-dry-run", action="store_true", help="run the reduced CPU mode even where CUDA exists")
    ap.add_argument("--algorithms", type=int, default=30, help="algorithms per stream")
    ap.add_argument("--pool", type=int, default=300, help="heads in the bank when none are given")
    ap.add_argument("--cameras", type=int, default=1024, help="distinct per-camera assignments")
    ap.add_argument("--backbone", default=None)
    ap.add_argument("--heads", default=None, help="folder of head *.onnx files")
    ap.add_argument("--engines", default=",".join(HOST_ENGINES), help="other GPU engines to time with host arrays")
    ap.add_argument("--batch-sizes", default="", help="comma-separated, overrides the default list")
    ap.add_argument("--repeats", type=int, default=10)
    ap.add_argument("--cache-dir", default="var/cache/engines")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)

    import torch

    from runtime import HeadBank
    from runtime.engines import EngineOptions, TorchEngine
    from runtime.engines.roofline import onnx_cost, roofline_images_per_s
    from benchmarks.runtime_throughput import _frames

    on_cuda = torch.cuda.is_available() and not args.cpu_dry_run
    reduced = not on_cuda
    device = torch.device("cuda:0" if on_cuda else "cpu")
    if reduced:
        batch_sizes, repeats, n_batches, cams = [1, 4], 2, 2, 16
        torch.set_num_threads(min(2, os.cpu_count() or 1))
    else:
        batch_sizes = [2**i for i in range(11 if args.full else 9)]
        repeats, n_batches, cams = args.repeats, (24 if args.full else 8), args.cameras
    if args.batch_sizes:
        batch_sizes = [int(b) for b in args.batch_sizes.split(",")]
    result: dict = {
        "benchmark": "runtime_gpu",
        "engine": "torch-cuda" if on_cuda else "torch-cpu",
        "device": torch.cuda.get_device_name(device) if on_cuda else f"cpu ({os.cpu_count()} cores)",
        "mode": ("full" if args.full else "default") if on_cuda else "cpu-dry-run (reduced sizes; not GPU figures)",
        "precision": "fp16" if on_cuda else "fp32",
        "torch": torch.__version__,
        "tensorrt": "not measured here unless listed under host_engines",
    }
    if not on_cuda and not args.cpu_dry_run:
        result["note"] = "no CUDA device: ran the reduced CPU mode"
    t_start = time.perf_counter()
    bb_path = _backbone_path(args.backbone)
    blob = bb_path.read_bytes()

    result["device_limits"] = limits = device_limits(torch, device, reduced=reduced)
    cost = onnx_cost(blob, bytes_per_element=2 if on_cuda else 4)
    result["model_cost"] = cost.as_dict()

    engine = TorchEngine(blob, device=str(device), options=EngineOptions(fp16=on_cuda, channels_last=on_cuda))
    sweep = backbone_sweep(torch, engine, batch_sizes, repeats=repeats, use_graphs=on_cuda, warmup=1 if reduced else 3)
    peak, bw = limits["matmul_tflops"] * 1e12, limits["memory_bandwidth_gb_s"] * 1e9
    best = (0.0, 0, "")
    for b, row in sweep.items():
        roof = roofline_images_per_s(cost, peak_flops=peak, bandwidth_bytes_per_s=bw, batch=int(b))
        row["roofline_images_per_s"] = round(roof["images_per_s"], 1)
        row["roofline_bound"] = roof["bound"]
        for mode in ("eager", "cuda_graph"):
            if row.get(mode, 0) > best[0]:
                best = (row[mode], int(b), mode)
    roof_best = roofline_images_per_s(cost, peak_flops=peak, bandwidth_bytes_per_s=bw, batch=best[1])
    result["backbone"] = {
        "input": "224x224, device-resident", "channels_last": on_cuda, "images_per_s_by_batch": sweep,
        "best_images_per_s": best[0], "best_batch": best[1], "best_mode": best[2],
        "roofline_images_per_s": round(roof_best["images_per_s"], 1), "roofline_bound": roof_best["bound"],
        "ratio_to_roofline": round(best[0] / roof_best["images_per_s"], 4),
        "roofline_unfused_images_per_s": round(roofline_images_per_s(
            cost, peak_flops=peak, bandwidth_bytes_per_s=bw, batch=best[1], fused=False)["images_per_s"], 1),
    }

    heads_blobs, heads_desc = _head_blobs(args.heads, args.pool, 1280)
    bank = HeadBank(heads_blobs, embedding_dim=1280)
    rng = np.random.default_rng(0)
    ids = sorted(heads_blobs)
    k = min(args.algorithms, len(ids))
    assignments = [frozenset(rng.choice(ids, size=k, replace=False).tolist()) for _ in range(cams)]
    gheads = GpuHeadBank(torch, bank, assignments, device=device, dtype=engine.dtype)
    hb = max(batch_sizes)
    emb = torch.randn(hb, 1280, device=device, dtype=engine.dtype)
    cam_idx = torch.arange(hb, device=device) % cams
    s = _timed_s(torch, device, lambda: gheads.fired(emb, cam_idx), warmup=3, repeats=repeats)
    result["head_bank"] = {"heads": heads_desc, "columns": gheads.n_columns, "algorithms_per_stream": k,
                           "cameras": cams, "batch": hb, "frames_per_s": round(hb / s, 1)}

    frames = _frames(16, FRAME_HW)
    result["preprocessing"] = preprocessing(torch, device, frames, batch=hb, dtype=engine.dtype,
                                            channels_last=on_cuda, repeats=repeats)

    pb = best[1] if on_cuda else max(batch_sizes)
    use_graph = on_cuda and best[2] == "cuda_graph"
    streams = {}
    for jpeg in (False, True):
        key = "jpeg" if jpeg else "uint8"
        try:
            streams[key] = whole_path(torch, engine, gheads, frames, batch=pb, n_batches=n_batches, n_cams=cams,
                                      use_graph=use_graph, jpeg=jpeg)
        except Exception as exc:  # noqa: BLE001 - report, keep the other figures
            streams[key] = {"error": f"{type(exc).__name__}: {exc}"[:300]}
        if on_cuda:
            torch.cuda.empty_cache()
    result["streams"] = streams
    result["streams_at_1fps"] = streams["uint8"].get("streams_at_1fps")
    result["algorithms_per_stream"] = k
    result["backbone_images_per_s"] = best[0]
    result["ratio_to_roofline"] = result["backbone"]["ratio_to_roofline"]

    if on_cuda:
        hb_list = [b for b in (1, 64, 256) if b <= max(batch_sizes)]
        result["host_engines"], result["host_engines_skipped"] = host_engines(
            [e for e in args.engines.split(",") if e], blob, hb_list, repeats=repeats, cache_dir=args.cache_dir)
    result["goals"] = {"backbone_images_per_s": GOAL_BACKBONE_IMAGES_PER_S, "streams_at_1fps": GOAL_STREAMS_AT_1FPS}
    result["meets_goals"] = None if not on_cuda else {
        "backbone": best[0] >= GOAL_BACKBONE_IMAGES_PER_S,
        "streams": (result["streams_at_1fps"] or 0) >= GOAL_STREAMS_AT_1FPS}
    result["wall_s"] = round(time.perf_counter() - t_start, 1)
    print(json.dumps(result))
    return result


if __name__ == "__main__":
    main()
    sys.exit(0)
