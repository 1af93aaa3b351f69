"""What the detector stage costs per frame, and what real detectors at their own rates cost.

    .venv/bin/python -m benchmarks.detector_stage          # 8 cameras x 6 detectors, 20 s at 10 fps
    .venv/bin/python -m benchmarks.detector_stage --full   # 64 cameras x 12 detectors, 60 s

Part 1 (overhead): null detectors (they return [] at once) at 0.2-2 fps on 10 fps cameras;
the figure is the stage's own time per frame (rate decisions, bookkeeping), split into
frames where nothing was due and all frames. Part 2 (real): one camera of the astronaut at
10 fps for 10 s with MTCNN at 1 fps and HOG at 0.5 fps (1 ORT/OpenCV thread): runs, mean
ms per run, and CPU ms per camera-second. Prints one JSON object as its last line.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import time

import numpy as np


class _Null:
    name = "null"

    def detect(self, image_bgr):
        return []


def _overhead(cameras: int, detectors: int, seconds: int) -> dict:
    from runtime import FrameEvent
    from runtime.detector_stage import DetectorStage

    rates = [0.2, 0.5, 1.0, 2.0]
    stage = DetectorStage({f"alg-{k}": (_Null(), rates[k % len(rates)], "1") for k in range(detectors)})
    for c in range(cameras):
        stage.assign(f"cam-{c}", [f"alg-{k}" for k in range(detectors)])
    img = np.zeros((36, 64, 3), np.uint8)
    evs = [FrameEvent(f"cam-{c}", i, i * 100 + c, img) for i in range(seconds * 10) for c in range(cameras)]
    idle_ns, idle_n, all_ns = 0, 0, 0
    for ev in evs:
        t = time.perf_counter_ns()
        out = stage.run(ev)
        dt = time.perf_counter_ns() - t
        all_ns += dt
        if not out:
            idle_ns, idle_n = idle_ns + dt, idle_n + 1
    st = stage.stats()
    return {"cameras": cameras, "detectors_per_camera": detectors, "frames": len(evs), "frames_nothing_due": idle_n,
            "us_per_frame_nothing_due": round(idle_ns / max(1, idle_n) / 1e3, 2),
            "us_per_frame_all": round(all_ns / len(evs) / 1e3, 2),
            "stage_overhead_us_per_frame": round(st.overhead_ms_total * 1e3 / st.frames, 2),
            "runs": sum(a.runs for a in st.algorithms)}


def _real(seconds: int) -> dict:
    import functools

    import cv2
    import skimage.data as data

    from runtime import FrameEvent
    from runtime.detector_stage import DetectorSpec, DetectorStage
    from runtime.detectors import HogPeopleDetector, MtcnnFaceDetector

    cv2.setNumThreads(1)
    img = np.ascontiguousarray(data.astronaut()[:, :, ::-1])
    stage = DetectorStage({
        "detector.face_mtcnn": DetectorSpec(functools.partial(MtcnnFaceDetector.from_package, intra_op_threads=1), 1.0, "1"),
        "detector.people_hog": DetectorSpec(HogPeopleDetector, 0.5, "1"),
    })
    stage.assign("astro", ["detector.face_mtcnn", "detector.people_hog"])
    stage.run(FrameEvent("warm", 0, 0, img))  # no-op: camera not assigned
    c0, t0 = time.process_time(), time.perf_counter()
    faces = 0
    for i in range(seconds * 10):
        out = stage.run(FrameEvent("astro", i, i * 100, img))
        faces += len(out.get("detector.face_mtcnn", []))
    cpu_ms, wall_ms = (time.process_time() - c0) * 1e3, (time.perf_counter() - t0) * 1e3
    st = stage.stats()
    per = {a.algorithm_id: {"runs": a.runs, "skipped_not_due": a.skipped_not_due, "mean_ms": round(a.run_ms_mean, 1),
                            "max_ms": round(a.run_ms_max, 1)} for a in st.algorithms}
    return {"seconds": seconds, "frames": seconds * 10, "per_algorithm": per, "faces_found": faces,
            "cpu_ms_per_camera_s": round(cpu_ms / seconds, 1), "wall_ms_per_camera_s": round(wall_ms / seconds, 1),
            "stage_overhead_us_per_frame": round(st.overhead_ms_total * 1e3 / st.frames, 2)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--full", action="store_true", help="64 cameras x 12 detectors for 60 s; real part 30 s")
    args = parser.parse_args()
    cams, dets, secs, real_s = (64, 12, 60, 30) if args.full else (8, 6, 20, 10)
    result = {"benchmark": "detector_stage", "full": args.full, "machine": platform.machine(), "cpus": os.cpu_count(),
              "overhead": _overhead(cams, dets, secs), "real": _real(real_s)}
    print(json.dumps(result))


if __name__ == "__main__":
    main()
