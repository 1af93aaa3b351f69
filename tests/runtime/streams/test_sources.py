"""Sources from URLs: files, folders, synthetic scenes, the registry and its errors."""
from __future__ import annotations

import itertools

import cv2
import numpy as np
import pytest

from runtime.streams import (
    Backoff,
    FrameEvent,
    HealthState,
    ImageFolderSource,
    ScheduledEvent,
    SourceRegistry,
    StreamConfigError,
    StreamSource,
    SyntheticSource,
    VideoFileSource,
    backoff_delay_s,
    default_source_registry,
    open_source,
    parse_schedule,
)


def _clip(path, n=12, fps=10.0):
    w = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, (64, 48))
    for i in range(n):
        w.write(np.full((48, 64, 3), i * 10, np.uint8))
    w.release()
    return path


@pytest.fixture
def folder(tmp_path):
    d = tmp_path / "imgs"
    d.mkdir()
    for i in range(3):
        cv2.imwrite(str(d / f"{i:03d}.png"), np.full((20, 30, 3), i * 50, np.uint8))
    (d / "notes.txt").write_text("not an image")
    return d


@pytest.mark.parametrize(
    "url, match",
    [
        ("http://example/cam", r"unknown stream URL scheme 'http'.*SourceRegistry.register"),  # unknown scheme
        ("/no/such/clip.mp4", r"video file '/no/such/clip.mp4'.*does not exist"),  # missing file
        ("file:///no/such/clip.avi", r"'/no/such/clip.avi'.*does not exist"),  # file:// form
        ("folder:///no/such/dir", r"image folder '/no/such/dir'.*does not exist"),  # missing folder
        ("synthetic://road?fps=abc", r"fps='abc'.*not a float"),  # bad number
        ("synthetic://road?fps=0", r"fps=0.0.*expected a number in \(0, 1000\]"),  # zero rate
        ("synthetic://road?events=40-x", r"event schedule entry '40-x'"),  # bad schedule
        ("synthetic://road?events=50-40", r"event frames \[50, 40\) are empty"),  # empty interval
        ("", r"stream URL '' for camera 'cam' is empty"),  # nothing
    ],
)
def test_open_source_errors_name_the_value_and_the_fix(url, match):
    with pytest.raises(StreamConfigError, match=match):
        open_source(url, "cam")


def test_stream_config_error_is_a_value_error():
    with pytest.raises(ValueError):
        open_source("gopher://x", "cam")


def test_empty_folder_is_an_error(tmp_path):
    with pytest.raises(StreamConfigError, match="holds no images"):
        open_source(f"folder://{tmp_path}", "cam")


def test_video_file_frames_timestamps_and_end(tmp_path):
    path = _clip(tmp_path / "c.avi", n=12, fps=10.0)
    src = open_source(str(path), "cam-v")
    assert isinstance(src, VideoFileSource) and isinstance(src, StreamSource)
    evs = list(src.frames())
    assert [e.frame_index for e in evs] == list(range(12))
    assert [e.ts_ms for e in evs][:3] == [0, 100, 200]
    assert evs[0].image.shape == (48, 64, 3)
    assert src.health().state is HealthState.ENDED and src.health().frames_read == 12


def test_video_file_loop_keeps_counting(tmp_path):
    src = VideoFileSource(_clip(tmp_path / "c.avi", n=5), camera_id="cam", loop=True)
    evs = list(itertools.islice(src.frames(), 12))
    assert [e.frame_index for e in evs] == list(range(12))
    assert evs[7].ts_ms == 700


def test_image_folder_in_name_order_at_fps(folder):
    src = open_source(f"folder://{folder}?fps=2", "cam-f")
    assert isinstance(src, ImageFolderSource)
    evs = list(src.frames())
    assert [int(e.image[0, 0, 0]) for e in evs] == [0, 50, 100]
    assert [e.ts_ms for e in evs] == [0, 500, 1000]


def test_close_stops_an_endless_source():
    src = SyntheticSource("road", camera_id="cam")  # n_frames=None: endless
    it = src.frames()
    next(it)
    src.close()
    assert len(list(it)) <= 1
    assert src.health().state is HealthState.ENDED


@pytest.mark.parametrize(
    "url, scene, n_active",
    [
        ("synthetic://seafront?seed=4&fps=5&n=20&events=3-6,10-12", "seafront", 5),  # bare ranges: the scene's first event
        ("synthetic://road?seed=1&n=8&events=pothole:2-5", "road", 3),  # a named event of the scene
    ],
)
def test_synthetic_source_follows_its_schedule(url, scene, n_active):
    src = open_source(url, "cam-s")
    assert src.scene == scene
    evs = list(src.frames())
    active = [e.frame_index for e in evs if any(s.active(e.frame_index) for s in src.event_schedule)]
    assert len(active) == n_active
    assert [bool(e.labels) for e in evs] == [e.frame_index in active for e in evs]  # exact labels on every frame
    still = [e for e in evs if e.frame_index not in active]
    moved = [e for e in evs if e.frame_index in active]
    # sensor noise only between quiet frames (no pixel moves by 40 levels); the event changes a region

    def changed(a, b):
        return int((np.abs(a.image.astype(int) - b.image.astype(int)).max(axis=2) > 40).sum())

    assert changed(still[0], still[1]) == 0
    assert changed(still[0], moved[0]) > 100


def test_synthetic_is_deterministic_per_seed():
    a = [e.image for e in open_source("synthetic://road?seed=3&n=3", "a").frames()]
    b = [e.image for e in open_source("synthetic://road?seed=3&n=3", "b").frames()]
    c = [e.image for e in open_source("synthetic://road?seed=4&n=3", "c").frames()]
    assert all(np.array_equal(x, y) for x, y in zip(a, b))
    assert not np.array_equal(a[0], c[0])


def test_parse_schedule():
    assert parse_schedule("fire:1-3, 5-9") == (ScheduledEvent("fire", 1, 3), ScheduledEvent("", 5, 9))


@pytest.mark.parametrize("url, match", [
    ("synthetic://plain?seed=1", "not a taxonomy scene"),  # one generator: only the taxonomy's scenes
    ("synthetic://road?events=person_in_water:1-3", "does not happen in scene 'road'"),  # an event of another scene
    ("synthetic://road?events=5-2", "empty or negative"),
    ("synthetic://road?condition=snow", "condition 'snow'"),
])
def test_synthetic_refuses_what_the_generator_cannot_draw(url, match):
    with pytest.raises(StreamConfigError, match=match):
        open_source(url, "cam")


def test_registry_is_an_object_you_extend():
    reg = default_source_registry()
    reg.register("cam", lambda url, camera_id, **kw: SyntheticSource("road", camera_id=camera_id, n_frames=1))
    assert "cam" in reg.schemes()
    assert [str(e) for e in open_source("cam://anything", "x", registry=reg).frames()] == ["x#0@0ms"]
    with pytest.raises(StreamConfigError, match="unknown stream URL scheme 'cam'"):
        open_source("cam://anything", "x")  # the default registry was not touched
    with pytest.raises(StreamConfigError, match="not a lowercase URL scheme"):
        SourceRegistry().register("Bad Scheme", lambda *a: None)


@pytest.mark.parametrize(
    "attempt, expected_s",
    [(0, 0.5), (1, 1.0), (3, 4.0), (4, 5.0), (50, 5.0)],  # doubles, then capped at max_s
)
def test_backoff_doubles_up_to_the_cap(attempt, expected_s):
    assert backoff_delay_s(attempt, initial_s=0.5, max_s=5.0, factor=2.0) == expected_s


def test_backoff_jitter_stays_within_its_band():
    import random

    rng = random.Random(0)
    delays = [Backoff(initial_s=1.0, max_s=1.0, jitter=0.2).delay_s(0, rng) for _ in range(50)]
    assert all(0.8 <= d <= 1.2 for d in delays) and len(set(delays)) > 1


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"initial_s": 0.0}, "initial_s"),  # no zero delay: would spin
        ({"initial_s": 5.0, "max_s": 1.0}, "initial_s <= max_s"),  # cap below start
        ({"factor": 0.5}, "factor >= 1"),  # shrinking backoff
    ],
)
def test_backoff_validation(kwargs, match):
    with pytest.raises(StreamConfigError, match=match):
        Backoff(**kwargs)


def test_frame_event_str_for_logs():
    assert str(FrameEvent("c", 3, 300, np.zeros((1, 1, 3), np.uint8))) == "c#3@300ms"
