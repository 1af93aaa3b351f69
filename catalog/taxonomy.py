"""The city's shared vocabulary (scene types, event types), loaded from ``taxonomy.yaml``.

>>> from catalog import load_taxonomy
>>> tax = load_taxonomy()
>>> "seafront" in tax.scenes and "illegal_parking" in tax.events
True
>>> tax.require_scene("seafront").family
'waterfront'
>>> event_persistence(["standing_water"]), event_persistence(["red_light_running"]).window_s
(Persistence(kind='state', window_s=3.0, share=0.8), 0.5)
"""
from __future__ import annotations

import difflib
import functools
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping

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
class Persistence:
    """How long an event must be seen before the event logic alerts: over ``share`` of the
    last ``window_s`` seconds of stream time (``runtime.EventPolicy``; docs/event-logic.md)."""

    kind: str
    window_s: float
    share: float

    def __post_init__(self) -> None:
        if not (isinstance(self.window_s, (int, float)) and math.isfinite(self.window_s) and 0 < self.window_s <= 3600):
            raise TaxonomyError(f"persistence {self.kind!r}: window_s={self.window_s!r}; expected seconds in (0, 3600], e.g. 3.0",
                                value=str(self.window_s))
        if not (isinstance(self.share, (int, float)) and 0 < self.share <= 1):
            raise TaxonomyError(f"persistence {self.kind!r}: share={self.share!r}; expected a share in (0, 1], e.g. 0.8",
                                value=str(self.share))


# the defaults taxonomy.yaml's ``persistence`` block restates (a taxonomy without one gets these)
DEFAULT_PERSISTENCE = {"state": Persistence("state", 3.0, 0.8), "momentary": Persistence("momentary", 0.5, 0.5)}
DEFAULT_PERSISTENCE_KIND = "state"


@dataclass(frozen=True, slots=True)
class EventType:
    id: str
    name: str
    scenes: tuple[str, ...]
    objects: tuple[str, ...]
    persistence: str = ""  # a persistence kind of the taxonomy; "": the taxonomy's default


@dataclass(frozen=True, slots=True)
class Taxonomy:
    version: int
    scenes: dict[str, SceneType]
    events: dict[str, EventType]
    persistence: Mapping[str, Persistence] = field(default_factory=lambda: dict(DEFAULT_PERSISTENCE))
    default_persistence: str = DEFAULT_PERSISTENCE_KIND

    def persistence_of(self, event_id: str) -> Persistence:
        """The event's persistence (its kind's window); an unknown event or kind gets the default."""
        ev = self.events.get(event_id)
        kind = ev.persistence if ev is not None and ev.persistence else self.default_persistence
        return self.persistence.get(kind) or self.persistence.get(self.default_persistence) or DEFAULT_PERSISTENCE[DEFAULT_PERSISTENCE_KIND]

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
    persistence, default_kind = _load_persistence(raw.get("persistence"), p)
    events: dict[str, EventType] = {}
    for eid, e in raw["events"].items():
        kind = str(e.get("persistence", ""))
        if kind and kind not in persistence:
            raise TaxonomyError(f"event {eid!r} in {str(p)!r} has persistence {kind!r}; expected one of {sorted(persistence)} "
                                "(the kinds under persistence: classes)", value=kind)
        for sid in e["scenes"]:
            if sid not in scenes:
                raise TaxonomyError(
                    f"event {eid!r} in {str(p)!r} names scene {sid!r}, which is not defined under scenes; "
                    "define the scene or remove it from the event",
                    value=sid,
                )
        events[eid] = EventType(eid, e["name"], tuple(e["scenes"]), tuple(e.get("objects", ())), kind)
    return Taxonomy(int(raw["version"]), scenes, events, persistence, default_kind)


def _load_persistence(raw: Any, p: Path) -> tuple[dict[str, Persistence], str]:
    if raw is None:
        return dict(DEFAULT_PERSISTENCE), DEFAULT_PERSISTENCE_KIND
    if not isinstance(raw, dict) or not isinstance(raw.get("classes"), dict) or not raw["classes"]:
        raise TaxonomyError(f"taxonomy {str(p)!r}: persistence must be a mapping with classes: {{KIND: {{window_s, share}}}} "
                            "and default: KIND", value=str(p))
    out = {}
    for kind, c in raw["classes"].items():
        if not isinstance(c, dict) or not {"window_s", "share"} <= c.keys():
            raise TaxonomyError(f"taxonomy {str(p)!r}: persistence class {kind!r} needs window_s and share, e.g. "
                                "{window_s: 3.0, share: 0.8}", value=str(kind))
        out[str(kind)] = Persistence(str(kind), float(c["window_s"]), float(c["share"]))
    default = str(raw.get("default", DEFAULT_PERSISTENCE_KIND))
    if default not in out:
        raise TaxonomyError(f"taxonomy {str(p)!r}: persistence default {default!r} is not one of its classes {sorted(out)}", value=default)
    return out, default


def event_persistence(event_types: Iterable[str], *, postprocess: Mapping[str, Any] | None = None,
                      taxonomy: Taxonomy | None = None) -> Persistence | None:
    """The persistence window an algorithm's alerts need: the shortest of its event types' kinds
    (an algorithm of a momentary and a state event must not delay the momentary one), unless
    the algorithm overrides it in its ``postprocess`` with ``event_window_s`` (and optionally
    ``event_window_share``); ``event_window_s: null`` asks for no window (``None``: the control
    plane's k of n frames). No event types: the taxonomy's default kind."""
    tax = taxonomy or load_taxonomy()
    ids = list(event_types)
    kinds = [tax.persistence_of(e) for e in ids] or [tax.persistence_of("")]
    best = min(kinds, key=lambda q: (q.window_s, q.share))
    pp = dict(postprocess or {})
    if "event_window_s" in pp and pp["event_window_s"] is None:
        return None
    if "event_window_s" in pp or "event_window_share" in pp:
        try:
            w = float(pp.get("event_window_s", best.window_s))
            sh = float(pp.get("event_window_share", best.share))
        except (TypeError, ValueError):
            raise TaxonomyError(f"postprocess event_window_s={pp.get('event_window_s')!r} / event_window_share="
                                f"{pp.get('event_window_share')!r} are not numbers; expected e.g. 3.0 and 0.8",
                                value=str(pp.get("event_window_s"))) from None
        return Persistence("override", w, sh)
    return best


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
