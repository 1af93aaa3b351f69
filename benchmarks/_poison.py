"""Records for the fault benchmark: a valid event of each topic, and malformed ones (the shapes
that used to wedge consumers, and random mutations)."""
from __future__ import annotations

import json
import random

from warehouse.bus import AlertEvent, FeedbackEvent, MissEvent, to_wire

TS = 1_780_000_000_000
ALGORITHMS = [f"scene.road.event{i}" for i in range(6)]


def make_event(topic: str, i: int, run: str) -> tuple[dict, str]:
    """A valid event number ``i`` of ``topic`` and its key."""
    alg = ALGORITHMS[i % len(ALGORITHMS)]
    if topic == "alerts":
        cam = f"cam-{i % 8}"
        ev = AlertEvent.build(alert_id=f"al-{run}-{i}", camera_id=cam, algorithm_id=alg, model_version="1", score=0.9,
                              xyxy=(0, 0, 8, 8), frame_index=i, stream_ts_ms=i * 40, ts_ms=TS + i)  # fmt: skip
        return to_wire(ev), cam
    if topic == "feedback":
        ev = FeedbackEvent(event_id=f"fb-{run}-{i}", feedback_id=f"fb-{run}-{i}", alert_id=f"al-{run}-{i}", camera_id="cam-1",
                           algorithm_id=alg, verdict="reject", operator="op", frame_ref=f"cam-1:{i}", alert_ts_ms=TS + i)  # fmt: skip
        return to_wire(ev), alg
    ev = MissEvent(event_id=f"miss-{run}-{i}", kind="false_alarm", camera_id="cam-1", algorithm_id=alg,
                   frame_ref=f"cam-1:{i}", ts_ms=TS + i)  # fmt: skip
    return to_wire(ev), alg


# (topic, field) shapes reported in issue 9 as wedging a consumer, plus the classic byte-level ones
KNOWN = {
    "alerts": [("ts_ms", None), ("ts_ms", 2**63 + 5), ("alert_id", {"a": 1}), ("camera_id", ["cam-1"]),
               ("score", "high"), ("xyxy", [0, 0, 1]), ("frame_index", -1), ("type", "miss")],
    "feedback": [("type", ...), ("ts_ms", 5), ("algorithm_id", 42), ("verdict", "maybe"), ("operator", ""),
                 ("alert_id", None)],
    "miss-events": [("algorithm_id", 7), ("kind", "oops"), ("ts_ms", "yesterday"), ("camera_id", ...),
                    ("event_id", ""), ("frame_ref", "../../etc/passwd")],
}  # fmt: skip
BYTES = [b"", b"not json", b"\xff\xfe\x00garbage", b"[1, 2, 3]", b"null", b"[" * 5000, b'{"event_id": NaN}',
         b'{"event_id": "x"' ]  # fmt: skip
WRONG = [None, True, -1, 2**64, 1e308, "", "x" * 300, [], {}, [[[]]], "\u0000"]


def _base(topic: str, i: int) -> dict:
    return make_event(topic, i, "poison")[0]


def _valid(topic: str, record: dict) -> bool:
    from warehouse.bus import parse_event

    try:
        parse_event(topic, record)
    except ValueError:
        return False
    return True


def malformed_values(topic: str, rng: random.Random, n: int) -> list[bytes]:
    """``n`` malformed records for ``topic``: the known shapes first, then byte garbage, then random mutations."""
    out: list[bytes] = []
    for field, value in KNOWN.get(topic, []):
        record = _base(topic, len(out))
        if value is ...:
            record.pop(field, None)
        else:
            record[field] = value
        if not _valid(topic, record):  # e.g. feedback without "type" takes the topic's type: valid
            out.append(json.dumps(record).encode())
    out.extend(BYTES)
    while len(out) < n:
        record = _base(topic, len(out))
        field = rng.choice(sorted(record))
        if rng.random() < 0.3:
            record.pop(field)
        else:
            record[field] = rng.choice(WRONG)
        if not _valid(topic, record):  # a mutation can be valid (an optional field set to None)
            out.append(json.dumps(record).encode())
    return out
