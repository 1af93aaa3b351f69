"""scheduler: turning assignments and workers into a placement plan (plain data).

>>> from scheduler import Assignment, Worker, simple_plan
>>> plan = simple_plan(["cam-1"], [Assignment("cam-1", "fire", fps=5)], [Worker("w0", compute_fps=20, memory_mib=256)])
>>> plan.cameras_on("w0")
('cam-1',)
"""
from scheduler.errors import PlacementError, PlanError, SchedulerError
from scheduler.plan import Assignment, CameraPlacement, CostModel, Plan, Worker, simple_plan

__all__ = [
    "Assignment",
    "CameraPlacement",
    "CostModel",
    "PlacementError",
    "Plan",
    "PlanError",
    "SchedulerError",
    "Worker",
    "simple_plan",
]
