"""Cameras: create (409 on a duplicate id), read, update (PUT replaces, PATCH changes the
fields given), delete, health, discovered scenes, zones and lines, a recent frame.

Stream URLs are checked against the admin's :class:`~warehouse.ops.StreamPolicy`;
credentials in them are stored apart and shown to admins only.
"""
from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Response

from warehouse.api.deps import Admin, ServicesDep, Viewer, actor_of, wake_control
from warehouse.api.schemas import (
    CAMERA_ID_PATTERN,
    CameraCreate,
    CameraHealthPublic,
    CameraPublic,
    CameraScenesPublic,
    CameraUpdate,
    SceneLink,
    ZonesPut,
)
from warehouse.errors import InvalidInputError
from warehouse.ops import CameraRecord, role_allows
from warehouse.ops.errors import MissingMediaError

router = APIRouter(prefix="/cameras", tags=["cameras"])
CameraIdP = Annotated[str, Path(pattern=CAMERA_ID_PATTERN, description="A camera id.")]


def _public(services: Any, cam: CameraRecord, key) -> CameraPublic:
    reveal = services.ops.stream_url_with_credentials(cam.camera_id) if (cam.has_credentials and role_allows(key.role, "admin")) else None
    return CameraPublic(**cam.public(reveal=reveal))


def _zones(body_zones) -> list[dict]:
    return [z.model_dump(exclude_none=True) for z in body_zones]


@router.post("", response_model=CameraPublic, status_code=201)
def register_camera(body: CameraCreate, services: ServicesDep, key: Admin) -> CameraPublic:
    """Register a camera; an existing id answers 409 (change it with PUT or PATCH)."""
    rec = CameraRecord(body.camera_id, body.region, body.stream_url, body.hints, tuple(_zones(body.zones)))
    services.ops.add_camera(rec, actor=actor_of(key), strict=True)
    wake_control(services)
    return _public(services, services.ops.get_camera(body.camera_id), key)


@router.get("", response_model=list[CameraPublic])
def list_cameras(services: ServicesDep, key: Viewer,
                 region: Annotated[str | None, Query(min_length=1, max_length=128)] = None) -> list[CameraPublic]:
    return [_public(services, c, key) for c in services.ops.list_cameras(region=region)]


@router.get("/{camera_id}", response_model=CameraPublic)
def get_camera(camera_id: CameraIdP, services: ServicesDep, key: Viewer) -> CameraPublic:
    return _public(services, services.ops.get_camera(camera_id), key)


@router.put("/{camera_id}", response_model=CameraPublic)
def replace_camera(camera_id: CameraIdP, body: CameraCreate, services: ServicesDep, key: Admin) -> CameraPublic:
    """Replace every field of an existing camera (404 if it does not exist; create with POST)."""
    if body.camera_id != camera_id:
        raise InvalidInputError(f"body camera_id {body.camera_id!r} differs from the path's {camera_id!r}; ids cannot be renamed")
    cam = services.ops.update_camera(camera_id, actor=actor_of(key), region=body.region, stream_url=body.stream_url,
                                     hints=body.hints, zones=_zones(body.zones))
    wake_control(services)
    return _public(services, cam, key)


@router.patch("/{camera_id}", response_model=CameraPublic)
def update_camera(camera_id: CameraIdP, body: CameraUpdate, services: ServicesDep, key: Admin) -> CameraPublic:
    """Change only the fields given."""
    cam = services.ops.update_camera(camera_id, actor=actor_of(key), region=body.region, stream_url=body.stream_url, hints=body.hints,
                                     zones=None if body.zones is None else _zones(body.zones))
    wake_control(services)
    return _public(services, cam, key)


@router.delete("/{camera_id}", status_code=204, response_class=Response)
def delete_camera(camera_id: CameraIdP, services: ServicesDep, key: Admin) -> Response:
    services.ops.remove_camera(camera_id, actor=actor_of(key))
    wake_control(services)
    return Response(status_code=204)


@router.get("/{camera_id}/zones", response_model=ZonesPut)
def get_zones(camera_id: CameraIdP, services: ServicesDep, key: Viewer) -> dict:
    return {"zones": [z.to_dict() for z in services.ops.get_camera(camera_id).zones]}


@router.put("/{camera_id}/zones", response_model=ZonesPut)
def put_zones(camera_id: CameraIdP, body: ZonesPut, services: ServicesDep, key: Admin) -> dict:
    """Replace the camera's zones and lines (pixel coordinates of its own frames)."""
    cam = services.ops.set_zones(camera_id, _zones(body.zones), actor=actor_of(key))
    wake_control(services)
    return {"zones": [z.to_dict() for z in cam.zones]}


def _control_status(services: Any, camera_id: str) -> dict | None:
    control = getattr(services, "control", None)
    if control is None:
        return None
    status = control.camera_status(camera_id)
    return dict(status) if status else None


@router.get("/{camera_id}/health", response_model=CameraHealthPublic)
def camera_health(camera_id: CameraIdP, services: ServicesDep, key: Viewer) -> CameraHealthPublic:
    """Stream health and frame rate as the control plane sees it (``source='control'``)."""
    services.ops.get_camera(camera_id)  # 404 for an unknown camera
    st = _control_status(services, camera_id)
    if st is not None:
        fps = st.get("fps")
        return CameraHealthPublic(camera_id=camera_id, source="control", state=str(st.get("state", st.get("health", "unknown"))),
                                  fps=float(fps) if isinstance(fps, (int, float)) else None,
                                  detail={k: v for k, v in st.items() if k not in ("scenes",)})
    in_graph = services.graph is not None and camera_id in services.graph.camera_ids
    return CameraHealthPublic(camera_id=camera_id, source="graph" if in_graph else "none", state="unknown",
                              detail={"note": "no control plane runs in this server; health is unknown"})


def scene_pairs(raw: Any) -> list[tuple[str, float]]:
    """``(scene, confidence)`` from what the control plane reports: its ``DiscoveredScenes``
    dict (``{"scenes": {name: conf}, ...}``), a plain ``{name: conf}``, or a list of pairs."""
    if isinstance(raw, dict) and isinstance(raw.get("scenes"), dict):
        raw = raw["scenes"]
    items = raw.items() if isinstance(raw, dict) else [(x["scene"], x["confidence"]) if isinstance(x, dict) else tuple(x) for x in raw]
    return [(str(k), float(v)) for k, v in items if isinstance(v, (int, float)) and not isinstance(v, bool)]


@router.get("/{camera_id}/scenes", response_model=CameraScenesPublic)
def camera_scenes(camera_id: CameraIdP, services: ServicesDep, key: Viewer) -> CameraScenesPublic:
    """The scenes discovered on this camera, strongest first, with confidence."""
    cam = services.ops.get_camera(camera_id)
    st = _control_status(services, camera_id)
    pairs: list[tuple[str, float]] = []
    if st is not None and st.get("scenes"):
        pairs = scene_pairs(st["scenes"])
    elif services.graph is not None and camera_id in services.graph.camera_ids:
        pairs = list(services.graph.camera(camera_id).scenes)
    elif cam.hints.get("scenes"):
        pairs = [(s, 1.0) for s in cam.hints["scenes"] if isinstance(s, str)]
    pairs.sort(key=lambda p: -float(p[1]))
    return CameraScenesPublic(camera_id=camera_id, scenes=[SceneLink(scene=s, confidence=float(c)) for s, c in pairs],
                              primary_scene=pairs[0][0] if pairs else None)


@router.get("/{camera_id}/assignments", response_model=dict)
def camera_assignments(camera_id: CameraIdP, services: ServicesDep, key: Viewer) -> dict:
    """What the camera should run and why (the knowledge graph), beside what it runs now
    (the control plane: algorithm -> version, canary marked), and what the graph excluded."""
    services.ops.get_camera(camera_id)
    st = _control_status(services, camera_id) or {}
    running = st.get("algorithms") if isinstance(st.get("algorithms"), dict) else None
    if services.graph is None or camera_id not in services.graph.camera_ids:
        return {"camera_id": camera_id, "running": running, "choices": [], "excluded": [],
                "note": "the knowledge graph does not know this camera yet (the control plane adds it)"}
    report = services.graph.explain(camera_id).to_dict()
    choices = [{"algorithm_id": c["algorithm_id"], "priority": c["priority"], "fps": c["fps"], "score": c["score"],
                "why": c["explanation"]["text"], "paths": c["explanation"]["paths"],
                "governance_task_ids": c["explanation"]["governance_task_ids"],
                "running_version": None if running is None else running.get(c["algorithm_id"])} for c in report["choices"]]
    return {"camera_id": camera_id, "running": running, "choices": choices, "excluded": report["excluded"]}


@router.get("/{camera_id}/frame", response_class=Response, responses={200: {"content": {"image/jpeg": {}}}})
def recent_frame(camera_id: CameraIdP, services: ServicesDep, key: Viewer) -> Response:
    """A recent frame of the camera (JPEG): the control plane's latest, else its newest alert's evidence."""
    services.ops.get_camera(camera_id)
    control = getattr(services, "control", None)
    latest = getattr(control, "latest_frame_jpeg", None)
    if callable(latest):
        data = latest(camera_id)
        if data:
            return Response(data, media_type="image/jpeg", headers={"Cache-Control": "no-store"})
    store = getattr(services.catalog, "store", None)
    for alert in services.ops.list_alerts(camera_id=camera_id, limit=20):
        sha = alert.get("evidence_sha256")
        if sha and store is not None and store.exists(sha):
            return Response(store.get_bytes(sha), media_type="image/jpeg", headers={"Cache-Control": "no-store"})
    raise MissingMediaError(f"no recent frame of camera {camera_id!r} yet (no control-plane frame, no alert evidence); try again once it streams")
