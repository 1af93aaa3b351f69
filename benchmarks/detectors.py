"""CPU time per image of each real detector at its typical size (median of N runs).

    .venv/bin/python -m benchmarks.detectors          # 10 runs per detector, pictures at native size
    .venv/bin/python -m benchmarks.detectors --full   # 20 runs, plus every detector on a 1280x720 frame

Pictures are the real ones bundled with scikit-image / scikit-learn (text and a plate are
rendered onto them). Prints one JSON object as its last line.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
from pathlib import Path

import cv2
import numpy as np


def _pictures() -> dict[str, np.ndarray]:
    import skimage.data as data
    from sklearn.datasets import load_sample_image

    def bgr(rgb):
        rgb = np.repeat(rgb[:, :, None], 3, axis=2) if rgb.ndim == 2 else rgb
        return np.ascontiguousarray(rgb[:, :, ::-1])

    china = bgr(load_sample_image("china.jpg"))
    sign = china.copy()
    cv2.rectangle(sign, (220, 300), (420, 360), (235, 235, 235), -1)
    cv2.putText(sign, "AB-1234", (240, 345), cv2.FONT_HERSHEY_SIMPLEX, 1.2, (20, 20, 20), 3, cv2.LINE_AA)
    return {"astronaut": bgr(data.astronaut()), "camera": bgr(data.camera()), "china_sign": sign,
            "motorcycle": bgr(data.stereo_motorcycle()[0]), "vtest_397": _vtest_frame(397)}


def _vtest_frame(index: int) -> np.ndarray:
    """Frame ``index`` of the real CCTV clip vtest.avi (768x576; scripts/fetch_vtest.sh caches it)."""
    import subprocess

    path = subprocess.run(["bash", "scripts/fetch_vtest.sh"], capture_output=True, text=True, check=True).stdout.strip()
    cap = cv2.VideoCapture(path)
    for _ in range(index + 1):
        ok, frame = cap.read()
    cap.release()
    return frame


def _nanodet_batches(reg, frame: np.ndarray, runs: int, ort_kw: dict) -> list[dict]:
    """NanoDet's batch throughput: frames per second of CPU and of wall time at batch 1, 4, 8."""
    det = reg.create("detector.coco_nanodet", **ort_kw)
    out = []
    for batch in (1, 4, 8):
        frames = [frame] * batch
        wall, cpu = _median_ms(lambda: det.detect_batch(frames), max(3, runs // 2))
        out.append({"detector": f"detector.coco_nanodet[512x384, batch {batch}]", "picture": "vtest_397", "wh": [768, 576],
                    "wall_ms": wall, "cpu_ms": cpu, "batch": batch,
                    "frames_per_cpu_s": round(1000.0 * batch / cpu, 1), "frames_per_wall_s": round(1000.0 * batch / wall, 1)})
    return out


def _median_ms(fn, runs: int) -> tuple[float, float]:
    """(median wall ms, median process CPU ms): on a shared box CPU time is the steadier figure."""
    fn()  # warm-up: first call allocates and tunes kernels
    wall, cpu = [], []
    for _ in range(runs):
        t, c = time.perf_counter(), time.process_time()
        fn()
        wall.append((time.perf_counter() - t) * 1e3)
        cpu.append((time.process_time() - c) * 1e3)
    return round(statistics.median(wall), 2), round(statistics.median(cpu), 2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--full", action="store_true", help="20 runs and an extra 1280x720 frame per detector")
    parser.add_argument("--runs", type=int, default=None)
    parser.add_argument("--threads", type=int, default=1, help="ONNX Runtime / OpenCV threads (default 1: per-core figures)")
    args = parser.parse_args()
    runs = args.runs or (20 if args.full else 10)
    cv2.setNumThreads(args.threads)
    ort_kw = {"intra_op_threads": args.threads}

    from runtime import Backbone
    from runtime.detectors import HogConfig, HogPeopleDetector, ImagenetReadout, NanoDetConfig, default_detector_registry
    from warehouse.training.backbone_export import ensure_backbone_onnx

    pics = _pictures()
    reg = default_detector_registry()
    bb = Backbone.load(ensure_backbone_onnx(Path("var/cache")), intra_op_threads=args.threads)
    readout = ImagenetReadout(bb.info.imagenet_labels)
    cases = [
        ("ocr.text_ppocr", reg.create("ocr.text_ppocr", **ort_kw).detect, "china_sign"),
        ("detector.face_mtcnn", reg.create("detector.face_mtcnn", **ort_kw).detect, "astronaut"),
        ("detector.coco_nanodet[512x384, default]", reg.create("detector.coco_nanodet", **ort_kw).detect, "vtest_397"),
        ("detector.coco_nanodet[416x416]", reg.create("detector.coco_nanodet", config=NanoDetConfig(input_size=416, keep_aspect=False),
                                                      **ort_kw).detect, "vtest_397"),
        ("detector.movenet_people[512x384]", reg.create("detector.movenet_people", **ort_kw).detect, "vtest_397"),
        ("detector.people_hog", reg.create("detector.people_hog").detect, "china_sign"),
        ("detector.people_hog[portrait]", HogPeopleDetector(HogConfig(win_stride_px=4, input_height_px=180, pad_frac=0.35)).detect, "camera"),
        ("detector.fullbody_haar", reg.create("detector.fullbody_haar").detect, "china_sign"),
        ("detector.plate_haar", reg.create("detector.plate_haar").detect, "china_sign"),
        ("detector.plate_haar_16stages", reg.create("detector.plate_haar_16stages").detect, "china_sign"),
        ("imagenet.readout[backbone+readout]", lambda im: readout.read(bb.embed_frames([im])[0]), "motorcycle"),
    ]
    logits, _ = bb.embed_frames([pics["motorcycle"]])
    results = []
    for name, fn, pic in cases:
        img = pics[pic]
        frames = [(pic, img)]
        if args.full and "portrait" not in name:
            frames.append((f"{pic}@1280x720", cv2.resize(img, (1280, 720))))
        for label, frame in frames:
            wall, cpu = _median_ms(lambda: fn(frame), runs)
            results.append({"detector": name, "picture": label, "wh": [frame.shape[1], frame.shape[0]], "wall_ms": wall, "cpu_ms": cpu})
    results.extend(_nanodet_batches(reg, pics["vtest_397"], runs, ort_kw))
    wall, cpu = _median_ms(lambda: readout.read(logits), runs)
    results.append({"detector": "imagenet.readout[readout only, 1 frame of logits]", "picture": "motorcycle", "wh": None,
                    "wall_ms": wall, "cpu_ms": cpu})
    for r in results:
        print(f"{r['detector']:<52} {r['picture']:<22} wall {r['wall_ms']:>9.2f} ms  cpu {r['cpu_ms']:>9.2f} ms")
    print(json.dumps({"benchmark": "detectors", "runs": runs, "threads": args.threads, "cpu_count": os.cpu_count(),
                      "load_avg_1m": round(os.getloadavg()[0], 1), "machine": platform.machine(),
                      "opencv": cv2.__version__, "results": results}))


if __name__ == "__main__":
    main()
