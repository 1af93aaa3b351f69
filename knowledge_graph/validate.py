"""Ontology validation: every problem names the node and the fix.

Checks dangling references (scenes, events, objects, regions), dependency cycles, unknown
scene tags, region cycles: each is a problem and loading fails.

What depends on the catalog's contents is a *gap*, not a problem: the catalog is the one
list of algorithms and may be partly filled (a build in progress, a weights package not
installed), so a dependency target, task algorithm or negative-rule algorithm the catalog
does not hold, and an event type no algorithm detects, are returned by :func:`catalog_gaps`
(logged, shown by ``warehouse graph validate``); relevance never chooses what is missing.
"""
from __future__ import annotations

import difflib
import fnmatch
import logging
from collections.abc import Iterable

import networkx as nx

from catalog import scene_head_id

from knowledge_graph.schema import Ontology

log = logging.getLogger(__name__)


def _hint(value: str, known: Iterable[str]) -> str:
    close = difflib.get_close_matches(str(value), list(known), n=3)
    return f" (did you mean {', '.join(repr(c) for c in close)}?)" if close else ""


def _nameable_ids(ont: Ontology) -> list[str]:
    """Every algorithm id the taxonomy's scene heads or the ontology itself could mean (a full catalog)."""
    from catalog import load_taxonomy

    ids = set(ont.algorithms) | {scene_head_id(s, e) for s, e in load_taxonomy().scene_event_pairs()}
    for dep in ont.dependencies:
        ids.update(dep.requires)
    for algs in ont.zone_algorithms.values():
        ids.update(algs)
    ids.update(ont.shared_sources)
    ids.update(s for sources in ont.shared_sources.values() for s in sources)
    return sorted(ids)


def cascaded_dependencies(ont: Ontology) -> dict[tuple[str, str], str | None]:
    """(algorithm id, evidence reader id) -> the detector whose boxes the reader reads (or
    ``None``: the dependent's own box / the frame), for the ``cascade: true`` dependencies."""
    out: dict[tuple[str, str], str | None] = {}
    ids = list(ont.algorithms)
    for dep in ont.dependencies:
        if not dep.cascade:
            continue
        crop = dict(dep.crop_from)
        for alg_id in fnmatch.filter(ids, dep.pattern):
            for req in dep.requires:
                out.setdefault((alg_id, req), crop.get(req))
    return out


def resolved_dependencies(ont: Ontology) -> dict[str, list[tuple[str, str]]]:
    """algorithm id -> [(required algorithm id, reason)], from ``depends_on`` and the
    ``dependencies`` patterns; unknown targets are kept (validation reports them)."""
    out: dict[str, list[tuple[str, str]]] = {}
    for a in ont.algorithms.values():
        for req in a.depends_on:
            out.setdefault(a.id, []).append((req, f"{a.id} is built on {req}"))
    ids = list(ont.algorithms)
    for dep in ont.dependencies:
        for alg_id in fnmatch.filter(ids, dep.pattern):
            for req in dep.requires:
                if req != alg_id and all(r != req for r, _ in out.get(alg_id, ())):
                    out.setdefault(alg_id, []).append((req, dep.reason or f"{alg_id} needs {req}"))
    return out


def validate_ontology(ont: Ontology) -> list[str]:
    tax = ont.taxonomy
    scenes, events = tax.scenes, tax.events
    p: list[str] = []

    def check(node: str, kind: str, values: Iterable[str], known, fix: str) -> None:
        for v in values:
            if v not in known:
                p.append(f"{node}: unknown {kind} {v!r}{_hint(v, known)}; {fix}")

    scene_fix = "use a scene id from catalog/taxonomy.yaml or add the scene there"
    event_fix = "use an event id from catalog/taxonomy.yaml or add the event there"
    for a in ont.algorithms.values():
        node = f"algorithm {a.id!r}"
        check(node, "scene tag", a.scene_tags, scenes, scene_fix)
        check(node, "event type", a.event_types, events, event_fix)
        check(node, "object class", a.objects, ont.object_classes, "add it under object_classes in the ontology YAML")
    deps = resolved_dependencies(ont)
    unmatched = []
    for dep in ont.dependencies:
        node = f"dependency {dep.pattern!r}"
        if not dep.requires:
            p.append(f"{node}: `requires` is empty; list the algorithm ids it needs or delete the rule")
        if not fnmatch.filter(list(ont.algorithms), dep.pattern):
            unmatched.append(dep.pattern)
    if unmatched and ont.algorithms:
        # a partial catalog legitimately lacks some (a gap: debug); a pattern that matches nothing the
        # taxonomy or the ontology could ever name is a typo (a warning)
        typos = [pat for pat in unmatched if not fnmatch.filter(_nameable_ids(ont), pat)]
        if typos:
            log.warning("dependency patterns %s match no algorithm the taxonomy or the ontology names; check them", typos)
        if len(typos) < len(unmatched):
            log.debug("dependency patterns %s match no algorithm of this catalog (%d algorithms) yet",
                      [pat for pat in unmatched if pat not in typos], len(ont.algorithms))

    g = nx.DiGraph((a, r) for a, reqs in deps.items() for r, _ in reqs if r in ont.algorithms)
    for cycle in list(nx.simple_cycles(g))[:5]:
        loop = " -> ".join([*cycle, cycle[0]])
        p.append(f"dependency cycle {loop}: algorithm {cycle[0]!r} ends up needing itself; remove one of these dependencies")

    for rid, r in ont.regions.items():
        if r.parent is not None and r.parent not in ont.regions:
            p.append(f"region {rid!r}: parent {r.parent!r} is not a region{_hint(r.parent, ont.regions)}; define it or fix the parent")
    rg = nx.DiGraph((rid, r.parent) for rid, r in ont.regions.items() if r.parent in ont.regions)
    for cycle in list(nx.simple_cycles(rg))[:3]:
        p.append(f"region cycle {' -> '.join([*cycle, cycle[0]])}: region {cycle[0]!r} is its own ancestor; fix a `parent`")

    for t in ont.tasks.values():
        node = f"governance task {t.id!r}"
        if not t.events and not t.algorithms:
            p.append(f"{node}: asks for nothing; list `events` and/or `algorithms`")
        if not t.regions:
            p.append(f"{node}: has no `regions`; list region ids (e.g. [city]) where it applies")
        check(node, "event type", t.events, events, event_fix)
        check(node, "region", t.regions, ont.regions, "define the region under `regions` or fix the id")
        check(node, "scene", t.scenes, scenes, scene_fix)

    for n in ont.negative:
        node = f"negative rule {n.id!r}"
        if (n.scene is None) == (n.region is None):
            p.append(f"{node}: give exactly one of `scene` or `region` (got scene={n.scene!r}, region={n.region!r})")
        if n.scene is not None:
            check(node, "scene", [n.scene], scenes, scene_fix)
        if n.region is not None:
            check(node, "region", [n.region], ont.regions, "define the region under `regions` or fix the id")
        check(node, "event type", n.never_events, events, event_fix)
        if not n.never_events and not n.never_algorithms:
            p.append(f"{node}: excludes nothing; list `never_events` and/or `never_algorithms`")

    check("demand_only_events", "event type", ont.demand_only_events, events, event_fix)
    for kind, algs in ont.zone_algorithms.items():
        if not kind or not algs:
            p.append(f"zone_algorithms {kind!r}: give a zone or line kind and the track algorithms it asks for, "
                     "e.g. no_parking: [track.illegal_parking]")

    return p


def catalog_gaps(ont: Ontology) -> list[str]:
    """What the ontology expects of the catalog that the catalog does not hold (see module doc)."""
    g: list[str] = []
    known = ont.algorithms
    for alg_id, reqs in resolved_dependencies(ont).items():
        for req, _ in reqs:
            if req not in known:
                g.append(f"algorithm {alg_id!r}: depends on {req!r}, which the catalog does not hold{_hint(req, known)}; "
                         f"{alg_id} is never chosen until {req} is registered")
    for t in ont.tasks.values():
        for a in t.algorithms:
            if a not in known:
                g.append(f"governance task {t.id!r}: asks for algorithm {a!r}, which the catalog does not hold{_hint(a, known)}")
    for n in ont.negative:
        for a in n.never_algorithms:
            if a not in known:
                g.append(f"negative rule {n.id!r}: names algorithm {a!r}, which the catalog does not hold{_hint(a, known)}")
    runnable = {e for a in known.values() if a.production for e in a.event_types}
    for e in ont.taxonomy.events:
        if e not in runnable:
            example = scene_head_id(ont.taxonomy.events[e].scenes[0], e) if ont.taxonomy.events[e].scenes else e
            g.append(f"event type {e!r}: no algorithm with a production version detects it; no camera is covered for it "
                     f"until one is registered and promoted (e.g. {example!r})")
    return g
