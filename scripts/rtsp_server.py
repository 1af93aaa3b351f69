#!/usr/bin/python3
"""Serve one video file over RTSP on loopback (GStreamer's gst-rtsp-server).

Runs under Debian's system Python (``/usr/bin/python3``, which has ``gi``), not the project
venv. Used by the test fixture ``tests/fixtures/rtsp.py``; handy by hand too::

    /usr/bin/python3 scripts/rtsp_server.py --file clip.avi --port 8554 --path /cam
    # -> rtsp://127.0.0.1:8554/cam

    # the real CCTV clip vtest.avi as a camera (MP43 needs gst-libav; its MJPG re-encode plays with
    # the base + good plugins):
    /usr/bin/python3 scripts/rtsp_server.py --file "$(bash scripts/fetch_vtest.sh --mjpg)" --path /vtest

The file is decoded and re-encoded to H.264 (x264, zero-latency) in real time. Each client
gets its own pipeline (``shared=False``), so a client that reconnects starts the file again;
at the file's end the client sees end-of-stream (write a clip long enough for the test).

Debian packages: gir1.2-gst-rtsp-server-1.0 python3-gi gstreamer1.0-plugins-base
gstreamer1.0-plugins-good gstreamer1.0-plugins-ugly (x264enc).
"""
from __future__ import annotations

import argparse
import signal
import sys

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import GLib, Gst, GstRtspServer  # noqa: E402


def _pipeline(path: str) -> str:
    # decodebin picks avidemux+jpegdec for the MJPG/AVI clips the tests write
    return (
        f'( filesrc location="{path}" ! decodebin ! videoconvert ! video/x-raw,format=I420 ! '
        "x264enc tune=zerolatency speed-preset=ultrafast key-int-max=10 bitrate=2000 ! "
        "rtph264pay name=pay0 pt=96 config-interval=1 )"
    )


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--file", required=True, help="video file to serve (MJPG AVI works with base+good plugins)")
    ap.add_argument("--port", type=int, default=8554)
    ap.add_argument("--path", default="/cam", help="mount point, e.g. /cam -> rtsp://127.0.0.1:PORT/cam")
    ap.add_argument("--host", default="127.0.0.1")
    args = ap.parse_args(argv)

    Gst.init(None)
    server = GstRtspServer.RTSPServer()
    server.set_address(args.host)
    server.set_service(str(args.port))
    factory = GstRtspServer.RTSPMediaFactory()
    factory.set_launch(_pipeline(args.file))
    factory.set_shared(False)
    server.get_mount_points().add_factory(args.path, factory)
    if server.attach(None) == 0:
        sys.stderr.write(f"rtsp_server: cannot bind {args.host}:{args.port}\n")
        return 2
    loop = GLib.MainLoop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, sig, loop.quit)
    # the fixture waits for this line before connecting
    sys.stdout.write(f"READY rtsp://{args.host}:{args.port}{args.path}\n")
    sys.stdout.flush()
    loop.run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
