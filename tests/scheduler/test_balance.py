"""Spreading for headroom: when capacity is loose, cameras do not pile onto one worker."""
from __future__ import annotations

from scheduler import Instance, check, plan


def _loose(n_cameras: int = 8, n_workers: int = 3) -> Instance:
    return Instance.from_json({
        "format": "warehouse.schedule/1", "backbone": {"memory_mib": 64.0},
        "workers": [{"id": f"w{i}", "node": f"n{i}", "compute_ms_per_s": 800.0, "memory_mib": 4096.0} for i in range(n_workers)],
        "cameras": [{"id": f"c{i}", "decode_ms": 2.0, "backbone_ms": 8.0, "node": None} for i in range(n_cameras)],
        "algorithms": [{"id": "a", "head_ms": 0.02, "memory_mib": 0.1}],
        "demands": [{"camera": f"c{i}", "algorithm": "a", "priority": 1.0, "fps": 2.0, "min_fps": 0.5} for i in range(n_cameras)],
        "jobs": [],
    })


def test_loose_capacity_spreads_cameras_over_the_workers_without_losing_objective():
    inst = _loose()
    p = plan(inst)
    assert check(inst, p).ok
    per_worker = {}
    for c in p.cameras:
        per_worker[c.worker] = per_worker.get(c.worker, 0) + 1
    assert len(per_worker) == 3 and max(per_worker.values()) - min(per_worker.values()) <= 1  # 3/3/2
    assert abs(p.objective - 8.0) < 1e-9  # every demand at its full rate, as packing tightly would give


def test_a_single_worker_keeps_everything():
    inst = _loose(n_workers=1)
    p = plan(inst)
    assert check(inst, p).ok and {c.worker for c in p.cameras} == {"w0"}
