"""The demo's simulated operator: reviews alerts and reports a miss through the operations API.

It reads the synthetic generator's exact labels kept in the frame pool (a real camera has
none, and its alerts are left unreviewed), so every verdict is what a careful operator would
give; each goes through the same API routes people use.
"""
from __future__ import annotations

import time

from catalog import scene_head_id

RETRAIN_ALGORITHM = scene_head_id("road", "standing_water")

__all__ = ["report_miss", "review_alerts"]


def _truth_of(pool, frame_ref: str) -> tuple[str, ...] | None:
    try:
        return pool.get(frame_ref).truth
    except Exception:
        return None


def review_alerts(client, key: str, pool, alerts: list[dict]) -> dict:
    """Confirm alerts whose event is on the frame (the generator's labels), reject the others."""
    confirmed = rejected = 0
    for a in sorted(alerts, key=lambda a: a["ts_ms"]):
        truth = _truth_of(pool, a.get("frame_ref") or f"{a['camera_id']}:{a['frame_index']}")
        if truth is None:
            continue  # a real camera: nobody knows the truth here
        event = a["algorithm_id"].rsplit(".", 1)[-1]
        right = event in truth
        r = client.post(f"/alerts/{a['alert_id']}/feedback", json={"verdict": "confirm" if right else "reject",
                                                                  "note": "" if right else f"not {event}: {list(truth) or 'nothing'}"},
                        headers={"X-API-Key": key})
        if r.status_code < 300:
            confirmed, rejected = confirmed + right, rejected + (not right)
    return {"confirmed": confirmed, "rejected": rejected}


def report_miss(client, key: str, pool, alerts: list[dict]) -> int:
    alerted = {(a["camera_id"], a["frame_index"]) for a in alerts}
    for f in pool.frames():
        if f.truth and "standing_water" in f.truth and (f.camera_id, f.frame_index) not in alerted:
            r = client.post("/misses", json={"camera_id": f.camera_id, "event_type": "standing_water", "ts_ms": int(time.time() * 1000),
                                             "algorithm_id": RETRAIN_ALGORITHM, "frame_ref": f.frame_id,
                                             "note": "standing water not alerted"}, headers={"X-API-Key": key})
            return int(r.status_code < 300)
    return 0


