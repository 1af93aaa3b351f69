"""The scheduler's exceptions: one base, subclassing the matching builtins."""
from __future__ import annotations


class SchedulerError(RuntimeError):
    """Base of every error raised by ``scheduler``."""


class PlanError(SchedulerError, ValueError):
    """A plan's inputs are malformed (duplicate ids, bad rates, unknown cameras)."""


class PlacementError(SchedulerError):
    """The work does not fit the workers' compute or memory limits."""
