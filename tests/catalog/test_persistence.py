"""Event persistence in the taxonomy: every event type's window, the file's validation, overrides."""
from __future__ import annotations

import pytest

from catalog import Persistence, TaxonomyError, event_persistence, load_taxonomy

STATE_LIKE = ("standing_water", "smoke", "fire", "fallen_tree", "litter", "illegal_banner", "illegal_parking", "abandoned_vehicle",
              "unattended_bag", "crowd_gathering", "loitering")
MOMENTARY = ("red_light_running", "jaywalking", "wrong_way_driving", "person_climbing_railing", "person_in_water")


def test_every_event_type_has_a_window_and_state_like_events_persist_longer():
    tax = load_taxonomy()
    kinds = {e: tax.persistence_of(e) for e in tax.events}
    assert {p.kind for p in kinds.values()} == {"state", "momentary"}
    assert all(kinds[e].kind == "state" for e in STATE_LIKE)
    assert all(kinds[e].kind == "momentary" for e in MOMENTARY)
    state, momentary = tax.persistence["state"], tax.persistence["momentary"]
    assert 2.0 <= state.window_s <= 5.0 and state.share > 0.5  # "most of a few seconds"
    assert momentary.window_s < state.window_s


def test_an_algorithm_gets_its_shortest_window_or_its_own_override():
    assert event_persistence(["smoke", "red_light_running"]).kind == "momentary"  # the momentary event must not wait
    assert event_persistence([]) == load_taxonomy().persistence["state"]  # no event types: the default kind
    assert event_persistence(["an_event_added_later"]).kind == "state"  # unknown to the file: the default
    assert event_persistence(["smoke"], postprocess={"event_window_s": 10, "event_window_share": 0.9}) == Persistence("override", 10.0, 0.9)
    assert event_persistence(["smoke"], postprocess={"event_window_s": None}) is None  # asks for k of n frames
    with pytest.raises(TaxonomyError, match="event_window_s='soon'"):
        event_persistence(["smoke"], postprocess={"event_window_s": "soon"})
    with pytest.raises(TaxonomyError, match="window_s=0.0"):
        event_persistence(["smoke"], postprocess={"event_window_s": 0})


BASE = """version: 9
scenes:
  road: {name: Road, family: roadway}
events:
  smoke: {name: Smoke, scenes: [road]%s}
"""


@pytest.mark.parametrize(
    "persistence, event_extra, match",
    [
        ("persistence: {default: state, classes: {state: {window_s: 3.0}}}\n", "", "needs window_s and share"),
        ("persistence: {default: slow, classes: {state: {window_s: 3.0, share: 0.8}}}\n", "", "default 'slow'"),
        ("persistence: {default: state, classes: {state: {window_s: -1, share: 0.8}}}\n", "", "window_s=-1"),
        ("persistence: {default: state, classes: {state: {window_s: 3.0, share: 0.8}}}\n", ", persistence: brief", "persistence 'brief'"),
        ("persistence: [state]\n", "", "persistence must be a mapping"),
    ],
)
def test_a_malformed_persistence_block_is_refused_with_the_fix(tmp_path, persistence, event_extra, match):
    p = tmp_path / "tax.yaml"
    p.write_text(persistence + BASE % event_extra)
    with pytest.raises(TaxonomyError, match=match):
        load_taxonomy(p)


def test_a_taxonomy_without_a_persistence_block_gets_the_documented_defaults(tmp_path):
    p = tmp_path / "tax.yaml"
    p.write_text(BASE % "")
    tax = load_taxonomy(p)
    assert tax.persistence_of("smoke") == Persistence("state", 3.0, 0.8)
