"""Dataset versions (H10): list, show (lineage: mining job, miss events, labels), diff."""
from __future__ import annotations

from fastapi import APIRouter, HTTPException, Query

from warehouse.api.deps import ServicesDep, Viewer
from warehouse.retraining.datasets import diff_datasets, list_datasets, show_dataset

router = APIRouter(prefix="/datasets", tags=["datasets"])


def _catalog(services):
    if services.catalog is None:
        raise HTTPException(503, "no catalog on this server; start it with `warehouse serve --catalog URL`")
    return services.catalog


@router.get("")
def datasets(services: ServicesDep, key: Viewer, algorithm_id: str | None = None) -> dict:
    return {"datasets": list_datasets(_catalog(services), algorithm_id)}


@router.get("/diff")
def diff(services: ServicesDep, key: Viewer, from_: str = Query(alias="from"), to: str = Query()) -> dict:
    """Frames added and removed, label and split changes from one dataset version to another."""
    return diff_datasets(_catalog(services), from_, to)


@router.get("/{dataset_version_id}")
def dataset(dataset_version_id: str, services: ServicesDep, key: Viewer) -> dict:
    return show_dataset(_catalog(services), dataset_version_id, flywheel=getattr(services, "flywheel", None))
