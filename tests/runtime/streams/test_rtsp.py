"""RtspSource against a real gst-rtsp-server: frames, unreachable cameras, reconnects."""
from __future__ import annotations

import threading
import time

import pytest

from runtime.streams import Backoff, HealthState, RtspSource, open_source
from tests.fixtures.rtsp import free_port

pytestmark = [pytest.mark.rtsp, pytest.mark.slow]

FAST = Backoff(initial_s=0.2, max_s=1.0, factor=2.0, jitter=0.0)


class Collector(threading.Thread):
    """Drains a source in its own thread, as a reader actor would."""

    def __init__(self, source) -> None:
        super().__init__(daemon=True)
        self.source, self.events = source, []

    def run(self) -> None:
        for ev in self.source.frames():
            self.events.append(ev)

    def wait_for(self, n: int, timeout_s: float) -> bool:
        deadline = time.monotonic() + timeout_s
        while len(self.events) < n and time.monotonic() < deadline:
            time.sleep(0.05)
        return len(self.events) >= n


def test_frames_arrive_over_rtsp(rtsp_url):
    src = open_source(rtsp_url, "rtsp-cam", backoff=FAST)
    assert isinstance(src, RtspSource)
    got = []
    for ev in src.frames():
        got.append(ev)
        if len(got) == 15:
            break
    src.close()
    assert [e.frame_index for e in got] == list(range(15))
    assert got[0].image.shape == (240, 320, 3) and got[0].camera_id == "rtsp-cam"
    assert all(b.ts_ms >= a.ts_ms for a, b in zip(got, got[1:]))
    assert src.health().frames_read == 15


def test_unreachable_camera_is_unhealthy_and_does_not_disturb_a_healthy_one(rtsp_url):
    dead = RtspSource(f"rtsp://127.0.0.1:{free_port()}/nothing", camera_id="dead", backoff=FAST, open_timeout_s=1.0)
    live = RtspSource(rtsp_url, camera_id="live", backoff=FAST)
    readers = [Collector(dead), Collector(live)]
    for r in readers:
        r.start()
    try:
        assert readers[1].wait_for(20, timeout_s=30), "healthy camera stalled next to an unreachable one"
        h = dead.health()
        assert h.state is HealthState.UNHEALTHY
        assert h.consecutive_failures >= 2 and h.retry_in_s > 0 and "cannot open" in h.last_error
        assert live.health().state is HealthState.HEALTHY
        assert readers[0].events == []
    finally:
        dead.close(), live.close()
        for r in readers:
            r.join(timeout=15)
    assert not any(r.is_alive() for r in readers)


def test_reconnects_when_the_server_comes_back(rtsp_server):
    srv = rtsp_server()
    src = RtspSource(srv.url, camera_id="flaky", backoff=FAST, read_timeout_s=2.0)
    reader = Collector(src)
    reader.start()
    try:
        assert reader.wait_for(10, timeout_s=30)
        srv.stop()  # killed mid-stream
        deadline = time.monotonic() + 20
        while src.health().state is not HealthState.UNHEALTHY and time.monotonic() < deadline:
            time.sleep(0.1)
        assert src.health().state is HealthState.UNHEALTHY
        before = len(reader.events)
        srv.start()
        assert reader.wait_for(before + 10, timeout_s=40), "no frames after the server came back"
        h = src.health()
        assert h.state is HealthState.HEALTHY and h.reconnects >= 1
        idx = [e.frame_index for e in reader.events]
        assert idx == list(range(len(idx)))  # indices keep counting across the reconnect
    finally:
        src.close()
        reader.join(timeout=15)


def test_max_attempts_gives_up_with_failed_state():
    src = RtspSource(f"rtsp://127.0.0.1:{free_port()}/x", camera_id="gone", backoff=FAST, max_attempts=2,
                     open_timeout_s=1.0)
    assert list(src.frames()) == []
    h = src.health()
    assert h.state is HealthState.FAILED and h.consecutive_failures == 2
