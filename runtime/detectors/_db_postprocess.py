"""Differentiable Binarization (DB) post-processing for the PP-OCR text detector.

Probability map -> binary map (threshold, 2x2 dilation) -> contours -> minimum-area
rectangles -> box score (mean probability inside) -> unclip (pyclipper offset by
area * ratio / perimeter) -> minimum-area rectangle again -> scaled to the frame.
Pure functions over numpy; no model here.
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from runtime.detectors.base import DetectorUnavailableError


@dataclass(frozen=True, slots=True)
class DbParams:
    thresh: float = 0.3  # pixel probability that counts as text
    box_thresh: float = 0.5  # mean probability a box needs to be kept
    unclip_ratio: float = 1.6  # DB shrinks text regions when training; this grows them back
    max_candidates: int = 1000
    min_side_px: float = 3.0  # on the probability map
    use_dilation: bool = True


def _pyclipper():
    try:
        import pyclipper
    except ImportError as exc:
        raise DetectorUnavailableError("pyclipper is not installed; `pip install pyclipper` (PP-OCR's DB unclip needs it)") from exc
    return pyclipper


def min_area_quad(points: np.ndarray) -> tuple[np.ndarray, float]:
    """Minimum-area rectangle around ``points`` as 4 corners (tl, tr, br, bl) and its short side."""
    rect = cv2.minAreaRect(points.reshape(-1, 1, 2).astype(np.float32))
    pts = sorted(cv2.boxPoints(rect).tolist(), key=lambda p: p[0])
    left, right = pts[:2], pts[2:]
    tl, bl = (left[0], left[1]) if left[0][1] <= left[1][1] else (left[1], left[0])
    tr, br = (right[0], right[1]) if right[0][1] <= right[1][1] else (right[1], right[0])
    return np.array([tl, tr, br, bl], dtype=np.float32), float(min(rect[1]))


def box_score(prob: np.ndarray, quad: np.ndarray) -> float:
    """Mean probability inside ``quad`` (the fast, rectangle-mask score of PaddleOCR)."""
    h, w = prob.shape
    xmin = int(np.clip(np.floor(quad[:, 0].min()), 0, w - 1))
    xmax = int(np.clip(np.ceil(quad[:, 0].max()), 0, w - 1))
    ymin = int(np.clip(np.floor(quad[:, 1].min()), 0, h - 1))
    ymax = int(np.clip(np.ceil(quad[:, 1].max()), 0, h - 1))
    mask = np.zeros((ymax - ymin + 1, xmax - xmin + 1), dtype=np.uint8)
    shifted = (quad - np.array([xmin, ymin], dtype=np.float32)).astype(np.int32)
    cv2.fillPoly(mask, shifted.reshape(1, -1, 2), 1)
    return float(cv2.mean(prob[ymin : ymax + 1, xmin : xmax + 1], mask)[0])


def unclip(quad: np.ndarray, ratio: float) -> np.ndarray:
    """Grow a quad outward by ``area * ratio / perimeter`` (rounded corners), as DB trains it."""
    pyclipper = _pyclipper()
    area = abs(float(cv2.contourArea(quad.astype(np.float32))))
    perimeter = float(cv2.arcLength(quad.astype(np.float32).reshape(-1, 1, 2), True))
    if perimeter <= 0:
        return quad
    offset = pyclipper.PyclipperOffset()
    offset.AddPath(quad.astype(np.int64).tolist(), pyclipper.JT_ROUND, pyclipper.ET_CLOSEDPOLYGON)
    grown = offset.Execute(area * ratio / perimeter)
    if not grown:
        return quad
    return np.asarray(max(grown, key=len), dtype=np.float32)


def boxes_from_prob_map(prob: np.ndarray, *, frame_hw: tuple[int, int], params: DbParams = DbParams()) -> list[tuple[np.ndarray, float]]:
    """DB probability map [H, W] -> [(quad[4,2] in frame pixels, det score)], top to bottom."""
    bitmap = (prob > params.thresh).astype(np.uint8)
    if params.use_dilation:
        bitmap = cv2.dilate(bitmap, np.ones((2, 2), dtype=np.uint8))
    contours, _ = cv2.findContours(bitmap * 255, cv2.RETR_LIST, cv2.CHAIN_APPROX_SIMPLE)
    map_h, map_w = prob.shape
    frame_h, frame_w = frame_hw
    out: list[tuple[np.ndarray, float]] = []
    for contour in contours[: params.max_candidates]:
        quad, short_side = min_area_quad(contour)
        if short_side < params.min_side_px:
            continue
        score = box_score(prob, quad)
        if score < params.box_thresh:
            continue
        quad, short_side = min_area_quad(unclip(quad, params.unclip_ratio))
        if short_side < params.min_side_px + 2:
            continue
        quad[:, 0] = np.clip(np.round(quad[:, 0] / map_w * frame_w), 0, frame_w - 1)
        quad[:, 1] = np.clip(np.round(quad[:, 1] / map_h * frame_h), 0, frame_h - 1)
        if np.linalg.norm(quad[0] - quad[1]) <= 3 or np.linalg.norm(quad[0] - quad[3]) <= 3:
            continue
        out.append((quad, score))
    # reading order: top to bottom, then left to right on (nearly) the same line
    out.sort(key=lambda qs: (round(float(qs[0][0, 1]) / 10), float(qs[0][0, 0])))
    return out


def crop_quad(image: np.ndarray, quad: np.ndarray) -> np.ndarray:
    """Perspective-rectify the text quad; tall crops are turned to read left to right."""
    width = int(max(np.linalg.norm(quad[0] - quad[1]), np.linalg.norm(quad[2] - quad[3])))
    height = int(max(np.linalg.norm(quad[0] - quad[3]), np.linalg.norm(quad[1] - quad[2])))
    width, height = max(width, 1), max(height, 1)
    dst = np.array([[0, 0], [width, 0], [width, height], [0, height]], dtype=np.float32)
    m = cv2.getPerspectiveTransform(quad.astype(np.float32), dst)
    crop = cv2.warpPerspective(image, m, (width, height), borderMode=cv2.BORDER_REPLICATE, flags=cv2.INTER_CUBIC)
    if crop.shape[0] >= 1.5 * crop.shape[1]:
        crop = np.rot90(crop)
    return crop
