"""The audit log (admins only): who changed keys, cameras, algorithm stages, and when."""
from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from warehouse.api.deps import Admin, ServicesDep
from warehouse.api.schemas import MAX_TS_MS, AuditPublic

router = APIRouter(prefix="/audit", tags=["admin"])


@router.get("", response_model=list[AuditPublic])
def list_audit(services: ServicesDep, key: Admin,
               action: Annotated[str | None, Query(max_length=64, pattern=r"^[a-z_.*]+$", description="e.g. camera.delete or key.*")] = None,
               actor: Annotated[str | None, Query(max_length=200)] = None,
               target: Annotated[str | None, Query(max_length=300)] = None,
               since_ms: Annotated[int | None, Query(ge=0, le=MAX_TS_MS)] = None,
               before_id: Annotated[int | None, Query(ge=1, le=2**62)] = None,
               limit: Annotated[int, Query(ge=1, le=1000)] = 100) -> list[AuditPublic]:
    """Newest first; page with ``before_id`` = the last id seen."""
    return [AuditPublic(**e.to_dict()) for e in services.ops.list_audit(action=action, actor=actor, target=target, since_ms=since_ms,
                                                                         before_id=before_id, limit=limit)]
