from __future__ import annotations

from fastapi import APIRouter

from warehouse.api.deps import Admin, ServicesDep
from warehouse.api.schemas import ApiKeyCreate, ApiKeyPublic

router = APIRouter(prefix="/keys", tags=["admin"])


@router.post("", response_model=ApiKeyPublic, status_code=201)
def create_key(body: ApiKeyCreate, services: ServicesDep, key: Admin) -> ApiKeyPublic:
    rec, raw = services.ops.create_api_key(role=body.role, name=body.name)
    return ApiKeyPublic(key_id=rec.key_id, role=rec.role, name=rec.name, api_key=raw)


@router.delete("/{key_id}", status_code=204)
def revoke_key(key_id: str, services: ServicesDep, key: Admin) -> None:
    services.ops.revoke_api_key(key_id)
