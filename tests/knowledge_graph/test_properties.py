"""Invariants of relevance over random cameras, times and feedback (Hypothesis)."""
from __future__ import annotations

from datetime import datetime, timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from catalog import load_taxonomy
from knowledge_graph import CityGraph, load_ontology
from tests.knowledge_graph.conftest import build_catalog_specs

_ONT = load_ontology(algorithms=build_catalog_specs())
_TAX = load_taxonomy()
SCENES = sorted(_TAX.scenes)
EVENTS = sorted(_TAX.events)
REGIONS = sorted(_ONT.regions)
ALGS = sorted(_ONT.algorithms)

cameras = st.fixed_dictionaries({
    "region": st.sampled_from(REGIONS),
    "scenes": st.dictionaries(st.sampled_from(SCENES), st.floats(0.0, 1.0), min_size=1, max_size=3),
    "exclude_events": st.lists(st.sampled_from(EVENTS), max_size=3),
    "minutes": st.integers(0, 7 * 24 * 60 - 1),
    "rejections": st.lists(st.sampled_from(ALGS), max_size=12),
})


def _negative(graph: CityGraph, cid: str) -> tuple[set[str], set[str]]:
    """(algorithms, events) that negative knowledge forbids on this camera (recomputed from the YAML)."""
    cam = graph.camera(cid)
    chain, r = set(), cam.region
    while r is not None:
        chain.add(r)
        r = _ONT.regions[r].parent
    events, algs = set(cam.exclude_events), set(cam.exclude_algorithms)
    for n in _ONT.negative:
        if (n.scene is not None and n.scene == cam.primary_scene) or (n.region is not None and n.region in chain):
            events |= set(n.never_events)
            algs |= set(n.never_algorithms)
    return algs, events


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cam=cameras)
def test_relevance_invariants(cam):
    g = CityGraph(_ONT)
    g.add_camera("c", region=cam["region"], scenes=cam["scenes"], hints={"exclude_events": cam["exclude_events"]})
    for i, a in enumerate(cam["rejections"]):
        g.record_rejection("c", a, alert_id=str(i))
    at = datetime(2024, 4, 29) + timedelta(minutes=cam["minutes"])
    rel = g.relevance("c", at)
    ids = rel.algorithm_ids()
    static = g.index.graph
    # the camera's links now: feedback may have revised them (rejections make events look absent)
    camera_edges = {("camera:c", "scene:" + s) for s, _c in g.camera("c").scenes} | {("camera:c", "region:" + cam["region"])}

    assert len(ids) == len(set(ids))
    # never a negatively-linked algorithm, never one chosen for a negatively-linked event, never a paused one
    never_algs, never_events = _negative(g, "c")
    assert not set(ids) & never_algs
    assert not [c.algorithm_id for c in rel.choices if set(c.explanation.event_types) & never_events]
    assert not [a for a in ids if g.is_paused("c", a)]
    for choice in rel.choices:
        exp = choice.explanation
        assert exp.paths and len(exp.paths) == len(exp.reasons)
        for path in exp.paths:
            # every path starts at the camera, ends at the algorithm, and walks real graph edges
            assert path[0] == "camera:c" and path[-1] == "algorithm:" + choice.algorithm_id
            for u, v in zip(path, path[1:]):
                assert (u, v) in camera_edges or static.has_edge(u, v) or static.has_edge(v, u), (u, v)
        # every dependency it pulls in is scheduled too, at no lower priority
        for dep in exp.dependencies:
            assert dep in ids and rel.get(dep).priority >= choice.priority
        assert 0.0 <= choice.score <= 1.0 and choice.fps > 0
        # governance tasks named in the explanation are active now
        for t in exp.governance_task_ids:
            assert _ONT.tasks[t].active(at.hour * 60 + at.minute, at.weekday())
