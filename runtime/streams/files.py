"""Finite sources: a video file (OpenCV FFmpeg) and a folder of images.

>>> src = VideoFileSource("clip.avi", camera_id="cam-1")          # doctest: +SKIP
>>> [str(ev) for ev in itertools.islice(src.frames(), 2)]          # doctest: +SKIP
['cam-1#0@0ms', 'cam-1#1@100ms']
"""
from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Iterator

import cv2

from runtime.streams.base import (
    FrameEvent,
    HealthState,
    HealthTracker,
    StreamConfigError,
    TrackedSource,
    check_fps,
    media_ts_ms,
)

log = logging.getLogger(__name__)

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff")


def _pace(t0: float, i: int, fps: float, closed) -> None:
    delay = t0 + i / fps - time.monotonic()
    if delay > 0:
        closed.wait(delay)


class VideoFileSource(TrackedSource):
    """Frames of a video file at the file's rate. ``realtime=True`` paces reads to the
    file's fps (a stand-in camera); ``loop=True`` restarts at the end (frame indices and
    timestamps keep increasing)."""

    def __init__(self, path: str | Path, *, camera_id: str, loop: bool = False, realtime: bool = False,
                 fps: float | None = None, start_ms: int = 0) -> None:
        p = Path(path)
        if not p.is_file():
            raise StreamConfigError(
                f"video file {str(p)!r} for camera {camera_id!r} does not exist; pass an existing file path, "
                "or use rtsp://, folder:// or synthetic:// for other kinds of source"
            )
        self.camera_id = camera_id
        self.url = str(p)
        self._loop, self._realtime, self._start_ms = loop, realtime, start_ms
        cap = cv2.VideoCapture(self.url, cv2.CAP_FFMPEG)
        if not cap.isOpened():
            raise StreamConfigError(f"video file {self.url!r} cannot be decoded by OpenCV's FFmpeg backend; "
                                    "re-encode it (e.g. H.264 MP4 or MJPG AVI)")
        file_fps = cap.get(cv2.CAP_PROP_FPS) or 0.0
        cap.release()
        self._fps = check_fps(fps, self.url) if fps is not None else (file_fps if 0 < file_fps <= 1000 else 25.0)
        self._health = HealthTracker(camera_id)

    def frames(self) -> Iterator[FrameEvent]:
        i, t0, closed = 0, time.monotonic(), self._health.closed
        while not closed.is_set():
            cap = cv2.VideoCapture(self.url, cv2.CAP_FFMPEG)
            read_any = False
            try:
                while not closed.is_set():
                    ok, img = cap.read()
                    if not ok:
                        break
                    read_any = True
                    if self._realtime:
                        _pace(t0, i, self._fps, closed)
                    self._health.frame_read()
                    yield FrameEvent(self.camera_id, i, media_ts_ms(self._start_ms, i, self._fps), img)
                    i += 1
            finally:
                cap.release()
            if not (self._loop and read_any):
                break
        self._health.update(state=HealthState.ENDED)
        log.info("video source ended camera=%s url=%s frames=%d", self.camera_id, self.url, i)


class ImageFolderSource(TrackedSource):
    """The images of a folder in name order, as frames at ``fps`` (default 1)."""

    def __init__(self, folder: str | Path, *, camera_id: str, fps: float = 1.0, loop: bool = False,
                 realtime: bool = False, start_ms: int = 0) -> None:
        d = Path(folder)
        if not d.is_dir():
            raise StreamConfigError(
                f"image folder {str(d)!r} for camera {camera_id!r} does not exist; "
                "pass folder://<existing directory with .jpg/.png images>"
            )
        self._paths = sorted(p for p in d.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        if not self._paths:
            raise StreamConfigError(
                f"image folder {str(d)!r} holds no images (looked for {', '.join(IMAGE_SUFFIXES)}); add some or fix the path"
            )
        self.camera_id = camera_id
        self.url = f"folder://{d}"
        self._fps = check_fps(fps, self.url)
        self._loop, self._realtime, self._start_ms = loop, realtime, start_ms
        self._health = HealthTracker(camera_id)

    def frames(self) -> Iterator[FrameEvent]:
        i, t0, closed = 0, time.monotonic(), self._health.closed
        while not closed.is_set():
            for p in self._paths:
                if closed.is_set():
                    break
                img = cv2.imread(str(p), cv2.IMREAD_COLOR)
                if img is None:
                    # one unreadable file should not end the camera: record it and go on
                    log.warning("unreadable image camera=%s path=%s", self.camera_id, p)
                    self._health.update(last_error=f"unreadable image {p.name}")
                    continue
                if self._realtime:
                    _pace(t0, i, self._fps, closed)
                self._health.frame_read()
                yield FrameEvent(self.camera_id, i, media_ts_ms(self._start_ms, i, self._fps), img)
                i += 1
            if not self._loop:
                break
        self._health.update(state=HealthState.ENDED)
