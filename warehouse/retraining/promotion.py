"""The one way a version's stage changes: catalog write first, then a ``model-updates`` event.

The control plane reconciles every worker with the catalog (desired state) and wakes on
``model-updates``; a lost event only delays a swap, a catalog write is never skipped. The
canary camera set is stored with the version (catalog version metadata ``canary_cameras``),
so the control plane reads it from the catalog. Event ids are derived from the catalog's
stage history, so retrying a call whose event was lost republishes the same id.

>>> import numpy as np
>>> from catalog import AlgorithmSpec, ArtifactStore, Catalog, linear_head_onnx
>>> cat = Catalog.open("sqlite://", store=ArtifactStore("memory://promotion-doctest"))
>>> _ = cat.register_algorithm(AlgorithmSpec(id="scene.road.smoke", name="Smoke", event_types=("smoke",), scene_tags=("road",)))
>>> sha = cat.store.put_bytes(linear_head_onnx(np.zeros((4, 1), np.float32), np.zeros(1, np.float32), labels=["smoke"]))
>>> v1, v2 = (cat.add_version("scene.road.smoke", artifact_sha256=sha) for _ in range(2))
>>> promote(cat, None, "scene.road.smoke", 1, actor="doc", reason="first").action
'promoted'
>>> start_canary(cat, None, "scene.road.smoke", 2, ["cam-3"], actor="doc").canary_cameras
('cam-3',)
>>> canary_cameras(cat, "scene.road.smoke")
{2: ['cam-3']}
>>> rollback(cat, None, "scene.road.smoke", actor="doc", reason="x").version  # nothing before v1
Traceback (most recent call last):
...
warehouse.retraining.promotion.PromotionError: scene.road.smoke@v1 in production has no earlier production version to roll back to
"""
from __future__ import annotations

import logging
from typing import Any

from catalog import Stage
from warehouse.errors import InvalidInputError

log = logging.getLogger(__name__)

META_CANARY = "canary_cameras"
META_PROMOTION = "promotion"
META_GATE = "gate"


class PromotionError(InvalidInputError):
    """A stage change that cannot be made (names the version and what to do)."""


def _event(catalog, algorithm_id: str, number: int, action: str, *, previous: int | None, cameras: tuple[str, ...] = (),
           reason: str = ""):
    from warehouse.bus.events import ModelUpdateEvent

    v = catalog.get_version(algorithm_id, number)
    seq = len(catalog.stage_history(algorithm_id))
    return ModelUpdateEvent(event_id=f"model-update:{algorithm_id}:v{number}:{action}:{seq}", algorithm_id=algorithm_id,
                            version=number, action=action, stage=v.stage.value, previous_version=previous,
                            artifact_sha256=v.artifact_sha256, canary_cameras=cameras, reason=reason[:2000])


def _publish(bus, event) -> None:
    if bus is None:
        return
    from warehouse.bus import TOPIC_MODEL_UPDATES
    from warehouse.bus.events import to_wire

    bus.publish(TOPIC_MODEL_UPDATES, to_wire(event), key=event.algorithm_id)
    bus.flush()


def _record(catalog, algorithm_id: str, number: int, action: str, actor: str, reason: str, **extra: Any) -> None:
    from warehouse.bus.events import now_utc

    catalog.set_version_metadata(algorithm_id, number, META_PROMOTION,
                                 {"action": action, "actor": actor, "reason": reason, "at": now_utc().isoformat(), **extra})


def publish_registered(catalog, bus, algorithm_id: str, version: int, *, reason: str = ""):
    """Announce a new candidate version (stage unchanged: the runtime keeps production)."""
    prod = catalog.production_version(algorithm_id)
    ev = _event(catalog, algorithm_id, version, "registered", previous=prod.number if prod else None, reason=reason)
    _publish(bus, ev)
    return ev


def _actor(actor: object) -> str:
    if not isinstance(actor, str) or not actor.strip():
        raise PromotionError(f"actor {actor!r} must name who decided (an API key's name, 'flywheel-policy', a user)")
    return actor


def promote(catalog, bus, algorithm_id: str, version: int, *, actor: str, reason: str):
    """Make ``version`` the production version (the previous one is retired); returns the event published."""
    _actor(actor)
    prev = catalog.production_version(algorithm_id)
    if prev is not None and prev.number == version:
        raise PromotionError(f"{algorithm_id}@v{version} is already in production; nothing to promote")
    was_canary = catalog.get_version(algorithm_id, version).stage is Stage.CANARY
    catalog.promote(algorithm_id, version, to=Stage.PRODUCTION)
    if was_canary:
        catalog.set_version_metadata(algorithm_id, version, META_CANARY, [])
    _record(catalog, algorithm_id, version, "promoted", actor, reason, previous_version=prev.number if prev else None)
    ev = _event(catalog, algorithm_id, version, "promoted", previous=prev.number if prev else None, reason=reason)
    _publish(bus, ev)
    log.info("promoted %s@v%d (previous %s) by %s: %s", algorithm_id, version, prev.number if prev else None, actor, reason)
    return ev


def predecessor(catalog, algorithm_id: str) -> tuple[int, int | None]:
    """(current production number, the version that was in production right before it, or None)."""
    prod = catalog.production_version(algorithm_id)
    if prod is None:
        raise PromotionError(f"{algorithm_id} has no production version; promote one first")
    prods = [h["number"] for h in catalog.stage_history(algorithm_id) if h["to_stage"] == Stage.PRODUCTION.value]
    meta = catalog.version_metadata(algorithm_id)
    # versions something was rolled back *from* are never rolled back *to*
    bad = {m[META_PROMOTION].get("previous_version") for m in meta.values()
           if m.get(META_PROMOTION, {}).get("action") == "rolled_back"}
    last = max(i for i, n in enumerate(prods) if n == prod.number)
    before = next((n for n in reversed(prods[:last]) if n != prod.number and n not in bad), None)
    return prod.number, before


def rollback(catalog, bus, algorithm_id: str, *, actor: str, reason: str):
    """Put the previous production version back (the current one is retired); returns the event."""
    _actor(actor)
    current, before = predecessor(catalog, algorithm_id)
    if before is None:
        raise PromotionError(f"{algorithm_id}@v{current} in production has no earlier production version to roll back to")
    catalog.promote(algorithm_id, before, to=Stage.PRODUCTION)
    _record(catalog, algorithm_id, before, "rolled_back", actor, reason, previous_version=current)
    ev = _event(catalog, algorithm_id, before, "rolled_back", previous=current, reason=reason)
    _publish(bus, ev)
    log.warning("rolled back %s from v%d to v%d by %s: %s", algorithm_id, current, before, actor, reason)
    return ev


def start_canary(catalog, bus, algorithm_id: str, version: int, cameras: list[str], *, actor: str, reason: str = ""):
    """Run ``version`` on ``cameras`` beside production (stage canary, cameras stored with it)."""
    _actor(actor)
    cams = tuple(sorted(dict.fromkeys(cameras)))
    if not cams or not all(isinstance(c, str) and c for c in cams):
        raise PromotionError(f"canary cameras {list(cameras)!r} must be a non-empty list of camera ids; pick them with "
                             "choose_canary_cameras(cameras_running_algorithm, fraction, seed)")
    prod = catalog.production_version(algorithm_id)
    if prod is not None and prod.number == version:
        raise PromotionError(f"{algorithm_id}@v{version} is in production; a canary must be a candidate version")
    catalog.promote(algorithm_id, version, to=Stage.CANARY)
    catalog.set_version_metadata(algorithm_id, version, META_CANARY, list(cams))
    _record(catalog, algorithm_id, version, "canary_started", actor, reason, cameras=list(cams))
    ev = _event(catalog, algorithm_id, version, "canary_started", previous=prod.number if prod else None, cameras=cams,
                reason=reason)
    _publish(bus, ev)
    return ev


def stop_canary(catalog, bus, algorithm_id: str, version: int, *, actor: str, reason: str):
    """End a canary without promoting it: the version is retired and its cameras go back to production."""
    _actor(actor)
    v = catalog.get_version(algorithm_id, version)
    if v.stage is not Stage.CANARY:
        raise PromotionError(f"{algorithm_id}@v{version} is {v.stage.value}, not canary; nothing to stop")
    catalog.retire(algorithm_id, version)
    catalog.set_version_metadata(algorithm_id, version, META_CANARY, [])
    _record(catalog, algorithm_id, version, "canary_stopped", actor, reason)
    prod = catalog.production_version(algorithm_id)
    ev = _event(catalog, algorithm_id, version, "canary_stopped", previous=prod.number if prod else None, reason=reason)
    _publish(bus, ev)
    return ev


def canary_cameras(catalog, algorithm_id: str) -> dict[int, list[str]]:
    """``{version: cameras}`` of the algorithm's versions in canary (what the control plane reads)."""
    meta = catalog.version_metadata(algorithm_id)
    return {v.number: list(meta.get(v.number, {}).get(META_CANARY, [])) for v in catalog.versions(algorithm_id)
            if v.stage is Stage.CANARY}
