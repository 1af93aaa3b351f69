"""Change-gating benchmark: skip rate on static synthetic scenes, and events missed.

An event is *missed* when none of the frames inside its scheduled interval passes the
gate. Scenes come from ``catalog.synthetic`` (static background, sensor noise, events
that appear and stay for their interval).

    .venv/bin/python -m benchmarks.gating            # 4 scenes x 300 frames
    .venv/bin/python -m benchmarks.gating --full     # all 16 scenes x 1000 frames

Prints one JSON object as its last line.
"""
from __future__ import annotations

import argparse
import json
import logging
import time

from runtime.gating import ChangeGate
from runtime.streams import ScheduledEvent, SyntheticSource


def measure(source, gate: ChangeGate | None = None) -> dict:
    """Run ``source`` (a finite SyntheticSource) through ``gate``; skip rate and missed events."""
    gate = gate or ChangeGate()
    passed: set[int] = set()
    n = 0
    for ev in source.frames():
        n += 1
        if gate.decide(ev.image).passed:
            passed.add(ev.frame_index)
    missed = [s for s in source.event_schedule if not any(s.start_frame <= i < s.end_frame for i in passed)]
    return {"frames": n, "passed": len(passed), "skip_rate": 1.0 - len(passed) / max(1, n),
            "events": len(source.event_schedule), "missed_events": len(missed)}


def _schedule(n_frames: int, kinds: list[str], seed: int) -> list[ScheduledEvent]:
    """Events covering ~10% of the frames, spread out, 10-20 frames each."""
    import random

    rng = random.Random(seed)
    count = max(1, n_frames // 100)
    slot = n_frames // count
    out = []
    for k in range(count):
        length = rng.randint(10, 20)
        start = k * slot + rng.randint(5, max(6, slot - length - 5))
        out.append(ScheduledEvent(kinds[k % len(kinds)] if kinds else "", start, min(n_frames, start + length)))
    return out


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--full", action="store_true", help="16 scenes x 1000 frames")
    ap.add_argument("--frames", type=int, default=None)
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)

    from catalog import load_taxonomy
    from catalog.synthetic import SCENE_PAINTERS

    pairs = load_taxonomy().scene_event_pairs()
    scenes = list(SCENE_PAINTERS) if args.full else ["road", "seafront", "tunnel", "plaza"]
    n_frames = args.frames or (1000 if args.full else 300)
    t0 = time.perf_counter()
    per_scene, frames, passed, events, missed, event_frames = {}, 0, 0, 0, 0, 0
    for i, scene in enumerate(scenes):
        kinds = [e for s, e in pairs if s == scene][:4]
        src = SyntheticSource(scene, camera_id=f"bench-{scene}", seed=i, fps=10, n_frames=n_frames,
                              event_schedule=_schedule(n_frames, kinds, seed=i))
        r = measure(src)
        event_frames += sum(s.end_frame - s.start_frame for s in src.event_schedule)
        per_scene[scene] = {"skip_rate": round(r["skip_rate"], 4), "missed_events": r["missed_events"]}
        frames, passed, events, missed = frames + r["frames"], passed + r["passed"], events + r["events"], missed + r["missed_events"]
    elapsed = time.perf_counter() - t0
    result = {
        "benchmark": "gating",
        "scenes": len(scenes),
        "frames": frames,
        "events": events,
        "skip_rate": round(1.0 - passed / max(1, frames), 4),
        "missed_events": missed,
        "event_frame_fraction": round(event_frames / max(1, frames), 4),
        "per_scene": per_scene,
        "wall_s": round(elapsed, 2),
    }
    print(json.dumps(result))
    return result


if __name__ == "__main__":
    main()
