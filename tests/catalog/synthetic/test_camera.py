"""SyntheticCamera: a static view, small sensor noise, events on schedule, video files."""
from __future__ import annotations

import cv2
import numpy as np
import pytest

from catalog import TaxonomyError
from catalog.synthetic import ScheduledEvent, SyntheticCamera, SyntheticSceneError, render_frame

HW = (180, 320)


def _cam(**kw):
    args = dict(scene="parking_lot", seed=21, fps=10, event_schedule=[ScheduledEvent("fire", 10, 14), ("pothole", 30, 33)], size_hw=HW)
    args.update(kw)
    return SyntheticCamera(**args)


def test_labels_follow_the_schedule():
    got = {i: tuple(lb.event for lb in labels) for i, _, labels in _cam().frames(40)}
    assert got[9] == () and got[10] == ("fire",) and got[13] == ("fire",) and got[14] == ()
    assert got[30] == ("pothole",) and got[33] == ()


def test_quiet_frames_differ_by_noise_only_and_events_are_visible():
    frames = list(_cam().frames(40))
    step = [np.abs(b[1].astype(int) - a[1].astype(int)).mean() for a, b in zip(frames, frames[1:])]
    quiet = [d for i, d in enumerate(step, start=1) if frames[i][2] == frames[i - 1][2]]
    changes = [d for i, d in enumerate(step, start=1) if frames[i][2] != frames[i - 1][2]]
    assert max(quiet) < 3.0
    assert min(changes) > 3 * max(quiet)
    # a simple gate on the mean difference skips at least 80% of this sparse schedule
    assert sum(d < 3.0 for d in step) / len(step) >= 0.8


def test_event_frame_matches_render_frame_without_noise():
    cam = _cam(noise_sigma=0, condition="fog")
    img, labels = cam.frame(11)
    ref = render_frame("parking_lot", events=("fire",), seed=21, condition="fog", size_hw=HW)
    assert img.tobytes() == ref.image.tobytes() and labels == ref.labels


def test_same_seed_same_video():
    a = [img.tobytes() for _, img, _ in _cam().frames(5, start=8)]
    b = [img.tobytes() for _, img, _ in _cam().frames(5, start=8)]
    assert a == b


@pytest.mark.parametrize("suffix", [".avi", ".mp4"])
def test_write_video_reads_back(tmp_path, suffix):
    path = _cam().write_video(tmp_path / f"cam{suffix}", 12)
    cap = cv2.VideoCapture(str(path))
    n = 0
    while True:
        ok, frame = cap.read()
        if not ok:
            break
        assert frame.shape == (*HW, 3)
        n += 1
    cap.release()
    assert n == 12
    assert not list(tmp_path.glob(".*tmp*"))  # no temp file left behind


@pytest.mark.parametrize(
    "kwargs,exc,match",
    [
        ({"event_schedule": [("fire", 5, 5)]}, SyntheticSceneError, "start_frame < end_frame"),  # empty window
        ({"event_schedule": [("boat_in_restricted_zone", 0, 5)]}, TaxonomyError, "not allowed"),  # wrong scene
        ({"fps": 0}, SyntheticSceneError, "fps must be > 0"),  # bad rate
    ],
)
def test_bad_arguments(kwargs, exc, match):
    with pytest.raises(exc, match=match):
        _cam(**kwargs)


def test_write_video_refuses_unknown_suffix(tmp_path):
    with pytest.raises(SyntheticSceneError, match=r"\.avi"):
        _cam().write_video(tmp_path / "x.mkv", 2)
