"""Shared FastAPI dependencies: the services bundle, role-checked API keys (with
failed-attempt limiting per client), and the responses every route documents."""
from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, HTTPException, Request, Security, status
from fastapi.security import APIKeyHeader

from warehouse.api.schemas import ErrorBody
from warehouse.ops import ApiKey, RateLimitedError, role_allows

_api_key_header = APIKeyHeader(name="X-API-Key", auto_error=False, description="An API key (`warehouse keys create`).")

_E = {"model": ErrorBody}
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: {**_E, "description": "Missing, unknown or revoked API key."},
    403: {**_E, "description": "The key's role is too low for this call."},
    404: {**_E, "description": "The named record does not exist."},
    409: {**_E, "description": "Conflicts with an existing record (duplicate create, final verdict, last admin)."},
    413: {**_E, "description": "The request body is larger than the server accepts."},
    422: {**_E, "description": "A field is invalid; `field` and `errors` name it."},
    429: {**_E, "description": "Too many failed authentications from this client; see Retry-After."},
    503: {**_E, "description": "A dependency (database, control plane, graph) is unavailable; retry later."},
}


def get_services(request: Request) -> Any:
    return request.app.state.services


def client_of(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def _authenticate(request: Request, x_api_key: Annotated[str | None, Security(_api_key_header)] = None) -> ApiKey:
    services = request.app.state.services
    client = client_of(request)
    wait = services.auth_limiter.retry_after_s(client)
    if wait > 0:
        raise RateLimitedError(client, wait)
    if not x_api_key:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "missing X-API-Key header; ask an admin for a key (warehouse keys create)")
    key = services.ops.authenticate(x_api_key)
    if key is None:
        services.auth_limiter.fail(client)
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "unknown or revoked API key; ask an admin for a key (warehouse keys create)")
    request.state.api_key = key
    return key


def require(role: str):
    def _check(key: Annotated[ApiKey, Depends(_authenticate)]) -> ApiKey:
        if not role_allows(key.role, role):
            raise HTTPException(status.HTTP_403_FORBIDDEN, f"key {key.key_id} has role {key.role!r}; this call needs {role!r} or higher")
        return key

    return _check


def actor_of(key: ApiKey) -> str:
    """How the audit log names who did it."""
    return f"{key.name} ({key.key_id})"


def wake_control(services: Any) -> None:
    """After a camera write, promotion or rollback: let the control plane reconcile now."""
    control = getattr(services, "control", None)
    if control is not None:
        control.wake()


Viewer = Annotated[ApiKey, Depends(require("viewer"))]
Operator = Annotated[ApiKey, Depends(require("operator"))]
Admin = Annotated[ApiKey, Depends(require("admin"))]
ServicesDep = Annotated[Any, Depends(get_services)]
