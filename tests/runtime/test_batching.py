"""Cross-camera batching: the pure policy, and the thread-safe batcher around it."""
from __future__ import annotations

import threading

import pytest

from runtime import BatchingError, BatchPolicy, CrossCameraBatcher, PendingFrame, plan_batch


def _pending(cams: str, t0: float = 0.0) -> list[PendingFrame]:
    return [PendingFrame(c, None, i, enqueued_s=t0, seq=i) for i, c in enumerate(cams)]


@pytest.mark.parametrize(
    ("cams", "now_s", "policy", "force", "take", "wait_s"),
    [
        ("", 0.0, BatchPolicy(max_batch=4, max_wait_ms=10), False, (), float("inf")),  # nothing pending
        ("aab", 0.002, BatchPolicy(max_batch=4, max_wait_ms=10), False, (), 0.008),  # not full, not old: wait the rest
        ("aabb", 0.0, BatchPolicy(max_batch=4, max_wait_ms=10), False, (0, 1, 2, 3), 0.0),  # full: go now
        ("aabbc", 0.0, BatchPolicy(max_batch=4, max_wait_ms=10), False, (0, 1, 2, 3), 0.0),  # full takes the oldest
        ("aab", 0.010, BatchPolicy(max_batch=4, max_wait_ms=10), False, (0, 1, 2), 0.0),  # oldest waited max_wait
        ("aab", 0.0, BatchPolicy(max_batch=4, max_wait_ms=10), True, (0, 1, 2), 0.0),  # draining
        ("aaaab", 0.0, BatchPolicy(max_batch=3, max_wait_ms=10, max_per_camera=2), False, (0, 1, 4), 0.0),  # fair share
        ("aaaa", 0.02, BatchPolicy(max_batch=3, max_wait_ms=10, max_per_camera=1), False, (0,), 0.0),  # one camera only
    ],
)
def test_plan_batch(cams, now_s, policy, force, take, wait_s):
    d = plan_batch(_pending(cams), now_s=now_s, policy=policy, force=force)
    assert d.take == take
    assert d.wait_s == pytest.approx(wait_s)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"max_batch": 0}, "max_batch must be >= 1, got 0"),
        ({"max_wait_ms": -1}, "max_wait_ms must be >= 0, got -1"),
        ({"max_per_camera": 0}, "max_per_camera must be >= 1 or None, got 0"),
        ({"max_batch": 8, "max_pending": 4}, "max_pending \\(4\\) must be >= max_batch \\(8\\)"),
    ],
)
def test_policy_validation(kwargs, match):
    with pytest.raises(BatchingError, match=match):
        BatchPolicy(**kwargs)


def test_batcher_mixes_cameras_and_keeps_order_and_ids():
    now = [0.0]
    b = CrossCameraBatcher(BatchPolicy(max_batch=3, max_wait_ms=5), clock=lambda: now[0])
    for i, cam in enumerate("abcab"):
        b.put(cam, f"frame-{i}", frame_id=i)
    assert [(p.camera_id, p.frame_id) for p in b.next_batch()] == [("a", 0), ("b", 1), ("c", 2)]
    assert b.next_batch() == []  # 2 left, not yet due
    now[0] = 0.006
    assert [p.frame for p in b.next_batch()] == ["frame-3", "frame-4"]


def test_batcher_drops_the_oldest_beyond_max_pending():
    b = CrossCameraBatcher(BatchPolicy(max_batch=2, max_wait_ms=0, max_pending=3), clock=lambda: 0.0)
    for i in range(5):
        b.put("a", i, frame_id=i)
    assert b.dropped == 2
    assert [p.frame_id for p in b.next_batch(force=True)] == [2, 3]


def test_get_blocks_until_a_batch_is_due_and_drains_on_close():
    b = CrossCameraBatcher(BatchPolicy(max_batch=4, max_wait_ms=10_000))
    got = []

    def consumer():
        while True:
            batch = b.get()
            if not batch:
                return
            got.append([p.frame_id for p in batch])

    t = threading.Thread(target=consumer)
    t.start()
    for i in range(6):
        b.put(f"cam-{i % 3}", None, frame_id=i)
    b.close()
    t.join(timeout=10)
    assert not t.is_alive()
    assert [i for batch in got for i in batch] == list(range(6)) and all(len(x) <= 4 for x in got)


def test_get_returns_empty_after_timeout():
    b = CrossCameraBatcher(BatchPolicy(max_batch=4, max_wait_ms=10_000))
    assert b.get(timeout_s=0.01) == []


def test_closed_batcher_refuses_frames():
    b = CrossCameraBatcher()
    b.close()
    with pytest.raises(BatchingError, match="closed; frame from camera 'cam-1'"):
        b.put("cam-1", None)
