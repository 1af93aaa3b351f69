"""Load the ontology YAML plus the catalog's algorithm records into an :class:`Ontology`.

>>> from knowledge_graph.loader import load_ontology
>>> ont = load_ontology(algorithms=catalog.list_algorithms())   # doctest: +SKIP
>>> sorted(r for r, _ in resolved_dependencies(ont)["ocr.text_ppocr"])  # doctest: +SKIP
['detector.plate_haar']
"""
from __future__ import annotations

import copy
import logging
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

from catalog import Taxonomy, load_taxonomy

from knowledge_graph.errors import OntologyError
from knowledge_graph.ontology import DEFAULT_ONTOLOGY_PATH
from knowledge_graph.schema import (
    AlgorithmNode,
    Defaults,
    Dependency,
    FeedbackPolicy,
    GovernanceTask,
    NegativeRule,
    Ontology,
    Region,
)
from knowledge_graph.timewindow import TimeWindow, parse_days
from knowledge_graph.validate import validate_ontology

log = logging.getLogger(__name__)

_TOP_KEYS = {
    "version", "defaults", "feedback", "object_classes", "regions", "demand_only_events",
    "dependencies", "governance_tasks", "negative", "zone_algorithms", "shared_sources", "wake_up",
}
ANY_SCENE_TAG = "any"  # catalog.records.ANY_SCENE


def _dependency(dep: Any, problems: list[str]) -> Dependency:
    """One ``dependencies`` entry; ``cascade`` must be a bool and ``crop_from`` name required ids."""
    dep = dep if isinstance(dep, dict) else {}
    pattern, requires = str(dep.get("algorithms", "")), tuple(dep.get("requires") or ())
    cascade = dep.get("cascade", False)
    if not isinstance(cascade, bool):
        problems.append(f"dependency {pattern!r}: cascade={cascade!r}; expected true or false")
        cascade = False
    crop = dep.get("crop_from") or {}
    if not isinstance(crop, dict):
        problems.append(f"dependency {pattern!r}: crop_from={crop!r}; expected a mapping reader -> detector, "
                        "e.g. {ocr.text_ppocr: detector.plate_haar}")
        crop = {}
    for reader, source in crop.items():
        if reader not in requires or source not in requires:
            problems.append(f"dependency {pattern!r}: crop_from {reader} -> {source} names an algorithm outside `requires` "
                            f"{list(requires)}; list both there")
    if crop and not cascade:
        problems.append(f"dependency {pattern!r}: crop_from needs cascade: true (crops are read where the dependent fired)")
    reread = dep.get("reread_s")
    if reread is not None and (not isinstance(reread, (int, float)) or isinstance(reread, bool) or not 0 <= reread <= 86400):
        problems.append(f"dependency {pattern!r}: reread_s={reread!r}; expected seconds in [0, 86400], e.g. 60")
        reread = None
    if reread is not None and not cascade:
        problems.append(f"dependency {pattern!r}: reread_s needs cascade: true (it is how often a cascaded reader reads again)")
    return Dependency(pattern, requires, str(dep.get("reason", "")), cascade, tuple((str(r), str(d)) for r, d in crop.items()),
                      None if reread is None else float(reread))


def _reread_problems(deps: Sequence[Dependency], problems: list[str]) -> None:
    """A reader re-reads as often as the most eager of its dependents asks, so its cascaded
    dependencies either all set ``reread_s`` or none does (an unset one means the runtime's default)."""
    given: dict[str, set[bool]] = {}
    for d in deps:
        if d.cascade:
            for req in d.requires:
                given.setdefault(req, set()).add(d.reread_s is not None)
    for reader, kinds in sorted(given.items()):
        if len(kinds) > 1:
            problems.append(f"reader {reader}: some of its cascaded dependencies set reread_s and some do not; "
                            "set it on all of them (or on none, for the runtime's default)")


def _wake_up(raw: dict[str, Any], problems: list[str]) -> tuple[dict[str, tuple[str, ...]], float]:
    w = raw.get("wake_up") or {}
    if not isinstance(w, dict):
        problems.append(f"wake_up={w!r}; expected {{hold_s: 300, algorithms: {{track.x: [scene.*.event]}}}}")
        return {}, 300.0
    hold = w.get("hold_s", 300)
    if not isinstance(hold, (int, float)) or isinstance(hold, bool) or not 0 < hold <= 86400:
        problems.append(f"wake_up.hold_s={hold!r}; expected seconds in (0, 86400], e.g. 300")
        hold = 300.0
    algs = {}
    for a, pats in (w.get("algorithms") or {}).items():
        pats = [pats] if isinstance(pats, str) else list(pats or ())
        if not pats:
            problems.append(f"wake_up algorithm {a!r}: list the head patterns that wake it, e.g. [scene.*.illegal_parking]")
        algs[str(a)] = tuple(str(p) for p in pats)
    return algs, float(hold)


def read_ontology_yaml(path: str | Path | None = None) -> dict[str, Any]:
    """The raw YAML mapping (a deep copy you may edit, e.g. in tests)."""
    p = Path(path) if path is not None else DEFAULT_ONTOLOGY_PATH
    try:
        raw = yaml.safe_load(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise OntologyError(f"ontology file {str(p)!r} does not exist; pass the path of an ontology YAML "
                            f"(the bundled one is {DEFAULT_ONTOLOGY_PATH})") from None
    if not isinstance(raw, dict):
        raise OntologyError(f"ontology {str(p)!r} must be a YAML mapping, got {type(raw).__name__}")
    return copy.deepcopy(raw)


def algorithm_from_record(record: Any, *, source: str = "catalog", production: bool | None = None,
                          cost_ms: float | None = None, object_classes: Iterable[str] = ()) -> AlgorithmNode:
    """An :class:`AlgorithmNode` from one catalog record: a :class:`catalog.AlgorithmSpec`
    (what ``Catalog.list_algorithms()`` returns), a dict with the same fields, or an
    :class:`AlgorithmNode` (returned as is). ``objects`` are the record's ``objects`` if it
    has them, else its ``labels`` that name an ontology object class."""
    if isinstance(record, AlgorithmNode):
        return record

    def get(name: str, default: Any = None) -> Any:
        if isinstance(record, Mapping):
            return record.get(name, default)
        return getattr(record, name, default)

    alg_id = get("id")
    if not alg_id or not isinstance(alg_id, str):
        raise OntologyError(f"algorithm record {record!r} has no string `id`; give every algorithm an id")
    objects = tuple(get("objects", ()) or ())
    if not objects:
        known = set(object_classes)
        objects = tuple(lb for lb in (get("labels", ()) or ()) if lb in known)
    prod = get("production", True) if production is None else production
    cost = get("cost_ms", None) if cost_ms is None else cost_ms
    return AlgorithmNode(
        id=alg_id,
        kind=str(get("kind", "unknown") or "unknown"),
        event_types=tuple(get("event_types", ()) or ()),
        # the catalog's scene tag "any" marks a scene-independent model: generic here
        scene_tags=tuple(t for t in (get("scene_tags", ()) or ()) if t != ANY_SCENE_TAG),
        objects=objects,
        depends_on=tuple(get("depends_on", ()) or ()),
        source=source,
        production=bool(prod),
        cost_ms=None if cost is None else float(cost),
    )


def algorithms_from_catalog(catalog: Any) -> list[AlgorithmNode]:
    """The graph's algorithm nodes from a live :class:`catalog.Catalog`: every registered
    algorithm, marked ``production`` when it has a production version, with that version's
    measured cost per frame."""
    prod = catalog.production_versions()
    out = []
    for spec in catalog.list_algorithms():
        v = prod.get(spec.id)
        cost = v.cost_profile.latency_ms_per_frame if v is not None and v.cost_profile is not None else None
        out.append(algorithm_from_record(spec, production=v is not None, cost_ms=cost))
    return out


def _num(value: Any, node: str, field: str, problems: list[str], *, lo: float, hi: float, default: float) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError):
        problems.append(f"{node}: {field}={value!r} is not a number; give a number in [{lo}, {hi}]")
        return default
    if not lo <= v <= hi:
        problems.append(f"{node}: {field}={value!r} is outside [{lo}, {hi}]; pick a value in that range")
        return default
    return v


def _tasks(raw: Mapping[str, Any], problems: list[str]) -> dict[str, GovernanceTask]:
    tasks = {}
    for tid, t in (raw.get("governance_tasks") or {}).items():
        t = t or {}
        node = f"governance task {tid!r}"
        windows: list[TimeWindow] = []
        for w in t.get("windows") or []:
            try:
                windows.append(TimeWindow.parse(w, node=node))
            except OntologyError as exc:
                problems.extend(exc.problems)
        try:
            days = parse_days(t.get("days"), node=node)
        except OntologyError as exc:
            problems.extend(exc.problems)
            days = frozenset(range(7))
        tasks[tid] = GovernanceTask(
            id=tid,
            department=str(t.get("department", "unknown")),
            events=tuple(t.get("events") or ()),
            algorithms=tuple(t.get("algorithms") or ()),
            regions=tuple(t.get("regions") or ()),
            scenes=tuple(t.get("scenes") or ()),
            windows=tuple(windows),
            days=days,
            priority=int(_num(t.get("priority", 50), node, "priority", problems, lo=0, hi=100, default=50)),
            fps=_num(t.get("fps", 1.0), node, "fps", problems, lo=0.01, hi=60, default=1.0),
        )
    return tasks


def load_ontology(
    source: str | Path | Mapping[str, Any] | None = None,
    *,
    algorithms: Iterable[Any] | None,
    taxonomy: Taxonomy | None = None,
) -> Ontology:
    """Parse and validate. Raises :class:`OntologyError` listing every problem, each naming
    the node and the fix.

    ``algorithms``: the catalog's records (``Catalog.list_algorithms()``,
    :func:`algorithms_from_catalog`, dicts with the same fields, or :class:`AlgorithmNode`).
    The catalog is the one list of algorithms; the ontology YAML names none of its own.
    """
    raw = dict(source) if isinstance(source, Mapping) else read_ontology_yaml(source)
    src = "<mapping>" if isinstance(source, Mapping) else str(source or DEFAULT_ONTOLOGY_PATH)
    tax = taxonomy or load_taxonomy()
    problems: list[str] = []
    if algorithms is None:
        raise OntologyError("no algorithms given; the graph's algorithms come from the catalog: pass "
                            "algorithms=catalog.list_algorithms() (or use CityGraph.from_catalog(catalog))", source=f"ontology {src}")
    unknown_keys = set(raw) - _TOP_KEYS
    if unknown_keys:
        hint = ("; algorithms are not listed in the ontology, they come from the catalog"
                if unknown_keys & {"algorithms", "algorithm_sets"} else "")
        problems.append(f"top level: unknown key(s) {sorted(unknown_keys)}; valid keys are {sorted(_TOP_KEYS)}{hint}")
    if "version" not in raw:
        problems.append("top level: missing `version`; add `version: 1` and bump it on every change")

    d = raw.get("defaults") or {}
    defaults = Defaults(
        min_scene_confidence=_num(d.get("min_scene_confidence", 0.25), "defaults", "min_scene_confidence", problems, lo=0, hi=1, default=0.25),
        baseline_priority=int(_num(d.get("baseline_priority", 10), "defaults", "baseline_priority", problems, lo=0, hi=100, default=10)),
        baseline_fps=_num(d.get("baseline_fps", 1.0), "defaults", "baseline_fps", problems, lo=0.01, hi=60, default=1.0),
        scene_monitor_priority=int(_num(d.get("scene_monitor_priority", 1), "defaults", "scene_monitor_priority", problems, lo=0, hi=100, default=1)),
        scene_monitor_fps=_num(d.get("scene_monitor_fps", 0.2), "defaults", "scene_monitor_fps", problems, lo=0.0, hi=60, default=0.2),
        uncertain_below=_num(d.get("uncertain_below", 0.6), "defaults", "uncertain_below", problems, lo=0, hi=1, default=0.6),
        uncertain_cover=_num(d.get("uncertain_cover", 0.6), "defaults", "uncertain_cover", problems, lo=0, hi=1, default=0.6),
        uncertain_floor=_num(d.get("uncertain_floor", 0.1), "defaults", "uncertain_floor", problems, lo=0, hi=1, default=0.1),
        uncertain_ratio=_num(d.get("uncertain_ratio", 0.5), "defaults", "uncertain_ratio", problems, lo=0, hi=1, default=0.5),
    )
    f = raw.get("feedback") or {}
    policy = FeedbackPolicy(
        prior_confirmations=_num(f.get("prior_confirmations", 4), "feedback", "prior_confirmations", problems, lo=0.01, hi=1e6, default=4),
        prior_rejections=_num(f.get("prior_rejections", 1), "feedback", "prior_rejections", problems, lo=0.01, hi=1e6, default=1),
        pause_below_precision=_num(f.get("pause_below_precision", 0.35), "feedback", "pause_below_precision", problems, lo=0, hi=1, default=0.35),
        min_rejections_to_pause=int(_num(f.get("min_rejections_to_pause", 3), "feedback", "min_rejections_to_pause", problems, lo=1, hi=1e6, default=3)),
    )

    object_classes = {k: str((v or {}).get("name", k)) for k, v in (raw.get("object_classes") or {}).items()}
    alg_map: dict[str, AlgorithmNode] = {}
    for rec in algorithms:
        a = algorithm_from_record(rec, object_classes=object_classes)
        if a.id in alg_map:
            problems.append(f"algorithm {a.id!r}: listed twice by the catalog; ids are unique, keep one record")
        alg_map[a.id] = a

    regions = {
        rid: Region(rid, str((r or {}).get("name", rid)), (r or {}).get("parent"))
        for rid, r in (raw.get("regions") or {}).items()
    }
    deps = tuple(_dependency(dep, problems) for dep in raw.get("dependencies") or [])
    _reread_problems(deps, problems)
    zone_algorithms = {str(k): tuple(str(a) for a in (v or ())) for k, v in (raw.get("zone_algorithms") or {}).items()}
    wake, hold_s = _wake_up(raw, problems)
    negative = tuple(
        NegativeRule(
            id=str(n.get("id") or f"negative[{i}]"),
            scene=n.get("scene"),
            region=n.get("region"),
            never_events=tuple(n.get("never_events") or ()),
            never_algorithms=tuple(n.get("never_algorithms") or ()),
            reason=str(n.get("reason", "")),
        )
        for i, n in enumerate(raw.get("negative") or [])
    )
    ont = Ontology(
        version=int(raw.get("version", 0) or 0),
        taxonomy=tax,
        defaults=defaults,
        feedback=policy,
        object_classes=object_classes,
        regions=regions,
        algorithms=alg_map,
        dependencies=deps,
        tasks=_tasks(raw, problems),
        negative=negative,
        demand_only_events=frozenset(raw.get("demand_only_events") or ()),
        source=src,
        zone_algorithms=zone_algorithms,
        shared_sources={str(k): tuple(str(s) for s in (v if isinstance(v, list) else [v]))
                        for k, v in (raw.get("shared_sources") or {}).items()},
        wake_up=wake,
        wake_hold_s=hold_s,
    )
    problems.extend(validate_ontology(ont))
    if problems:
        raise OntologyError(problems, source=f"ontology {src}")
    log.info("ontology loaded source=%s version=%s algorithms=%d tasks=%d", src, ont.version, len(alg_map), len(ont.tasks))
    return ont


def evidence_cascades(path: str | Path | None = None) -> dict[str, dict[str, Any]]:
    """Algorithm -> ``{"triggers": {pattern: crop_from}, "hold_s": s}`` of an ontology YAML
    (default: the bundled one), without a catalog: the evidence readers and wake-up cascades a
    worker's detector stage runs (``DetectorStage(cascades=evidence_cascades())``).

    >>> r = evidence_cascades()
    >>> r["ocr.text_ppocr"]["triggers"]["scene.*.illegal_parking"], r["track.wrong_way"]
    ('detector.plate_haar', {'triggers': {'scene.*.wrong_way_driving': None}, 'hold_s': 300.0})
    """
    from knowledge_graph.index import cascade_rules

    raw = read_ontology_yaml(path)
    problems: list[str] = []
    deps = [_dependency(d, problems) for d in raw.get("dependencies") or []]
    _reread_problems(deps, problems)
    wake, hold_s = _wake_up(raw, problems)
    if problems:
        raise OntologyError(problems, source=f"ontology {path or DEFAULT_ONTOLOGY_PATH}")
    return cascade_rules(deps, wake, hold_s)
