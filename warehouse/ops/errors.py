"""Errors of the operations store; each subclasses the application's base and a builtin,
and carries the HTTP status the API answers with (``http_status``)."""
from __future__ import annotations

from warehouse.errors import InvalidInputError, WarehouseError

__all__ = [
    "ConflictError",
    "DatabaseUnavailableError",
    "InvalidInputError",
    "LastAdminError",
    "MissingMediaError",
    "RateLimitedError",
    "StreamUrlRefusedError",
    "UnknownKeyError",
]


class ConflictError(WarehouseError, ValueError):
    """The record exists already (or the change contradicts one that does): HTTP 409."""

    http_status = 409


class LastAdminError(ConflictError):
    """Revoking this key would leave no admin key: HTTP 409."""


class StreamUrlRefusedError(InvalidInputError):
    """A camera's stream URL is outside what the admin allows: HTTP 422 naming the field."""

    http_status = 422
    field = "stream_url"


class UnknownKeyError(WarehouseError, KeyError):
    http_status = 404

    def __init__(self, key_id: str) -> None:
        super().__init__(f"unknown API key {key_id!r}; list keys with `warehouse keys list` or GET /keys")
        self.key_id = key_id

    def __str__(self) -> str:
        return self.args[0]


class RateLimitedError(WarehouseError, PermissionError):
    """Too many failed authentications from one client: HTTP 429 with Retry-After."""

    http_status = 429

    def __init__(self, client: str, retry_after_s: float) -> None:
        super().__init__(f"too many failed API-key attempts from {client}; retry in {retry_after_s:.0f} s")
        self.client, self.retry_after_s = client, retry_after_s


class DatabaseUnavailableError(WarehouseError, ConnectionError):
    """The operations database cannot accept the write now: HTTP 503 with Retry-After."""

    http_status = 503


class MissingMediaError(WarehouseError, KeyError):
    """No image (evidence snapshot, recent frame) is stored for the record: HTTP 404."""

    http_status = 404

    def __str__(self) -> str:
        return self.args[0]
