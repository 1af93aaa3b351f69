"""API keys (admins only): create (the key is shown once), list, revoke."""
from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Response

from warehouse.api.deps import Admin, ServicesDep, Viewer, actor_of
from warehouse.api.schemas import ApiKeyCreate, ApiKeyPublic

router = APIRouter(prefix="/keys", tags=["admin"])


@router.post("", response_model=ApiKeyPublic, status_code=201)
def create_key(body: ApiKeyCreate, services: ServicesDep, key: Admin) -> ApiKeyPublic:
    """A new key; ``api_key`` is in this answer only. Names are unique (409)."""
    rec, raw = services.ops.create_api_key(role=body.role, name=body.name, actor=actor_of(key))
    return ApiKeyPublic(key_id=rec.key_id, role=rec.role, name=rec.name, api_key=raw)


@router.get("", response_model=list[ApiKeyPublic])
def list_keys(services: ServicesDep, key: Admin) -> list[ApiKeyPublic]:
    return [ApiKeyPublic(key_id=k["key_id"], role=k["role"], name=k["name"], created_ms=k["created_ms"], revoked=k["revoked"])
            for k in services.ops.list_api_keys()]


@router.get("/me", response_model=ApiKeyPublic)
def whoami(key: Viewer) -> ApiKeyPublic:
    """The calling key's id, name and role (the console shows what its holder may do)."""
    return ApiKeyPublic(key_id=key.key_id, role=key.role, name=key.name)


@router.delete("/{key_id}", status_code=204, response_class=Response)
def revoke_key(key_id: Annotated[str, Path(pattern=r"^key-[0-9a-f]{1,24}$")], services: ServicesDep, key: Admin) -> Response:
    """Revoke a key; the last active admin key cannot be revoked (409)."""
    services.ops.revoke_api_key(key_id, actor=actor_of(key))
    return Response(status_code=204)
