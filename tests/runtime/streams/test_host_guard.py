"""A network stream's host is re-checked at every connect, after DNS (not only at registration)."""
from __future__ import annotations

import pytest

from runtime.streams import HealthState, open_source
from runtime.streams.base import FrameEvent
from warehouse.ops import StreamPolicy
from warehouse.ops.errors import StreamUrlRefusedError


def test_a_name_that_resolves_to_a_denied_address_is_refused_at_connect():
    policy = StreamPolicy(denied_hosts=frozenset({"127.0.0.1"}))
    url = "rtsp://localhost:9/cam"
    assert policy.check(url) == url  # registration sees only the name "localhost": allowed
    src = open_source(url, "cam-dns", host_guard=policy.check_host, max_attempts=3, open_timeout_s=0.5)
    assert list(src.frames()) == []  # refused before any connect: no frames, no retry loop
    h = src.health()
    assert h.state is HealthState.FAILED
    assert "127.0.0.1" in h.last_error and "connect time" in h.last_error and "localhost" in h.last_error


def test_a_link_local_literal_is_refused_without_touching_the_network():
    calls: list[str] = []

    def guard(host: str) -> None:
        calls.append(host)
        StreamPolicy().check_host(host)

    src = open_source("rtsp://169.254.169.254/latest", "cam-meta", host_guard=guard, max_attempts=1)
    assert list(src.frames()) == [] and src.health().state is HealthState.FAILED
    assert calls[0] == "169.254.169.254"
    assert "metadata" in src.health().last_error


def test_local_and_synthetic_sources_ignore_the_guard():
    def guard(host: str) -> None:  # would refuse anything it were asked about
        raise StreamUrlRefusedError(f"asked about {host!r}")

    src = open_source("synthetic://road?seed=1&n=3", "cam-syn", host_guard=guard)
    assert [e.frame_index for e in src.frames() if isinstance(e, FrameEvent)] == [0, 1, 2]


@pytest.mark.rtsp
@pytest.mark.slow
def test_an_allowed_host_streams_with_the_guard_on(rtsp_url):
    seen: list[str] = []

    def guard(host: str) -> None:
        seen.append(host)
        StreamPolicy().check_host(host)

    src = open_source(rtsp_url, "cam-ok", host_guard=guard)
    got = []
    for ev in src.frames():
        got.append(ev)
        if len(got) == 3:
            break
    src.close()
    assert len(got) == 3 and "127.0.0.1" in seen


def test_the_worker_reports_a_refused_stream_as_an_error_the_control_plane_sees():
    from runtime.worker_control import _StreamRun
    from runtime.reader import StreamReader

    class NullWorker:
        def process(self, batch):  # pragma: no cover - never reached: the source is refused
            raise AssertionError("no frame should arrive")

    policy = StreamPolicy(denied_hosts=frozenset({"127.0.0.1"}))
    reader = StreamReader("cam-w", "rtsp://localhost:9/x", fps=5, worker=NullWorker(), host_guard=policy.check_host,
                          source_options={"max_attempts": 2, "open_timeout_s": 0.5})
    run = _StreamRun(reader, "rtsp://localhost:9/x", 5)
    run.main()
    assert run.finished and run.error is not None and run.error.startswith("source failed:")
    assert "denied host" in run.error
