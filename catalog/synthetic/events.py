"""The registry of event painters: where each event may be placed and how big it is drawn.

Every event type of the taxonomy has exactly one :class:`EventStyle`; a test checks the two
stay in step.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from catalog.synthetic import events_actors as a
from catalog.synthetic import events_environment as e
from catalog.synthetic import events_vehicles as v

Painter = Callable[[np.ndarray, np.random.Generator, tuple[float, float, float, float]], None]


@dataclass(frozen=True, slots=True)
class EventStyle:
    painter: Painter
    zones: tuple[str, ...]  # preferred zones, first present one wins; "ground" is the fallback
    w_frac: tuple[float, float]  # box width as a fraction of the frame width (min, max)
    h_frac: tuple[float, float]
    anchor: str = "bottom"  # "bottom": stands in the zone and may rise above it; "inside": fits in the zone


_GROUND = ((0.36, 0.48), (0.32, 0.45))
_TALL = ((0.26, 0.34), (0.5, 0.65))
_WIDE = ((0.46, 0.6), (0.34, 0.46))
_FLAT = ((0.42, 0.56), (0.26, 0.36))


def _s(p, zones, size=_GROUND, anchor="bottom") -> EventStyle:
    return EventStyle(p, tuple(zones), size[0], size[1], anchor)


STYLES: dict[str, EventStyle] = {
    "missing_manhole_cover": _s(e.missing_manhole_cover, ["road", "walk", "ground"], _FLAT),
    "overflowing_garbage": _s(e.overflowing_garbage, ["walk", "ground"]),
    "illegal_parking": _s(v.illegal_parking, ["road", "walk", "ground"], _WIDE),
    "street_vending": _s(a.street_vending, ["walk", "ground"], _GROUND),
    "smoke": _s(e.smoke, ["ground"], _TALL),
    "fire": _s(e.fire, ["ground"], _TALL),
    "standing_water": _s(e.standing_water, ["road", "walk", "ground"], _FLAT),
    "fallen_tree": _s(e.fallen_tree, ["road", "walk", "ground"], _WIDE),
    "crowd_gathering": _s(a.crowd_gathering, ["walk", "ground"], _WIDE),
    "person_lying_down": _s(a.person_lying_down, ["walk", "ground"], _FLAT),
    "boat_in_restricted_zone": _s(a.boat_in_restricted_zone, ["water"], ((0.32, 0.42), (0.2, 0.3)), "inside"),
    "cargo_in_lobby": _s(e.cargo_in_lobby, ["ground"], _GROUND),
    "person_in_water": _s(a.person_in_water, ["water"], ((0.22, 0.3), (0.2, 0.3)), "inside"),
    "swimming_in_prohibited_area": _s(a.swimming_in_prohibited_area, ["water"], ((0.3, 0.4), (0.18, 0.28)), "inside"),
    "wrong_way_driving": _s(v.wrong_way_driving, ["road", "ground"], _GROUND),
    "traffic_jam": _s(v.traffic_jam, ["road", "ground"], ((0.5, 0.65), (0.35, 0.45))),
    "vehicle_breakdown": _s(v.vehicle_breakdown, ["road", "ground"], _WIDE),
    "pedestrian_on_motorway": _s(a.pedestrian_on_motorway, ["road", "ground"], ((0.22, 0.3), (0.5, 0.62))),
    "red_light_running": _s(v.red_light_running, ["road", "ground"], _WIDE),
    "road_debris": _s(e.road_debris, ["road", "ground"], _GROUND),
    "pothole": _s(e.pothole, ["road", "walk", "ground"], _FLAT),
    "broken_streetlight": _s(e.broken_streetlight, ["walk", "ground"], _TALL),
    "graffiti": _s(e.graffiti, ["wall"], ((0.3, 0.42), (0.2, 0.3)), "inside"),
    "illegal_banner": _s(e.illegal_banner, ["wall"], ((0.35, 0.5), (0.15, 0.25)), "inside"),
    "construction_waste_dumping": _s(e.construction_waste_dumping, ["ground"], _GROUND),
    "no_helmet_worker": _s(a.no_helmet_worker, ["ground"], ((0.22, 0.3), (0.38, 0.5))),
    "uncovered_muck_truck": _s(v.uncovered_muck_truck, ["road", "ground"], _WIDE),
    "dust_emission": _s(e.dust_emission, ["ground"], _WIDE),
    "unfenced_excavation": _s(e.unfenced_excavation, ["ground"], _GROUND),
    "blocked_fire_lane": _s(v.blocked_fire_lane, ["road", "ground"], _WIDE),
    "blocked_exit": _s(e.blocked_exit, ["ground"], _GROUND),
    "loitering": _s(a.loitering, ["walk", "ground"], ((0.26, 0.34), (0.45, 0.56))),
    "intrusion_after_hours": _s(a.intrusion_after_hours, ["ground"], _GROUND),
    "fighting": _s(a.fighting, ["walk", "ground"], ((0.25, 0.32), (0.4, 0.5))),
    "person_climbing_railing": _s(a.person_climbing_railing, ["walk", "ground"], _GROUND),
    "litter": _s(e.litter, ["walk", "ground"], _WIDE),
    "floating_garbage": _s(e.floating_garbage, ["water"], ((0.32, 0.45), (0.18, 0.28)), "inside"),
    "oil_spill": _s(e.oil_spill, ["water", "road", "ground"], ((0.32, 0.45), (0.18, 0.28)), "inside"),
    "algae_bloom": _s(e.algae_bloom, ["water"], ((0.35, 0.5), (0.2, 0.3)), "inside"),
    "dead_fish": _s(e.dead_fish, ["walk", "ground"], _FLAT),
    "fishing_in_prohibited_area": _s(a.fishing_in_prohibited_area, ["walk", "ground"], ((0.28, 0.36), (0.4, 0.5))),
    "shared_bike_pileup": _s(v.shared_bike_pileup, ["walk", "ground"], _WIDE),
    "electric_bike_in_lobby": _s(v.electric_bike_in_lobby, ["ground"], _GROUND),
    "occupied_disabled_space": _s(v.occupied_disabled_space, ["ground"], _GROUND),
    "parking_outside_lines": _s(v.parking_outside_lines, ["ground"], _GROUND),
    "abandoned_vehicle": _s(v.abandoned_vehicle, ["road", "ground"], _GROUND),
    "vehicle_on_sidewalk": _s(v.vehicle_on_sidewalk, ["walk", "ground"], _GROUND),
    "open_air_burning": _s(e.open_air_burning, ["ground"], ((0.28, 0.36), (0.4, 0.5))),
    "outdoor_barbecue": _s(a.outdoor_barbecue, ["walk", "ground"], _GROUND),
    "clothes_hanging_on_trees": _s(e.clothes_hanging_on_trees, ["ground"], _WIDE),
    "damaged_guardrail": _s(e.damaged_guardrail, ["road", "ground"], _GROUND),
    "damaged_road_sign": _s(e.damaged_road_sign, ["road", "ground"], _TALL),
    "flooded_underpass": _s(v.flooded_underpass, ["road", "ground"], ((0.5, 0.7), (0.3, 0.4))),
    "ice_on_road": _s(e.ice_on_road, ["road", "walk", "ground"], _FLAT),
    "tunnel_lighting_failure": _s(e.tunnel_lighting_failure, ["upper"], ((0.4, 0.55), (0.3, 0.38)), "inside"),
    "stray_animal": _s(a.stray_animal, ["walk", "ground"], _GROUND),
    "unattended_bag": _s(a.unattended_bag, ["walk", "ground"], _FLAT),
    "queue_overflow": _s(a.queue_overflow, ["walk", "ground"], _WIDE),
    "outdoor_dining_occupation": _s(e.outdoor_dining_occupation, ["walk", "ground"], _WIDE),
    "exposed_cables": _s(e.exposed_cables, ["wall", "ground"], _GROUND),
    "missing_safety_net": _s(e.missing_safety_net, ["wall"], ((0.25, 0.35), (0.25, 0.35)), "inside"),
    "jaywalking": _s(a.jaywalking, ["road", "ground"], _GROUND),
    "drone_flying": _s(e.drone_flying, ["upper"], ((0.22, 0.3), (0.2, 0.3)), "inside"),
    "beach_closure_intrusion": _s(a.beach_closure_intrusion, ["walk", "ground"], _WIDE),
}
