"""A synthetic city whose ground truth is known: which events really occur on each camera, how often, when.

Every camera looks at one scene of the synthetic generator (:mod:`catalog.synthetic`), whose
taxonomy says which events can happen there; the generator paints each of them. On top of
that, the city's own facts: a camera's context can rule an event out (the harbor has no beach,
so nobody swims there or breaks a beach closure), each (camera, event) has a rate drawn from
a long tail (a few events several times a day, many a few times a month, a fifth of them rare:
less than once in ten days), and some events happen only at certain hours (intrusions after
hours at night). Regions follow the scene (a seafront on the coast or in the harbor).

Registration hints are what an installer would type: the right scene for most cameras, a
neighbouring scene of the same family for some, nothing for the rest. Some cameras
(``zone_share``) also have zones drawn by an operator for events that occur there (a
no-parking zone where cars stop, a lane where they drive): configuration, not scene hints.

>>> city = build_city(cameras_per_scene=2, seed=0)
>>> cam = city.cameras[0]
>>> cam.scene in city.scenes and all(e.rate_per_day > 0 for e in cam.events)
True
"""
from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from catalog import Taxonomy, load_taxonomy
from catalog.synthetic import CONDITIONS

# where a camera of each scene family stands (leaf regions of the bundled ontology)
SCENE_REGIONS: dict[str, tuple[str, ...]] = {
    "seafront": ("coast", "harbor"),
    "river_bank": ("riverside",),
    "construction_site": ("industrial", "suburbs"),
    "building_lobby": ("downtown", "university", "old_town"),
    "school_gate": ("university", "suburbs", "old_town"),
    "market_street": ("old_town", "downtown"),
}
DEFAULT_REGIONS = ("downtown", "old_town", "industrial", "university", "suburbs")
# what is physically impossible in a region's context, whatever its scene allows
REGION_IMPOSSIBLE: dict[str, frozenset[str]] = {
    "harbor": frozenset({"swimming_in_prohibited_area", "beach_closure_intrusion"}),
}
# events that happen only in some hours (local time, [start, end) wrapping midnight)
EVENT_HOURS: dict[str, tuple[int, int]] = {
    "intrusion_after_hours": (22, 6),
    "beach_closure_intrusion": (20, 6),
    "loitering": (18, 6),
    "outdoor_barbecue": (17, 23),
    "outdoor_dining_occupation": (11, 23),
    "street_vending": (7, 22),
    "traffic_jam": (7, 20),
    "no_helmet_worker": (6, 20),
    "dust_emission": (6, 20),
}
RARE_PER_DAY = 0.1  # an event rarer than this is "rare" in the figures
# the zone or line an operator draws for an event that a track algorithm watches (runtime.tracking)
EVENT_ZONES: dict[str, str] = {
    "illegal_parking": "no_parking",
    "wrong_way_driving": "lane",
    "pedestrian_on_motorway": "no_pedestrian",
    "crowd_gathering": "crowd",
    "intrusion_after_hours": "intrusion",
}


@dataclass(frozen=True, slots=True)
class EventTruth:
    """One event that really occurs on a camera: its rate and, if restricted, its hours."""

    event: str
    rate_per_day: float
    hours: tuple[int, int] | None = None

    @property
    def rare(self) -> bool:
        return self.rate_per_day < RARE_PER_DAY

    def occurs_at_hour(self, hour: int) -> bool:
        if self.hours is None:
            return True
        a, b = self.hours
        return a <= hour < b if a < b else hour >= a or hour < b


@dataclass(frozen=True, slots=True)
class CityCamera:
    """A camera of the synthetic city and everything true about it."""

    camera_id: str
    scene: str
    region: str
    seed: int
    condition: str
    events: tuple[EventTruth, ...]
    hint_scene: str | None  # what the installer typed (may be wrong or missing)
    held_out: bool  # held-out cameras are discovered from frames alone
    zones: tuple[str, ...] = ()  # kinds of the zones and lines an operator drew on it

    @property
    def event_ids(self) -> frozenset[str]:
        return frozenset(e.event for e in self.events)

    def truth(self, event: str) -> EventTruth | None:
        return next((e for e in self.events if e.event == event), None)


@dataclass(frozen=True)
class SyntheticCity:
    cameras: tuple[CityCamera, ...]
    scenes: tuple[str, ...]
    seed: int

    @property
    def held_out(self) -> tuple[CityCamera, ...]:
        return tuple(c for c in self.cameras if c.held_out)

    @property
    def training(self) -> tuple[CityCamera, ...]:
        return tuple(c for c in self.cameras if not c.held_out)

    def camera(self, camera_id: str) -> CityCamera:
        for c in self.cameras:
            if c.camera_id == camera_id:
                return c
        raise KeyError(f"no camera {camera_id!r} in the synthetic city ({len(self.cameras)} cameras)")


def possible_events(scene: str, region: str, taxonomy: Taxonomy | None = None) -> tuple[str, ...]:
    """Events that can occur on a camera of ``scene`` in ``region`` (the city's truth)."""
    tax = taxonomy or load_taxonomy()
    never = REGION_IMPOSSIBLE.get(region, frozenset())
    return tuple(e for e, ev in tax.events.items() if scene in ev.scenes and e not in never)


def _rates(rng: np.random.Generator, n: int) -> np.ndarray:
    """Long-tailed rates per day: log-uniform between once in 50 days and 20 a day."""
    return np.exp(rng.uniform(math.log(0.02), math.log(20.0), size=n))


def neighbour_scene(scene: str, tax: Taxonomy, rng: np.random.Generator) -> str:
    """Another scene of the same family (what an installer or a discovery confuses it with)."""
    family = tax.scenes[scene].family
    same = [s for s, sc in tax.scenes.items() if sc.family == family and s != scene]
    pool = same or [s for s in tax.scenes if s != scene]
    return pool[int(rng.integers(len(pool)))]


def build_city(
    *,
    cameras_per_scene: int = 6,
    held_out_per_scene: int | None = None,
    seed: int = 0,
    hint_right: float = 0.7,
    hint_wrong: float = 0.15,
    scenes: Sequence[str] | None = None,
    taxonomy: Taxonomy | None = None,
    zone_share: float = 0.3,
) -> SyntheticCity:
    """``cameras_per_scene`` cameras of every scene (half held out unless
    ``held_out_per_scene`` says otherwise); deterministic in ``seed``. ``zone_share`` of the
    cameras with events a track algorithm watches have zones drawn for those events (drawn
    from a stream of their own, so the rest of the city does not change with it)."""
    tax = taxonomy or load_taxonomy()
    scene_list = tuple(scenes) if scenes is not None else tuple(tax.scenes)
    if cameras_per_scene < 1:
        raise ValueError(f"cameras_per_scene={cameras_per_scene!r}; give at least 1")
    n_held = cameras_per_scene // 2 if held_out_per_scene is None else held_out_per_scene
    if not 0 <= n_held <= cameras_per_scene:
        raise ValueError(f"held_out_per_scene={n_held!r} must be between 0 and cameras_per_scene={cameras_per_scene}")
    rng = np.random.default_rng([seed, 13])
    cams: list[CityCamera] = []
    for s_no, scene in enumerate(scene_list):
        regions = SCENE_REGIONS.get(scene, DEFAULT_REGIONS)
        for i in range(cameras_per_scene):
            region = regions[(i + s_no) % len(regions)]
            evs = possible_events(scene, region, tax)
            rates = _rates(rng, len(evs))
            truth = tuple(EventTruth(e, float(r), EVENT_HOURS.get(e)) for e, r in zip(evs, rates))
            u = rng.random()
            hint = scene if u < hint_right else (neighbour_scene(scene, tax, rng) if u < hint_right + hint_wrong else None)
            zrng = np.random.default_rng([seed, 17, s_no, i])
            zones = tuple(sorted({EVENT_ZONES[e] for e in evs if e in EVENT_ZONES})) if zrng.random() < zone_share else ()
            cams.append(CityCamera(
                camera_id=f"{scene}-{i:02d}", scene=scene, region=region,
                seed=int(10_000 * (seed + 1) + 100 * s_no + i), condition=CONDITIONS[int(rng.integers(len(CONDITIONS)))],
                events=truth, hint_scene=hint, held_out=i >= cameras_per_scene - n_held, zones=zones,
            ))
    return SyntheticCity(tuple(cams), scene_list, seed)


def camera_frames(cam: CityCamera, n: int, *, size_hw: tuple[int, int] = (360, 640)) -> list[np.ndarray]:
    """``n`` frames of the camera as the generator renders them: its fixed background and
    condition, showing 0-2 of its own events (the frequent ones more often)."""
    from catalog.synthetic import render_frame

    rng = np.random.default_rng([cam.seed, 29])
    evs = [e.event for e in cam.events]
    p = np.array([e.rate_per_day for e in cam.events], np.float64)
    p = p / p.sum() if p.sum() > 0 else None
    out = []
    for _ in range(n):
        k = int(rng.integers(0, 3))
        shown = tuple(rng.choice(evs, size=min(k, len(evs)), replace=False, p=p)) if k and evs else ()
        out.append(render_frame(cam.scene, events=shown, seed=cam.seed, condition=cam.condition, size_hw=size_hw).image)
    return out


def occurrence_weights(cam: CityCamera, hours: Sequence[int]) -> Mapping[str, np.ndarray]:
    """Per event, the share of its occurrences falling at each evaluation time (sums to 1)."""
    out = {}
    for e in cam.events:
        w = np.array([1.0 if e.occurs_at_hour(h) else 0.0 for h in hours], np.float64)
        out[e.event] = w / w.sum() if w.sum() > 0 else w
    return out
