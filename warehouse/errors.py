"""One exception base for the application layer; messages name the value and the fix."""
from __future__ import annotations


class WarehouseError(Exception):
    """Base of errors raised by :mod:`warehouse`."""


class UnknownCameraError(WarehouseError, KeyError):
    def __init__(self, camera_id: str, known: list[str] | None = None) -> None:
        hint = f" Registered cameras: {', '.join(sorted(known)[:10])}{'…' if len(known) > 10 else ''}." if known else ""
        super().__init__(
            f"unknown camera {camera_id!r}.{hint} Register it first (POST /cameras or `warehouse camera add`)."
        )
        self.camera_id = camera_id

    def __str__(self) -> str:  # KeyError would otherwise repr() the message
        return self.args[0]


class UnknownAlertError(WarehouseError, KeyError):
    def __init__(self, alert_id: str) -> None:
        super().__init__(f"unknown alert {alert_id!r}; list alerts with GET /alerts to find a valid id")
        self.alert_id = alert_id

    def __str__(self) -> str:
        return self.args[0]


class InvalidInputError(WarehouseError, ValueError):
    pass


class AuthError(WarehouseError, PermissionError):
    pass


class SettingsError(WarehouseError, ValueError):
    """A configuration value (``WAREHOUSE_*`` variable or command-line option) that cannot work.

    ``field`` names the setting; the message names the value (never a secret) and the fix.
    """

    def __init__(self, message: str, *, field: str = "", value: object = None) -> None:
        super().__init__(message)
        self.field = field
        self.value = value
