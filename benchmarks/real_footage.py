"""Detectors and tracks on real footage: vtest.avi against the hand labels (issue 15).

    .venv/bin/python -m benchmarks.real_footage           # 40 labelled frames, 300-frame serving run
    .venv/bin/python -m benchmarks.real_footage --full    # the whole 795-frame video for tracks and fps

Figures (last line, one JSON object):
- ``people``: per detector (NanoDet, HOG at native size, HOG on a 1.75x upscaled frame) and per
  half (train 0-397 / held-out 398-794): person precision and recall at IoU 0.5 (greedy one-to-one
  matching, best score first) and the people-count mean absolute error per frame, against the 245
  hand-made boxes of ``data/vtest_people.json``. NanoDet's setting (network input size and
  aspect, per-class NMS IoU, score threshold 0.30-0.60) is chosen on the training half only
  (lowest count MAE, ties: higher F1, then the cheaper input) and then applied once to the
  held-out half; the issue-15 baseline (416x416, NMS 0.6, best-F1 threshold) is reported beside it.
- ``count_window``: the people count of ``NanoDetDetector.count_objects`` (the max or median of the
  chosen detector's counts on the labelled frame and the frames just before it, 10 fps), window
  1-5 x max/median chosen on the training half (lowest count MAE; ties: the smaller window), then
  measured once on the held-out half; CPU ms per counted frame = the window's detector runs.
- ``people_count``: the count with MoveNet MultiPose's person centres: MoveNet alone, or the
  larger of NanoDet's and MoveNet's person counts (``runtime.detectors.movenet.people_count``);
  counter and MoveNet threshold (0.20-0.60) chosen on the training half only (lowest count MAE;
  ties: the simpler counter, then the higher threshold), measured once on the held-out half.
- ``crowd_rule_count``: the count the crowd rule compares (``TrackHub.people_count``: NanoDet +
  ByteTrack at 2 fps, run continuously, first sightings included), MAE per half; beside it the
  count of named tracks only (the rule's count before first sightings were kept).
- ``tracks``: ByteTrack on NanoDet at 2 fps from frame 0, checked on the 13 frames 500-560 whose
  people carry hand-given identities (``data/vtest_tracks.json``, 0.5 s apart = one detector
  period): an ID switch is a person matched (IoU 0.5) to a track in two consecutive labelled
  frames under two different track ids; per 100 frames of video (the 60 frames spanned).
- ``serving``: end-to-end frames per second of the serving path on vtest at 10 fps: decode ->
  change gate -> shared backbone (MobileNetV2, ONNX) -> the graph's scene heads for the camera
  (17 linear heads fused in the HeadBank) -> detector stage with
  NanoDet + tracker + MoveNet (the crowd rule's people counter) + the six city algorithms at 2 fps
  -> event logic. Real time means >= 10 fps.

Machine: the figures in BENCHMARKS.md come from the 2-core box shared with other agents.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import subprocess
import time
from pathlib import Path
from typing import Sequence

import cv2
import numpy as np

REPO = Path(__file__).resolve().parents[1]
LABELS_PATH = REPO / "data" / "vtest_people.json"
TRACKS_PATH = REPO / "data" / "vtest_tracks.json"
HELD_OUT_FIRST = 398


def iou(a: Sequence[float], b: Sequence[float]) -> float:
    w = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    h = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = w * h
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def match(pred: Sequence[tuple[float, Sequence[float]]], truth: Sequence[Sequence[float]], *, thr: float = 0.5) -> list[tuple[int, int]]:
    """Greedy one-to-one matching, best-scoring prediction first: [(pred index, truth index)]."""
    order = sorted(range(len(pred)), key=lambda i: -pred[i][0])
    used: set[int] = set()
    out = []
    for i in order:
        best, best_j = thr, -1
        for j, t in enumerate(truth):
            if j not in used:
                v = iou(pred[i][1], t)
                if v >= best:
                    best, best_j = v, j
        if best_j >= 0:
            used.add(best_j)
            out.append((i, best_j))
    return out


def score_people(preds: dict[int, list[tuple[float, Sequence[float]]]], truth: dict[int, list[Sequence[float]]],
                 min_score: float = 0.0) -> dict[str, float]:
    """Precision, recall at IoU 0.5 and count MAE over the frames of ``truth``."""
    tp = n_pred = n_true = 0
    abs_err = []
    for f, boxes in truth.items():
        p = [x for x in preds.get(f, []) if x[0] >= min_score]
        tp += len(match(p, boxes))
        n_pred += len(p)
        n_true += len(boxes)
        abs_err.append(abs(len(p) - len(boxes)))
    return {"precision": round(tp / n_pred, 3) if n_pred else 0.0, "recall": round(tp / n_true, 3) if n_true else 0.0,
            "count_mae": round(float(np.mean(abs_err)), 3), "frames": len(truth), "people": n_true, "detections": n_pred}


def load_labels() -> tuple[dict[int, list[list[float]]], dict]:
    doc = json.loads(LABELS_PATH.read_text())
    return {int(k): v["boxes_xyxy"] for k, v in doc["frames"].items()}, doc


def vtest_path() -> str:
    return subprocess.run(["bash", str(REPO / "scripts" / "fetch_vtest.sh")], capture_output=True, text=True, check=True).stdout.strip()


def read_frames(path: str, indices: set[int] | None = None, limit: int | None = None):
    cap = cv2.VideoCapture(path)
    i = 0
    while limit is None or i < limit:
        ok, frame = cap.read()
        if not ok:
            break
        if indices is None or i in indices:
            yield i, frame
        i += 1
    cap.release()


def _shrink(b: Sequence[float]) -> tuple[float, float, float, float]:
    pw, ph = 0.15 * (b[2] - b[0]), 0.05 * (b[3] - b[1])
    return (b[0] + pw, b[1] + ph, b[2] - pw, b[3] - ph)


def _people(detector, frame) -> list[tuple[float, tuple]]:
    return [(d.score, d.xyxy) for d in detector.detect(frame) if d.label == "person"]


# NanoDet settings searched on the training half only: network input (square, or the long side with
# the frame's aspect kept), per-class NMS IoU and the score threshold
INPUT_GRID = ((416, False), (512, False), (512, True), (640, True), (768, True))
NMS_GRID = (0.5, 0.6, 0.7)
SCORE_GRID = tuple(round(float(x), 2) for x in np.arange(0.30, 0.61, 0.02))


def _f1(s: dict) -> float:
    return 2 * s["precision"] * s["recall"] / max(1e-9, s["precision"] + s["recall"])


def nanodet_candidates(path: str, truth: dict[int, list], threads: int) -> tuple[dict, dict]:
    """Person boxes (score >= 0.30) per (input_size, keep_aspect, nms_iou) on the labelled frames,
    and the median CPU ms per frame of each input setting."""
    from runtime.detectors import NanoDetConfig, NanoDetDetector
    from runtime.detectors.nanodet import COCO_LABELS, decode, input_wh

    det = NanoDetDetector.from_cache(NanoDetConfig(min_score=0.3), intra_op_threads=threads)
    preds: dict[tuple, dict[int, list]] = {}
    ms: dict[tuple, list[float]] = {}
    for i, frame in read_frames(path, set(truth)):
        h, w = frame.shape[:2]
        for size, keep in INPUT_GRID:
            cfg = NanoDetConfig(min_score=0.3, input_size=size, keep_aspect=keep, labels=("person",))
            t = time.process_time()
            maps = det.raw([frame], input_wh((w, h), cfg))
            ms.setdefault((size, keep), []).append((time.process_time() - t) * 1000)
            for nms in NMS_GRID:
                c = NanoDetConfig(min_score=0.3, input_size=size, keep_aspect=keep, labels=("person",), nms_iou=nms)
                found = decode([m[0] for m in maps[:3]], [m[0] for m in maps[3:]], image_wh=(w, h), config=c)
                preds.setdefault((size, keep, nms), {})[i] = [(s, b) for k, s, b in found if COCO_LABELS[k] == "person"]
    return preds, {k: round(float(np.median(v)), 1) for k, v in ms.items()}


def choose_nanodet(preds: dict, ms: dict, train: dict) -> tuple[tuple, list[dict]]:
    """The setting with the lowest count MAE on the training half (ties: higher F1, cheaper input,
    threshold nearer 0.44), and every candidate's training-half figures."""
    rows = []
    for (size, keep, nms), p in preds.items():
        for thr in SCORE_GRID:
            sc = score_people(p, train, thr)
            rows.append({"input_size": size, "keep_aspect": keep, "nms_iou": nms, "min_score": thr, "train": sc,
                         "cpu_ms": ms[(size, keep)], "key": (sc["count_mae"], -_f1(sc), ms[(size, keep)], abs(thr - 0.44))})
    best = min(rows, key=lambda r: r["key"])
    return (best["input_size"], best["keep_aspect"], best["nms_iou"], best["min_score"]), rows


def people_figures(path: str, truth: dict[int, list], threads: int) -> dict:
    from runtime.detectors import HogConfig, HogPeopleDetector

    train = {f: b for f, b in truth.items() if f < HELD_OUT_FIRST}
    held = {f: b for f, b in truth.items() if f >= HELD_OUT_FIRST}
    cand, cand_ms = nanodet_candidates(path, truth, threads)
    (size, keep, nms, thr), rows = choose_nanodet(cand, cand_ms, train)  # the training half only
    # the issue-15 baseline: 416x416, NMS 0.6, threshold = best training-half F1
    base = cand[(416, False, 0.6)]
    base_thr = max(SCORE_GRID, key=lambda t: (_f1(score_people(base, train, t)), -abs(t - 0.4)))
    hogs = {"hog_native": HogPeopleDetector(HogConfig()),
            "hog_upscaled_1.75x": HogPeopleDetector(HogConfig(input_height_px=1008, min_score=0.5))}
    preds: dict[str, dict[int, list]] = {k: {} for k in hogs}
    ms: dict[str, list[float]] = {k: [] for k in hogs}
    for i, frame in read_frames(path, set(truth)):
        for name, det in hogs.items():
            t = time.process_time()
            preds[name][i] = _people(det, frame)
            ms[name].append((time.process_time() - t) * 1000)
    # OpenCV's peopledetect.py draws the window shrunk by 15% / 5% of w / h
    preds["hog_upscaled_1.75x_shrunk"] = {i: [(s, _shrink(b)) for s, b in v] for i, v in preds["hog_upscaled_1.75x"].items()}
    ms["hog_upscaled_1.75x_shrunk"] = ms["hog_upscaled_1.75x"]
    chosen = {"input_size": size, "keep_aspect": keep, "nms_iou": nms, "min_score": thr}
    out: dict = {"nanodet_config_from_train_half": chosen, "nanodet_min_score_from_train_half": thr,
                 "nanodet": {"config": chosen, "train": score_people(cand[(size, keep, nms)], train, thr),
                             "held_out": score_people(cand[(size, keep, nms)], held, thr), "cpu_ms_per_frame": cand_ms[(size, keep)]},
                 "nanodet_416_baseline": {"config": {"input_size": 416, "keep_aspect": False, "nms_iou": 0.6, "min_score": base_thr},
                                          "train": score_people(base, train, base_thr), "held_out": score_people(base, held, base_thr),
                                          "cpu_ms_per_frame": cand_ms[(416, False)]},
                 "nanodet_train_half_grid": [  # the best threshold per input and NMS, training half only
                     {k: r[k] for k in ("input_size", "keep_aspect", "nms_iou", "min_score", "cpu_ms")} | {
                         "train_mae": r["train"]["count_mae"], "train_precision": r["train"]["precision"], "train_recall": r["train"]["recall"]}
                     for r in (min((r for r in rows if (r["input_size"], r["keep_aspect"], r["nms_iou"]) == k), key=lambda r: r["key"])
                               for k in cand)]}
    for name in preds:
        out[name] = {"train": score_people(preds[name], train, 0.0), "held_out": score_people(preds[name], held, 0.0),
                     "cpu_ms_per_frame": round(float(np.median(ms[name])), 1)}
    return out


COUNT_WINDOWS = (1, 2, 3, 4, 5)
COUNT_REDUCES = ("max", "median")


def count_window_figures(path: str, truth: dict[int, list], threads: int, chosen: dict) -> dict:
    """The windowed people count (``NanoDetConfig.count_window`` / ``count_reduce``) with the chosen
    detector setting: window and reduce chosen on the training half, applied once to the held-out half."""
    from dataclasses import replace

    from runtime.detectors import NanoDetDetector
    from runtime.detectors.nanodet import window_count

    cfg = _nanodet_config(chosen)
    det = NanoDetDetector.from_cache(cfg, intra_op_threads=threads)
    need = {f - k for f in truth for k in range(max(COUNT_WINDOWS)) if f - k >= 0 and (f - k < HELD_OUT_FIRST) == (f < HELD_OUT_FIRST)}
    counts: dict[int, int] = {}
    ms = []
    for i, frame in read_frames(path, need):
        t = time.process_time()
        counts[i] = sum(d.label == "person" for d in det.detect(frame))
        ms.append((time.process_time() - t) * 1000)

    def mae(frames: dict[int, list], window: int, reduce: str) -> float:
        c = replace(cfg, count_window=window, count_reduce=reduce)
        return round(float(np.mean([abs(window_count([counts[f - k] for k in range(window - 1, -1, -1) if f - k in counts], c) - len(b))
                                    for f, b in frames.items()])), 3)

    train = {f: b for f, b in truth.items() if f < HELD_OUT_FIRST}
    held = {f: b for f, b in truth.items() if f >= HELD_OUT_FIRST}
    grid = [{"count_window": w, "count_reduce": r, "train_mae": mae(train, w, r)} for w in COUNT_WINDOWS for r in COUNT_REDUCES]
    best = min(grid, key=lambda g: (g["train_mae"], g["count_window"], COUNT_REDUCES.index(g["count_reduce"])))  # training half only
    det_ms = float(np.median(ms))
    return {"chosen_from_train_half": {k: best[k] for k in ("count_window", "count_reduce")}, "train_mae": best["train_mae"],
            "held_out_mae": mae(held, best["count_window"], best["count_reduce"]), "held_out_mae_window_1": mae(held, 1, "max"),
            "detector_cpu_ms": round(det_ms, 1), "cpu_ms_per_counted_frame": round(det_ms * best["count_window"], 1),
            "train_half_grid": grid}


def _nanodet_config(chosen: dict):
    from runtime.detectors import NanoDetConfig

    return NanoDetConfig(min_score=chosen["min_score"], nms_iou=chosen["nms_iou"], input_size=chosen["input_size"],
                         keep_aspect=chosen["keep_aspect"])


def track_figures(path: str, threads: int, full: bool, chosen: dict) -> dict:
    """ByteTrack on NanoDet at 2 fps from frame 0; ID switches against ``data/vtest_tracks.json``."""
    from runtime.detectors import NanoDetDetector
    from runtime.tracking import ObjectTracker

    gt = {int(f): v for f, v in json.loads(TRACKS_PATH.read_text())["frames"].items()}
    det = NanoDetDetector.from_cache(_nanodet_config(chosen), intra_op_threads=threads)
    tr = ObjectTracker()
    at: dict[int, list[tuple[int, tuple]]] = {}
    all_ids: set[int] = set()
    n = 0
    for i, frame in read_frames(path, None, None if full else max(gt) + 1):
        n = i + 1
        if i % 5:  # 2 fps on the 10 fps video
            continue
        objs = [o for o in tr.update(det.detect(frame), ts_ms=i * 100) if o.label == "person" and o.track_id is not None]
        all_ids.update(o.track_id for o in objs)
        at[i] = [(o.track_id, o.xyxy) for o in objs]
    switches = checks = matched = boxes = 0
    ids_of: dict[str, set[int]] = {}
    prev: dict[str, int] = {}
    for f in sorted(gt):
        people = list(gt[f].items())
        got = at.get(f, [])
        m = match([(1.0, box) for _, box in got], [b for _, b in people])
        now = {people[j][0]: got[i][0] for i, j in m}
        boxes += len(people)
        matched += len(now)
        for pid, tid in now.items():
            ids_of.setdefault(pid, set()).add(tid)
            if pid in prev:
                checks += 1
                switches += prev[pid] != tid
        prev = now
    span = max(gt) - min(gt)
    return {"frames": n, "detector_runs": len(at), "tracks": len(all_ids), "labelled_frames": len(gt), "labelled_boxes": boxes,
            "boxes_tracked": matched, "identity_checks": checks, "id_switches": switches,
            "id_switches_per_100_frames": round(100.0 * switches / span, 2),
            "track_ids_per_person": round(float(np.mean([len(v) for v in ids_of.values()])), 2) if ids_of else None}


MOVENET_SCORES = tuple(round(float(x), 2) for x in np.arange(0.20, 0.61, 0.05))
COUNTERS = ("movenet", "max_nanodet_movenet")  # in order of simplicity (the tie-break)


def people_count_figures(path: str, truth: dict[int, list], threads: int, chosen: dict) -> dict:
    """The people count with MoveNet's centres (``runtime.detectors.movenet``): MoveNet alone and
    ``people_count`` (the larger of NanoDet's and MoveNet's person counts), the counter and MoveNet's
    threshold chosen on the training half only (lowest count MAE; ties: the simpler counter, then the
    higher threshold), measured once on the held-out half; MoveNet's own precision/recall beside it."""
    from runtime.detectors import NanoDetDetector
    from runtime.detectors.movenet import MoveNetConfig, MoveNetPeopleDetector, people_count

    nano = NanoDetDetector.from_cache(_nanodet_config(chosen), intra_op_threads=threads)
    mnet = MoveNetPeopleDetector.from_cache(MoveNetConfig(min_score=min(MOVENET_SCORES)), intra_op_threads=threads)
    n_dets: dict[int, list] = {}
    m_dets: dict[int, list] = {}
    ms = []
    for i, frame in read_frames(path, set(truth)):
        n_dets[i] = nano.detect(frame)
        t = time.process_time()
        m_dets[i] = mnet.detect(frame)
        ms.append((time.process_time() - t) * 1000)
    m_found = {i: [(d.score, d.xyxy) for d in v] for i, v in m_dets.items()}

    def count(f: int, counter: str, thr: float) -> int:
        m = [d for d in m_dets[f] if d.score >= thr]
        return people_count(m) if counter == "movenet" else people_count(n_dets[f], m)  # the runtime's count

    def mae(frames: dict, counter: str, thr: float) -> float:
        return round(float(np.mean([abs(count(f, counter, thr) - len(b)) for f, b in frames.items()])), 3)

    train = {f: b for f, b in truth.items() if f < HELD_OUT_FIRST}
    held = {f: b for f, b in truth.items() if f >= HELD_OUT_FIRST}
    grid = [{"counter": c, "min_score": t, "train_mae": mae(train, c, t)} for c in COUNTERS for t in MOVENET_SCORES]
    best = min(grid, key=lambda g: (g["train_mae"], COUNTERS.index(g["counter"]), -g["min_score"]))  # training half only
    c, t = best["counter"], best["min_score"]
    return {"chosen_from_train_half": {"counter": c, "movenet_min_score": t}, "train_mae": best["train_mae"],
            "held_out_mae": mae(held, c, t), "nanodet_alone": {"train_mae": mae(train, "max_nanodet_movenet", 1.01),
                                                                "held_out_mae": mae(held, "max_nanodet_movenet", 1.01)},
            "movenet_boxes": {"train": score_people(m_found, train, t), "held_out": score_people(m_found, held, t)},
            "movenet_cpu_ms_per_frame": round(float(np.median(ms)), 1), "train_half_grid": grid}


def crowd_count_figures(path: str, truth: dict[int, list], threads: int, chosen: dict, movenet_min_score: float) -> dict:
    """The people count the crowd rule compares (``TrackHub.people_count``): NanoDet + ByteTrack run
    continuously at 2 fps, in phase with the labelled frames (8, 28, ...: every 5th frame from 3), with
    MoveNet as the hub's people counter, read at each labelled frame; beside it the count of named
    tracks only (what the rule counted before first sightings were kept and before the counter: at
    2 fps ByteTrack often starts a walker's track over)."""
    from runtime import FrameEvent
    from runtime.detectors import NanoDetDetector
    from runtime.detectors.movenet import MoveNetConfig, MoveNetPeopleDetector
    from runtime.tracking import TrackHub

    counter = MoveNetPeopleDetector.from_cache(MoveNetConfig(min_score=movenet_min_score), intra_op_threads=threads)
    hub = TrackHub(NanoDetDetector.from_cache(_nanodet_config(chosen), intra_op_threads=threads), counter_factory=lambda: counter)
    phase = min(truth) % 5
    counts: dict[int, tuple[int, int]] = {}
    for i, frame in read_frames(path, None, max(truth) + 1):
        if i % 5 != phase:
            continue
        cam = hub.observe(FrameEvent("vtest", i, i * 100, frame), count=True)
        if i in truth:
            counts[i] = (hub.people_count("vtest"), sum(o.label == "person" and o.track_id is not None for o in cam.objects))

    def mae(first: int, last: int, k: int) -> float:
        return round(float(np.mean([abs(c[k] - len(truth[f])) for f, c in counts.items() if first <= f <= last])), 3)

    return {"detector_runs": hub.detector_runs, "counter_runs": hub.counter_runs, "frames": len(counts),
            "train_mae": mae(0, HELD_OUT_FIRST - 1, 0), "held_out_mae": mae(HELD_OUT_FIRST, 10**9, 0),
            "named_tracks_only": {"train_mae": mae(0, HELD_OUT_FIRST - 1, 1), "held_out_mae": mae(HELD_OUT_FIRST, 10**9, 1)}}


def serving_figures(path: str, limit: int | None, threads: int, chosen: dict) -> dict:
    """The serving path on one camera at 10 fps, as fast as this machine goes (see module doc)."""
    from catalog import linear_head_onnx
    from runtime import Backbone, ChangeGate, DetectorStage, EventDetector, EventPolicy, FrameEvent, HeadBank
    from runtime.detection import Detection
    from runtime.detectors import NanoDetDetector
    from runtime.tracking import TrackHub, city_algorithm_specs
    from warehouse.training.backbone_export import ensure_backbone_onnx

    bb = Backbone.load(ensure_backbone_onnx(REPO / "var" / "cache"), intra_op_threads=threads)
    rng = np.random.default_rng(15)
    dim = bb.info.embedding_dim
    # 17 linear heads (what the graph selects for the discovered scene), fused by the runtime's HeadBank
    head_ids = [f"scene.road.h{k}" for k in range(17)]
    bank = HeadBank({h: linear_head_onnx(rng.normal(0, 0.01, (dim, 1)).astype(np.float32), np.array([-4.0], np.float32), labels=[h])
                     for h in head_ids})
    from runtime.detectors.movenet import MoveNetPeopleDetector

    hub = TrackHub(lambda: NanoDetDetector.from_cache(_nanodet_config(chosen), intra_op_threads=threads),
                   counter_factory=lambda: MoveNetPeopleDetector.from_cache(intra_op_threads=threads))  # as the workers' stage
    hub.set_geometry("vtest", {"zones": [
        {"name": "lawn", "kind": "no_pedestrian", "points_xy": [[0, 330], [768, 470], [768, 576], [0, 576]]},
        {"name": "van bay", "kind": "no_parking", "points_xy": [[600, 30], [768, 30], [768, 110], [600, 110]]},
        {"name": "road", "kind": "crowd", "points_xy": [[0, 190], [768, 190], [768, 420], [0, 420]], "max_people": 8}]})
    stage = DetectorStage(city_algorithm_specs(hub, rate_fps=2.0))
    stage.assign("vtest", list(stage.algorithm_ids))
    gate = ChangeGate()
    ev = EventDetector(put_evidence=lambda b: hashlib.sha256(b).hexdigest(), policy=EventPolicy(k=2, n=3, cooldown_s=30))
    n = passed = alerts = 0
    t0, c0 = time.perf_counter(), time.process_time()
    cap = cv2.VideoCapture(path)
    whole = None
    while limit is None or n < limit:
        ok, img = cap.read()  # decode is part of the path
        if not ok:
            break
        frame = FrameEvent("vtest", n, n * 100, img)
        n += 1
        if not gate.decide(img).passed:
            continue
        passed += 1
        whole = whole or (0.0, 0.0, float(img.shape[1]), float(img.shape[0]))
        _, emb = bb.embed_frames([img])
        fs = bank.score(emb, [set(head_ids)])[0]
        dets = {h: Detection(score=float(fs.scores(h)[0]), xyxy=whole) for h in head_ids}
        res = stage.run(frame)
        dets.update(stage.event_inputs(frame, res))
        alerts += len(ev.update(frame, dets))
    wall = time.perf_counter() - t0
    return {"frames": n, "frames_past_gate": passed, "detector_runs": hub.detector_runs, "counter_runs": hub.counter_runs,
            "alerts": alerts, "heads": len(head_ids),
            "wall_s": round(wall, 2), "fps": round(n / wall, 2), "cpu_s": round(time.process_time() - c0, 2),
            "cpu_ms_per_frame": round((time.process_time() - c0) * 1000 / max(1, n), 1), "real_time_at_10fps": n / wall >= 10.0}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--full", action="store_true", help="all 795 frames for tracks and the serving path")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--skip-serving", action="store_true")
    args = ap.parse_args()
    path = vtest_path()
    truth, _ = load_labels()
    people = people_figures(path, truth, args.threads)
    chosen = people["nanodet_config_from_train_half"]
    people["nanodet_count_window"] = count_window_figures(path, truth, args.threads, chosen)
    people["people_count"] = people_count_figures(path, truth, args.threads, chosen)
    people["crowd_rule_count"] = crowd_count_figures(path, truth, args.threads, chosen,
                                                     people["people_count"]["chosen_from_train_half"]["movenet_min_score"])
    tracks = track_figures(path, args.threads, args.full, chosen)
    serving = None if args.skip_serving else serving_figures(path, None if args.full else 300, args.threads, chosen)
    out = {"benchmark": "real_footage", "machine": f"{platform.machine()} {os.cpu_count()} cpus (shared)", "threads": args.threads,
           "people": people, "tracks": tracks, "serving": serving,
           "goals": {"precision": 0.8, "recall": 0.8, "count_mae": 0.5, "serving_fps": 10.0}}
    print(json.dumps(out))


if __name__ == "__main__":
    main()
