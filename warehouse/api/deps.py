"""Shared FastAPI dependencies: the services bundle and role-checked API keys."""
from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Header, HTTPException, Request, status

from warehouse.ops_store import ApiKey, OpsStore, role_allows


def get_services(request: Request) -> Any:
    return request.app.state.services


def _authenticate(request: Request, x_api_key: Annotated[str | None, Header()] = None) -> ApiKey:
    if not x_api_key:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "missing X-API-Key header; ask an admin for a key (warehouse keys create)")
    ops: OpsStore = request.app.state.services.ops
    key = ops.authenticate(x_api_key)
    if key is None:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "unknown or revoked API key")
    return key


def require(role: str):
    def _check(key: Annotated[ApiKey, Depends(_authenticate)]) -> ApiKey:
        if not role_allows(key.role, role):
            raise HTTPException(status.HTTP_403_FORBIDDEN, f"key {key.key_id} has role {key.role!r}; this call needs {role!r} or higher")
        return key

    return _check


Viewer = Annotated[ApiKey, Depends(require("viewer"))]
Operator = Annotated[ApiKey, Depends(require("operator"))]
Admin = Annotated[ApiKey, Depends(require("admin"))]
ServicesDep = Annotated[Any, Depends(get_services)]
