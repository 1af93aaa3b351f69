"""The scheduler's exceptions: one base, subclassing the matching builtins."""
from __future__ import annotations


class SchedulerError(RuntimeError):
    """Base of every error raised by ``scheduler``."""


class PlanError(SchedulerError, ValueError):
    """A plan's inputs are malformed (duplicate ids, bad rates, unknown cameras)."""


class PlacementError(SchedulerError):
    """The work does not fit the workers' compute or memory limits."""


class InstanceError(PlanError):
    """A ``warehouse.schedule/1`` instance is malformed; the message names the field, the
    value received and the fix."""


class PlanFormatError(PlanError):
    """A ``warehouse.plan/1`` plan document is malformed (shape, not rule violations: those
    are what :func:`scheduler.check` reports)."""
