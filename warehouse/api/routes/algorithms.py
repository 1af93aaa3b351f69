"""Algorithms: browse, versions with their gate numbers and operators' verdicts, lineage,
and stage changes (promote, roll back, retire, canary) through
:mod:`warehouse.retraining.promotion`, each written to the audit log."""
from __future__ import annotations

from dataclasses import asdict
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query

from warehouse.api.deps import Admin, ServicesDep, Viewer, actor_of, wake_control
from warehouse.api.outbox_bus import OutboxBus
from warehouse.api.schemas import ALGORITHM_ID_PATTERN, EVENT_TYPE_PATTERN, AlgorithmImport, CanaryStart, StageChange
from warehouse.errors import InvalidInputError

router = APIRouter(prefix="/algorithms", tags=["catalog"])
AlgorithmIdP = Annotated[str, Path(pattern=ALGORITHM_ID_PATTERN, description="An algorithm id, e.g. scene.road.fire.")]
NumberP = Annotated[int, Path(ge=1, le=2**31 - 1, description="A version number.")]


def _catalog(services: Any):
    if services.catalog is None:
        raise InvalidInputError("this server has no catalog loaded; start it with `warehouse serve`")
    return services.catalog


def _public(spec, prod) -> dict:
    d = asdict(spec)
    d["production_version"] = None if prod is None else prod.number
    d["metrics"] = {} if prod is None else dict(prod.metrics or {})
    return d


@router.get("", response_model=list[dict])
def list_algorithms(services: ServicesDep, key: Viewer,
                    scene: Annotated[str | None, Query(pattern=EVENT_TYPE_PATTERN)] = None,
                    event_type: Annotated[str | None, Query(pattern=EVENT_TYPE_PATTERN)] = None) -> list[dict]:
    cat = _catalog(services)
    prod = cat.production_versions()  # one query for all, not one per algorithm
    return [_public(s, prod.get(s.id)) for s in cat.list_algorithms(scene=scene, event_type=event_type)]


@router.post("/import", response_model=dict, status_code=201)
def import_model(body: AlgorithmImport, services: ServicesDep, key: Admin) -> dict:
    """Import a model with its manifest: every check of ``catalog.import_manifest`` runs
    before anything is written (ONNX load, signature, labels, preprocessing, a dry run)."""
    import base64
    import binascii
    import tempfile
    from pathlib import Path, PurePosixPath

    import yaml

    cat = _catalog(services)
    try:
        manifest = yaml.safe_load(body.manifest_yaml)
    except yaml.YAMLError as exc:
        raise InvalidInputError(f"manifest_yaml is not YAML: {exc}") from None
    name = ((manifest or {}).get("version") or {}).get("artifact") if isinstance(manifest, dict) else None
    if not isinstance(name, str) or PurePosixPath(name).name != name or name in ("", ".", ".."):
        raise InvalidInputError(f"manifest version.artifact {name!r} must be a plain file name (the uploaded model), e.g. 'model.onnx'")
    try:
        data = base64.b64decode(body.artifact_b64, validate=True)
    except (binascii.Error, ValueError):
        raise InvalidInputError("artifact_b64 is not base64; send the ONNX file's bytes base64-encoded") from None
    with tempfile.TemporaryDirectory(prefix="import-") as d:
        (Path(d) / "manifest.yaml").write_text(body.manifest_yaml)
        (Path(d) / name).write_bytes(data)
        v = cat.import_manifest(Path(d) / "manifest.yaml")
    services.ops.audit(actor=actor_of(key), action="algorithm.import", target=f"{v.algorithm_id}@v{v.number}",
                       detail={"artifact_sha256": v.artifact_sha256, "stage": str(getattr(v.stage, "value", v.stage))})
    wake_control(services)
    return {"algorithm_id": v.algorithm_id, "number": v.number, "stage": str(getattr(v.stage, "value", v.stage)),
            "artifact_sha256": v.artifact_sha256, "metrics": dict(v.metrics or {})}


@router.get("/{algorithm_id}", response_model=dict)
def get_algorithm(algorithm_id: AlgorithmIdP, services: ServicesDep, key: Viewer) -> dict:
    """The algorithm, every version (stage, metrics, gate numbers, canary cameras), and per
    version the operators' confirmations, rejections and rejection rate."""
    cat = _catalog(services)
    spec = cat.get_algorithm(algorithm_id)
    out = _public(spec, cat.production_version(spec.id))
    meta = cat.version_metadata(spec.id)
    verdicts = services.ops.feedback_by_version(spec.id)
    versions = []
    for v in cat.versions(spec.id):
        m = meta.get(v.number, {}) or {}
        fb = verdicts.get(str(v.number), {"confirm": 0, "reject": 0})
        total = fb["confirm"] + fb["reject"]
        versions.append({"number": v.number, "stage": str(getattr(v.stage, "value", v.stage)), "metrics": dict(v.metrics or {}),
                         "parent_version": v.parent_version, "created_at": v.created_at.isoformat(), "gate": m.get("gate"),
                         "canary_cameras": m.get("canary_cameras") or [], "promotion": m.get("promotion"),
                         "feedback": {**fb, "rejection_rate": None if total == 0 else round(fb["reject"] / total, 4)}})
    out["versions"] = versions
    out["stage_history"] = [{k: (str(x) if k == "at" else x) for k, x in h.items()} for h in cat.stage_history(spec.id)]
    return out


@router.get("/{algorithm_id}/versions/{number}/lineage", response_model=dict)
def lineage(algorithm_id: AlgorithmIdP, number: NumberP, services: ServicesDep, key: Viewer) -> dict:
    return _catalog(services).lineage(algorithm_id, number)


def _stage_change(services: Any, key, action: str, algorithm_id: str, fn, *args, **kw) -> dict:
    from warehouse.bus.events import to_wire
    cat = _catalog(services)
    cat.get_algorithm(algorithm_id)  # 404 with close ids
    event = fn(cat, OutboxBus(services.ops), algorithm_id, *args, actor=actor_of(key), **kw)
    wire = to_wire(event)
    services.ops.audit(actor=actor_of(key), action=f"algorithm.{action}", target=f"{algorithm_id}@v{wire['version']}",
                       detail={k: wire.get(k) for k in ("previous_version", "stage", "reason", "canary_cameras")})
    services.publish_outbox()
    wake_control(services)
    return wire


@router.post("/{algorithm_id}/versions/{number}/promote", response_model=dict)
def promote_version(algorithm_id: AlgorithmIdP, number: NumberP, body: StageChange, services: ServicesDep, key: Admin) -> dict:
    """Make this version production (the previous one is retired); answers the ``model-updates`` event."""
    from warehouse.retraining.promotion import promote

    return _stage_change(services, key, "promote", algorithm_id, promote, number, reason=body.reason or "promoted by an admin")


@router.post("/{algorithm_id}/rollback", response_model=dict)
def rollback_algorithm(algorithm_id: AlgorithmIdP, body: StageChange, services: ServicesDep, key: Admin) -> dict:
    """Put the previous production version back."""
    from warehouse.retraining.promotion import rollback

    return _stage_change(services, key, "rollback", algorithm_id, rollback, reason=body.reason or "rolled back by an admin")


@router.post("/{algorithm_id}/versions/{number}/canary", response_model=dict)
def start_canary(algorithm_id: AlgorithmIdP, number: NumberP, body: CanaryStart, services: ServicesDep, key: Admin) -> dict:
    """Run this version on the given cameras only (the others keep production)."""
    from warehouse.retraining.promotion import start_canary as _start

    for cam in body.cameras:
        services.ops.get_camera(cam)
    return _stage_change(services, key, "canary", algorithm_id, _start, number, list(body.cameras), reason=body.reason)


@router.post("/{algorithm_id}/versions/{number}/retire", response_model=dict)
def retire_version(algorithm_id: AlgorithmIdP, number: NumberP, body: StageChange, services: ServicesDep, key: Admin) -> dict:
    """Retire a version (production may be left empty: the algorithm stops running)."""
    from warehouse.bus.events import ModelUpdateEvent, to_wire

    cat = _catalog(services)
    cat.get_algorithm(algorithm_id)
    before = cat.get_version(algorithm_id, number)
    v = cat.retire(algorithm_id, number)
    seq = len(cat.stage_history(algorithm_id))
    event = ModelUpdateEvent(event_id=f"model-update:{algorithm_id}:v{number}:retired:{seq}", algorithm_id=algorithm_id, version=number,
                             action="retired", stage=v.stage.value, previous_version=None, artifact_sha256=v.artifact_sha256,
                             reason=(body.reason or "retired by an admin")[:2000])
    services.ops.enqueue_event("model-updates", to_wire(event), key=algorithm_id)
    services.ops.audit(actor=actor_of(key), action="algorithm.retire", target=f"{algorithm_id}@v{number}",
                       detail={"from_stage": before.stage.value, "reason": body.reason})
    services.publish_outbox()
    wake_control(services)
    return to_wire(event)
