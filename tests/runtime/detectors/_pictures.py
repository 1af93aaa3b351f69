"""Real pictures that ship inside scikit-image / scikit-learn, as BGR uint8, plus rendered text.

Nothing is downloaded: only the pictures bundled with the installed wheels are used.
"""
from __future__ import annotations

import functools

import cv2
import numpy as np

# hand-labelled regions (x1, y1, x2, y2) on the original pictures
ASTRONAUT_FACE_XYXY = (175, 55, 270, 180)
CAMERAMAN_FACE_XYXY = (195, 110, 255, 200)
CAMERAMAN_PERSON_XYXY = (0, 60, 335, 512)  # cut by the bottom and left edges


@functools.lru_cache(maxsize=None)
def _load(name: str) -> np.ndarray:
    import skimage.data as data

    if name in ("china", "flower"):
        from sklearn.datasets import load_sample_image

        rgb = load_sample_image(f"{name}.jpg")
    elif name in ("motorcycle_left", "motorcycle_right"):
        left, right, _disp = data.stereo_motorcycle()
        rgb = left if name == "motorcycle_left" else right
    else:
        rgb = getattr(data, name)()
    if rgb.ndim == 2:
        rgb = np.repeat(rgb[:, :, None], 3, axis=2)
    bgr = np.ascontiguousarray(rgb[:, :, 2::-1])
    bgr.setflags(write=False)
    return bgr


def picture(name: str) -> np.ndarray:
    """A writable BGR copy of a bundled picture (skimage.data names, 'china', 'flower')."""
    return _load(name).copy()


def render_label(image: np.ndarray, text: str, *, x: int, y: int, width_px: int, aspect: float,
                 ink=(20, 20, 20), paper=(235, 235, 235)) -> tuple[np.ndarray, tuple[int, int, int, int]]:
    """Draw a sign / plate: a bordered panel with ``text`` centred; returns (image, panel xyxy)."""
    img = image.copy()
    h = int(round(width_px / aspect))
    cv2.rectangle(img, (x, y), (x + width_px, y + h), paper, -1)
    cv2.rectangle(img, (x, y), (x + width_px, y + h), ink, max(1, width_px // 80))
    thick = max(1, width_px // 70)
    scale = 1.0
    # largest font that leaves a margin inside the panel
    while True:
        (tw, th), _ = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, thick)
        if tw <= 0.85 * width_px and th <= 0.6 * h:
            break
        scale *= 0.9
    cv2.putText(img, text, (x + (width_px - tw) // 2, y + (h + th) // 2), cv2.FONT_HERSHEY_SIMPLEX, scale, ink, thick, cv2.LINE_AA)
    return img, (x, y, x + width_px, y + h)


def iou(a, b) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def vtest_frames(indices: set[int]) -> dict[int, np.ndarray]:
    """Frames of vtest.avi (Debian opencv-doc; fetched and cached by scripts/fetch_vtest.sh) by index."""
    import subprocess
    from pathlib import Path

    script = Path(__file__).resolve().parents[3] / "scripts" / "fetch_vtest.sh"
    path = subprocess.run(["bash", str(script)], capture_output=True, text=True, check=True).stdout.strip()
    cap, out, i = cv2.VideoCapture(path), {}, 0
    while len(out) < len(indices):
        ok, frame = cap.read()
        assert ok, f"vtest.avi ended at frame {i}"
        if i in indices:
            out[i] = frame
        i += 1
    cap.release()
    return out
