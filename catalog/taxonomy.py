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
