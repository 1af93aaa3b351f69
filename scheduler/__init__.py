"""scheduler: which camera's algorithms run where, and how often (pure decisions, plain data).

The instance (``warehouse.schedule/1``) and the plan (``warehouse.plan/1``) are documented
in docs/scheduler.md. ``plan`` maximises the objective (incrementally against a previous
plan), ``check`` verifies any plan, ``lp_bound`` bounds the objective from above.

>>> from scheduler import check, lp_bound, plan
>>> from scheduler.families import tiny
>>> inst = tiny()
>>> p = plan(inst)
>>> check(inst, p).ok, p.objective <= lp_bound(inst)
(True, True)
>>> p2 = plan(inst.replace(jobs=()), previous=p)
>>> check(inst.replace(jobs=()), p2).ok, p2.migrations
(True, 0)

``simple_plan`` (round-robin over ``Worker``/``Assignment`` records) is the older placement
the runtime's deploy path still takes; ``PlanResult.to_placements()`` turns a plan into it.
"""
from scheduler.baselines import first_fit_decreasing, round_robin
from scheduler.bound import BoundError, BoundReport, bounds, lp_bound
from scheduler.bound_config import config_bound
from scheduler.check import CheckReport, Violation, WorkerUsage, check
from scheduler.drift import DriftPolicy, drift, needs_full_replan
from scheduler.errors import InstanceError, PlacementError, PlanError, PlanFormatError, SchedulerError
from scheduler.families import FAMILIES, generate, tiny
from scheduler.instance import (
    INSTANCE_FORMAT,
    AlgorithmSpec,
    Backbone,
    CameraSpec,
    Demand,
    Instance,
    JobSpec,
    WorkerSpec,
)
from scheduler.plan import Assignment, CameraPlacement, CostModel, Plan, Worker, simple_plan
from scheduler.incremental import rebase
from scheduler.reuse import InstanceReader
from scheduler.planning import plan
from scheduler.result import (
    PLAN_FORMAT,
    CameraAssignment,
    Grant,
    JobPlacement,
    PlanResult,
    UnplacedJob,
    Unserved,
)

__all__ = [
    "FAMILIES",
    "INSTANCE_FORMAT",
    "PLAN_FORMAT",
    "AlgorithmSpec",
    "Assignment",
    "Backbone",
    "BoundError",
    "BoundReport",
    "CameraAssignment",
    "CameraPlacement",
    "CameraSpec",
    "CheckReport",
    "CostModel",
    "Demand",
    "DriftPolicy",
    "Grant",
    "Instance",
    "InstanceReader",
    "InstanceError",
    "JobPlacement",
    "JobSpec",
    "PlacementError",
    "Plan",
    "PlanError",
    "PlanFormatError",
    "PlanResult",
    "SchedulerError",
    "UnplacedJob",
    "Unserved",
    "Violation",
    "Worker",
    "WorkerSpec",
    "WorkerUsage",
    "bounds",
    "check",
    "config_bound",
    "drift",
    "first_fit_decreasing",
    "generate",
    "lp_bound",
    "needs_full_replan",
    "plan",
    "rebase",
    "round_robin",
    "simple_plan",
    "tiny",
]
