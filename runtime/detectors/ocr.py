"""Text detection and recognition (PP-OCRv4, the ONNX files inside ``rapidocr-onnxruntime``).

Our own pipeline around the two ONNX graphs (RapidOCR's Python wrapper is not used):

1. detector ``x[1,3,H,W]`` (BGR, (x/255-0.5)/0.5, sides multiples of 32, short side
   scaled up to 736) -> DB probability map -> quads (see ``_db_postprocess``);
2. each quad is rectified and resized to height 48 (width padded to the batch's widest);
3. recogniser ``[N,3,48,W]`` -> ``[N,T,6625]`` softmax -> CTC greedy decode (argmax, merge
   repeats, drop blank) with the charset stored in the model's metadata.

>>> ocr = PpOcrTextReader.from_package()                 # doctest: +SKIP
>>> [d.text for d in ocr.detect(frame_bgr)]              # doctest: +SKIP
['NO PARKING']
"""
from __future__ import annotations

import logging
import math
import os
from dataclasses import dataclass
from typing import Sequence

import cv2
import numpy as np

from runtime.detectors._db_postprocess import DbParams, boxes_from_prob_map, crop_quad
from runtime.detectors.base import Detection, DetectorError, DetectorInputError, check_image, ort_session, package_dir

log = logging.getLogger(__name__)

PIP_NAME = "rapidocr-onnxruntime"
DET_FILE = "models/ch_PP-OCRv4_det_infer.onnx"
REC_FILE = "models/ch_PP-OCRv4_rec_infer.onnx"


def ppocr_model_paths() -> tuple[str, str]:
    """Paths of the PP-OCRv4 detector and recogniser inside the installed package."""
    folder = package_dir("rapidocr_onnxruntime", pip_name=PIP_NAME, files=(DET_FILE, REC_FILE))
    return str(folder / DET_FILE), str(folder / REC_FILE)


@dataclass(frozen=True, slots=True)
class OcrConfig:
    limit_side_len: int = 736  # the short side is scaled up to this (PP-OCR's "min" mode)
    max_side_len: int = 2000  # ... but the long side never beyond this
    db: DbParams = DbParams()
    rec_height: int = 48
    rec_min_width: int = 320  # batches are padded to at least 320 wide, as in training
    rec_batch: int = 6
    min_text_score: float = 0.5  # mean character probability a line needs to be reported


@dataclass(frozen=True, slots=True)
class TextLine:
    quad: tuple[tuple[float, float], ...]  # tl, tr, br, bl in frame pixels
    text: str
    score: float  # mean probability of the decoded characters
    det_score: float  # mean DB probability inside the box

    @property
    def xyxy(self) -> tuple[float, float, float, float]:
        xs = [p[0] for p in self.quad]
        ys = [p[1] for p in self.quad]
        return (min(xs), min(ys), max(xs), max(ys))


def ctc_greedy_decode(probs: np.ndarray, charset: Sequence[str]) -> list[tuple[str, float]]:
    """CTC best path: argmax per step, merge repeats, drop blanks (index 0).

    ``probs`` is ``[N, T, C]``; ``charset[i]`` is the character of class ``i`` (``charset[0]``
    is the blank). Returns (text, mean probability of the kept steps; 0.0 when empty).

    >>> p = np.zeros((1, 5, 3)); p[0, [0, 1, 3], 1] = 1; p[0, [2, 4], 0] = 1
    >>> ctc_greedy_decode(p, ["<blank>", "a", "b"])
    [('aa', 1.0)]
    """
    if probs.ndim != 3 or probs.shape[2] != len(charset):
        raise DetectorInputError(f"CTC input shape {probs.shape} does not match a charset of {len(charset)} classes; expected [N, T, {len(charset)}]")
    idx = probs.argmax(axis=2)
    best = probs.max(axis=2)
    out: list[tuple[str, float]] = []
    for row, row_p in zip(idx, best):
        keep = np.ones(len(row), dtype=bool)
        keep[1:] = row[1:] != row[:-1]
        keep &= row != 0
        chars = "".join(charset[i] for i in row[keep])
        out.append((chars, float(row_p[keep].mean()) if keep.any() else 0.0))
    return out


class PpOcrTextReader:
    """PP-OCRv4 text reader (detector + recogniser) on ONNX Runtime CPU."""

    name = "ocr.text_ppocr"

    def __init__(self, det_model: bytes | str | os.PathLike, rec_model: bytes | str | os.PathLike, *,
                 config: OcrConfig = OcrConfig(), intra_op_threads: int = 0) -> None:
        self.config = config
        self._det = ort_session(det_model, intra_op_threads=intra_op_threads, who=self.name)
        self._rec = ort_session(rec_model, intra_op_threads=intra_op_threads, who=self.name)
        meta = self._rec.get_modelmeta().custom_metadata_map
        if "character" not in meta:
            raise DetectorError(f"{self.name}: the recogniser has no 'character' metadata (keys {sorted(meta)}); use ch_PP-OCRv4_rec_infer.onnx from {PIP_NAME}")
        # class 0 is the CTC blank; the last class is the space PaddleOCR appends
        self.charset: tuple[str, ...] = ("<blank>", *meta["character"].splitlines(), " ")
        n_classes = self._rec.get_outputs()[0].shape[-1]
        if isinstance(n_classes, int) and n_classes != len(self.charset):
            raise DetectorError(f"{self.name}: recogniser has {n_classes} classes but the charset {len(self.charset)}; the metadata does not belong to this model")
        self._det_in = self._det.get_inputs()[0].name
        self._rec_in = self._rec.get_inputs()[0].name

    @classmethod
    def from_package(cls, *, config: OcrConfig = OcrConfig(), intra_op_threads: int = 0) -> "PpOcrTextReader":
        det, rec = ppocr_model_paths()
        return cls(det, rec, config=config, intra_op_threads=intra_op_threads)

    # -- detection ---------------------------------------------------------------------
    def _det_input(self, image: np.ndarray) -> np.ndarray:
        h, w = image.shape[:2]
        ratio = max(self.config.limit_side_len / min(h, w), 1.0)
        ratio = min(ratio, self.config.max_side_len / max(h, w))
        rh = max(32, int(round(h * ratio / 32)) * 32)
        rw = max(32, int(round(w * ratio / 32)) * 32)
        resized = cv2.resize(image, (rw, rh))
        x = resized.astype(np.float32) * (2.0 / 255.0) - 1.0  # (x/255 - 0.5) / 0.5
        return x.transpose(2, 0, 1)[None]

    def find_text(self, image_bgr: np.ndarray) -> list[tuple[np.ndarray, float]]:
        """Text quads [4,2] (frame pixels) with their DB scores, in reading order."""
        image = check_image(image_bgr, who=self.name)
        prob = self._det.run(None, {self._det_in: self._det_input(image)})[0][0, 0]
        return boxes_from_prob_map(prob, frame_hw=image.shape[:2], params=self.config.db)

    # -- recognition -------------------------------------------------------------------
    def recognize(self, crops: Sequence[np.ndarray]) -> list[tuple[str, float]]:
        """Rectified BGR text-line crops -> (text, confidence) each, same order."""
        cfg = self.config
        results: list[tuple[str, float]] = [("", 0.0)] * len(crops)
        order = np.argsort([c.shape[1] / max(c.shape[0], 1) for c in crops])  # similar widths batch together
        for start in range(0, len(order), cfg.rec_batch):
            chunk = order[start : start + cfg.rec_batch]
            ratios = [crops[i].shape[1] / max(crops[i].shape[0], 1) for i in chunk]
            width = max(cfg.rec_min_width, int(math.ceil(cfg.rec_height * max(ratios))))
            batch = np.zeros((len(chunk), 3, cfg.rec_height, width), dtype=np.float32)
            for k, i in enumerate(chunk):
                w = min(width, int(math.ceil(cfg.rec_height * ratios[k])))
                line = cv2.resize(crops[i], (max(w, 1), cfg.rec_height)).astype(np.float32)
                batch[k, :, :, : line.shape[1]] = (line * (2.0 / 255.0) - 1.0).transpose(2, 0, 1)
            probs = self._rec.run(None, {self._rec_in: batch})[0]
            for i, res in zip(chunk, ctc_greedy_decode(probs, self.charset)):
                results[int(i)] = res
        return results

    # -- both --------------------------------------------------------------------------
    def read(self, image_bgr: np.ndarray) -> list[TextLine]:
        """Every text line found and read (confidence >= ``min_text_score``), in reading order."""
        image = check_image(image_bgr, who=self.name)
        boxes = self.find_text(image)
        if not boxes:
            return []
        texts = self.recognize([crop_quad(image, q) for q, _ in boxes])
        lines = []
        for (quad, det_score), (text, score) in zip(boxes, texts):
            if text.strip() and score >= self.config.min_text_score:
                lines.append(TextLine(tuple((float(x), float(y)) for x, y in quad), text.strip(), score, det_score))
        log.debug("%s read %d lines from %d boxes", self.name, len(lines), len(boxes))
        return lines

    def detect(self, image_bgr: np.ndarray) -> list[Detection]:
        """Detections labelled ``text``, with the string in ``text`` and its confidence as score."""
        return [Detection(label="text", score=line.score, xyxy=line.xyxy, text=line.text) for line in self.read(image_bgr)]
