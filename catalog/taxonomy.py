"""The city's shared vocabulary (scene types, event types), loaded from ``taxonomy.yaml``.

>>> from catalog import load_taxonomy
>>> tax = load_taxonomy()
>>> "seafront" in tax.scenes and "illegal_parking" in tax.events
True
>>> tax.require_scene("seafront").family
'waterfront'
"""
from __future__ import annotations

import difflib
import functools
from dataclasses import dataclass
from pathlib import Path

import yaml

from catalog.errors import TaxonomyError

_DEFAULT_PATH = Path(__file__).with_name("taxonomy.yaml")


@dataclass(frozen=True, slots=True)
class SceneType:
    id: str
    name: str
    family: str
    imagenet_signals: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class EventType:
    id: str
    name: str
    scenes: tuple[str, ...]
    objects: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Taxonomy:
    version: int
    scenes: dict[str, SceneType]
    events: dict[str, EventType]

    def require_scene(self, scene_id: str) -> SceneType:
        try:
            return self.scenes[scene_id]
        except KeyError:
            raise TaxonomyError(_unknown("scene", scene_id, self.scenes), value=scene_id) from None

    def require_event(self, event_id: str) -> EventType:
        try:
            return self.events[event_id]
        except KeyError:
            raise TaxonomyError(_unknown("event type", event_id, self.events), value=event_id) from None

    def scene_event_pairs(self) -> list[tuple[str, str]]:
        """Every (scene, event) pair the taxonomy allows, in a stable order."""
        return [(s, e) for e, ev in self.events.items() for s in ev.scenes]


def _unknown(kind: str, value: str, known: dict[str, object]) -> str:
    close = difflib.get_close_matches(value, list(known), n=3)
    hint = f"; did you mean {', '.join(close)}?" if close else ""
    return (
        f"unknown {kind} {value!r}{hint} Valid {kind}s are listed in catalog/taxonomy.yaml "
        f"({len(known)} of them); add it there (and bump version) or use one of them."
    )


@functools.lru_cache(maxsize=4)
def load_taxonomy(path: str | Path | None = None) -> Taxonomy:
    """Load and validate the taxonomy (cached per path)."""
    p = Path(path) if path is not None else _DEFAULT_PATH
    try:
        raw = yaml.safe_load(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise TaxonomyError(f"taxonomy file {str(p)!r} does not exist; pass the path of a taxonomy YAML", value=str(p)) from None
    if not isinstance(raw, dict) or not {"version", "scenes", "events"} <= raw.keys():
        raise TaxonomyError(f"taxonomy {str(p)!r} must be a mapping with version, scenes and events", value=str(p))
    scenes = {
        sid: SceneType(sid, s["name"], s["family"], tuple(s.get("imagenet_signals", ())))
        for sid, s in raw["scenes"].items()
    }
    events: dict[str, EventType] = {}
    for eid, e in raw["events"].items():
        for sid in e["scenes"]:
            if sid not in scenes:
                raise TaxonomyError(
                    f"event {eid!r} in {str(p)!r} names scene {sid!r}, which is not defined under scenes; "
                    "define the scene or remove it from the event",
                    value=sid,
                )
        events[eid] = EventType(eid, e["name"], tuple(e["scenes"]), tuple(e.get("objects", ())))
    return Taxonomy(int(raw["version"]), scenes, events)


def extend_taxonomy(event: EventType, taxonomy: Taxonomy | None = None) -> EventType:
    """Teach the (default, cached) taxonomy an event type defined at run time.

    Used by the catalog for event types it stores (``Catalog.add_event_type``), so every
    process that opens the catalog knows them. The same definition again is a no-op; a
    different one under a known id is refused.
    """
    tax = taxonomy or load_taxonomy()
    for sid in event.scenes:
        tax.require_scene(sid)
    have = tax.events.get(event.id)
    if have is not None:
        if set(have.scenes) != set(event.scenes):
            raise TaxonomyError(
                f"event type {event.id!r} already exists with scenes {list(have.scenes)}, not {list(event.scenes)}; "
                "pick a new event id or use the existing scenes",
                value=event.id,
            )
        return have
    tax.events[event.id] = event  # the dict is shared by every holder of the cached taxonomy
    return event
