"""vtest as a real camera: served over RTSP by GStreamer, read by the runtime's RtspSource, people
found and tracked on the stream."""
from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from runtime import RtspSource
from runtime.detectors import NanoDetDetector
from runtime.tracking import ObjectTracker

REPO = Path(__file__).resolve().parents[3]

pytestmark = [pytest.mark.rtsp, pytest.mark.slow]


def test_vtest_over_rtsp(_rtsp_support):
    from tests.fixtures.rtsp import RtspServer, free_port

    mjpg = subprocess.run(["bash", str(REPO / "scripts" / "fetch_vtest.sh"), "--mjpg"], capture_output=True, text=True,
                          check=True).stdout.strip()
    server = RtspServer(Path(mjpg), free_port(), "/vtest")
    server.start()
    det, tracker = NanoDetDetector.from_cache(intra_op_threads=2), ObjectTracker()
    src = RtspSource(server.url, camera_id="vtest", max_attempts=3)
    try:
        seen, people_per_run, ids = 0, [], set()
        for frame in src.frames():
            assert frame.image.shape == (576, 768, 3) and frame.camera_id == "vtest"
            if seen % 5 == 0:  # the detector at 2 fps of the 10 fps camera
                objs = [o for o in tracker.update(det.detect(frame.image), ts_ms=frame.ts_ms) if o.label == "person"]
                people_per_run.append(len(objs))  # first sightings included (track_id None)
                ids.update(o.track_id for o in objs if o.track_id is not None)
            seen += 1
            if seen >= 30:
                break
    finally:
        src.close()
        server.stop()
    # the first seconds of vtest hold 3 walkers (hand labels of frame 8): found and kept under their ids
    assert seen == 30 and max(people_per_run) >= 3
    assert 3 <= len(ids) <= 5
