from __future__ import annotations

from dataclasses import asdict

from fastapi import APIRouter

from warehouse.api.deps import ServicesDep, Viewer

router = APIRouter(prefix="/algorithms", tags=["catalog"])


def _public(spec, prod) -> dict:
    d = asdict(spec)
    d["production_version"] = None if prod is None else prod.number
    d["metrics"] = {} if prod is None else dict(prod.metrics or {})
    return d


@router.get("")
def list_algorithms(services: ServicesDep, key: Viewer, scene: str | None = None, event_type: str | None = None) -> list[dict]:
    cat = services.catalog
    prod = cat.production_versions()  # one query for all, not one per algorithm
    return [_public(s, prod.get(s.id)) for s in cat.list_algorithms(scene=scene, event_type=event_type)]


@router.get("/{algorithm_id}")
def get_algorithm(algorithm_id: str, services: ServicesDep, key: Viewer) -> dict:
    cat = services.catalog
    spec = cat.get_algorithm(algorithm_id)
    out = _public(spec, cat.production_version(spec.id))
    out["versions"] = [{"number": v.number, "stage": str(getattr(v.stage, "value", v.stage)), "metrics": dict(v.metrics or {})} for v in cat.versions(spec.id)]
    return out


@router.get("/{algorithm_id}/versions/{number}/lineage")
def lineage(algorithm_id: str, number: int, services: ServicesDep, key: Viewer) -> dict:
    return services.catalog.lineage(algorithm_id, number)
