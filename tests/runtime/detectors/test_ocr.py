"""PP-OCRv4 text reader on real pictures with rendered signs, banners and plates."""
from __future__ import annotations

import numpy as np
import pytest

from runtime.detectors import InvalidImageError, OcrConfig, PpOcrTextReader, ctc_greedy_decode
from tests.runtime.detectors._pictures import picture, render_label


@pytest.fixture(scope="module")
def ocr() -> PpOcrTextReader:
    return PpOcrTextReader.from_package()


@pytest.mark.parametrize(
    ("background", "text", "xy", "width_px", "aspect", "ink"),
    [
        ("camera", "NO PARKING", (300, 60), 200, 2.8, (0, 0, 200)),  # red street sign on the cameraman's sky
        ("china", "AB-1234", (220, 300), 200, 4.0, (20, 20, 20)),  # licence plate on a real photo
        ("coffee", "A123BC77", (60, 300), 180, 4.6, (20, 20, 20)),  # Russian-format plate, small
        ("flower", "NO DUMPING", (40, 40), 380, 6.0, (255, 255, 255)),  # wide banner, white on dark-green
    ],
)
def test_reads_rendered_text_on_real_pictures(ocr, background, text, xy, width_px, aspect, ink):
    paper = (40, 110, 30) if ink == (255, 255, 255) else (235, 235, 235)
    img, panel = render_label(picture(background), text, x=xy[0], y=xy[1], width_px=width_px, aspect=aspect, ink=ink, paper=paper)
    found = ocr.detect(img)
    texts = [d.text for d in found]
    assert text in texts, f"read {texts}"
    hit = found[texts.index(text)]
    assert hit.label == "text" and hit.score > 0.8
    x1, y1, x2, y2 = hit.xyxy
    tol = 4  # pixels: DB's unclip may touch the panel's border
    assert panel[0] - tol <= x1 and panel[1] - tol <= y1 and x2 <= panel[2] + tol and y2 <= panel[3] + tol, (hit.xyxy, panel)
    assert x2 - x1 >= 0.5 * (panel[2] - panel[0])  # covers the text, not one letter


@pytest.mark.parametrize("background", ["coffee", "brick"])  # no text in these pictures
def test_no_text_on_pictures_without_text(ocr, background):
    assert ocr.detect(picture(background)) == []


def test_skimage_text_picture_reads_words(ocr):
    # skimage's `text` is a real photo of printed text; at least some lines must be read
    lines = ocr.read(picture("text"))
    assert lines and all(line.score >= OcrConfig().min_text_score for line in lines)


@pytest.mark.parametrize(
    ("steps", "expected"),
    [
        ([1, 1, 0, 1, 2, 2], "aab"),  # repeats merge, the blank splits a doubled letter
        ([0, 0, 0], ""),  # only blanks -> empty
        ([2, 0, 2, 1], "bba"),
    ],
)
def test_ctc_greedy_decode(steps, expected):
    probs = np.full((1, len(steps), 3), 0.05)
    probs[0, np.arange(len(steps)), steps] = 0.9
    text, conf = ctc_greedy_decode(probs, ["<blank>", "a", "b"])[0]
    assert text == expected
    assert conf == (pytest.approx(0.9) if expected else 0.0)


@pytest.mark.parametrize(
    ("image", "match"),
    [
        (np.zeros((32, 32, 3), np.float32), "dtype is float32"),  # float frame
        (np.zeros((32, 32, 4), np.uint8), r"shape is \(32, 32, 4\)"),  # RGBA
        ("frame.png", "image is str"),  # a path, not pixels
    ],
)
def test_rejects_bad_images(ocr, image, match):
    with pytest.raises(InvalidImageError, match=match):
        ocr.detect(image)


def test_ctc_rejects_charset_mismatch():
    with pytest.raises(ValueError, match=r"does not match a charset of 2"):
        ctc_greedy_decode(np.zeros((1, 4, 3)), ["<blank>", "a"])
