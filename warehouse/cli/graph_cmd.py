"""``warehouse graph``: the knowledge graph from the command line.

    warehouse graph validate [--ontology city.yaml]
    warehouse graph add-camera cam-7 --region coast --scene seafront=0.9 --scene road=0.3
    warehouse graph remove-camera cam-7
    warehouse graph explain cam-7 [--at 2024-05-01T23:00] [--algorithm ID] [--json]
    warehouse graph reject cam-7 scene.seafront.litter ALERT_ID
    warehouse graph confirm cam-7 scene.seafront.litter ALERT_ID
    warehouse graph miss cam-7 illegal_parking MISS_ID
    warehouse graph changes [--camera cam-7] [--json]
    warehouse graph undo CHANGE_ID

State: cameras and learned feedback live in the journal ``<home>/graph/journal.jsonl``
(append-only, replayed on every start). The graph's algorithms are always the configured
catalog's (``warehouse catalog build`` fills it); `validate` lists what the ontology expects
that the catalog does not hold. Errors print one line on stderr and exit with status 2.
"""
from __future__ import annotations

import json
import logging
from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer

from knowledge_graph import CityGraph, GraphChange, KnowledgeGraphError
from warehouse.cli._common import AsJson, Home, errors_exit_2
from warehouse.settings import Settings

log = logging.getLogger(__name__)
app = typer.Typer(no_args_is_help=True, add_completion=False, help="Knowledge graph: cameras, relevance, explanations, feedback.")

Ontology = Annotated[Path | None, typer.Option("--ontology", help="Ontology YAML (default: the bundled city.yaml).")]


def journal_path(home: Path | None) -> Path:
    settings = Settings(home=home) if home is not None else Settings()
    return settings.home / "graph" / "journal.jsonl"


def open_graph(home: Path | None = None, ontology: Path | None = None, catalog: object | None = None) -> CityGraph:
    """The CityGraph the CLI (and ``warehouse serve``) works on: the bundled (or given)
    ontology over the catalog's algorithms (``catalog``, else the configured one), plus the
    journal under home. An empty catalog gives a graph that chooses nothing (logged)."""
    from knowledge_graph import algorithms_from_catalog

    if catalog is not None:
        algorithms = algorithms_from_catalog(catalog)
    else:
        from catalog import ArtifactStore, Catalog

        settings = Settings(home=home) if home is not None else Settings()
        with Catalog.open(settings.resolved_catalog_url, store=ArtifactStore(settings.resolved_artifact_root)) as cat:
            algorithms = algorithms_from_catalog(cat)
    if not algorithms:
        log.warning("the catalog holds no algorithms: the graph chooses nothing until `warehouse catalog build` fills it")
    return CityGraph.load(ontology, algorithms=algorithms, journal=journal_path(home))


def _at(value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        raise KnowledgeGraphError(f"--at {value!r} is not an ISO time; write e.g. 2024-05-01T23:00") from None


def _print_change(ch: GraphChange, as_json: bool) -> None:
    typer.echo(json.dumps(ch.to_dict()) if as_json else f"{ch}\n  reason: {ch.reason}")


@app.command()
@errors_exit_2
def validate(ontology: Ontology = None, home: Home = None) -> None:
    """Load and validate the ontology over the catalog; print a summary and the catalog's gaps."""
    g = open_graph(home, ontology)
    o = g.ontology
    production = sum(1 for a in o.algorithms.values() if a.production)
    typer.echo(f"ontology v{o.version} ok: {len(o.taxonomy.scenes)} scenes, {len(o.taxonomy.events)} event types, "
               f"{len(o.algorithms)} catalog algorithms ({production} in production), {len(o.tasks)} governance tasks, "
               f"{len(o.negative)} negative rules, {len(g)} cameras in the journal")
    gaps = g.catalog_gaps()
    if gaps:
        typer.echo(f"{len(gaps)} gap(s) between the ontology and the catalog:")
        for line in gaps:
            typer.echo(f"  - {line}")


@app.command("add-camera")
@errors_exit_2
def add_camera(
    camera_id: str,
    region: Annotated[str, typer.Option("--region", help="Region id from the ontology.")],
    scene: Annotated[list[str], typer.Option("--scene", help="SCENE=CONFIDENCE, repeatable.")],
    exclude_event: Annotated[list[str] | None, typer.Option("--exclude-event", help="Event this camera never needs.")] = None,
    zone: Annotated[list[str] | None, typer.Option("--zone", help="Kind of a zone or line drawn on the camera "
                                                    "(no_parking, lane, crowd, ...), repeatable.")] = None,
    home: Home = None,
    ontology: Ontology = None,
    as_json: AsJson = False,
) -> None:
    """Register (or re-register) a camera with its scene links."""
    scenes: dict[str, float] = {}
    for item in scene:
        name, sep, conf = item.partition("=")
        try:
            scenes[name] = float(conf) if sep else 1.0
        except ValueError:
            raise KnowledgeGraphError(f"--scene {item!r}: confidence {conf!r} is not a number; write SCENE=0.8") from None
    g = open_graph(home, ontology)
    hints = {"exclude_events": exclude_event or [], **({"zones": zone} if zone else {})}
    _print_change(g.add_camera(camera_id, region, scenes, hints), as_json)


@app.command("remove-camera")
@errors_exit_2
def remove_camera(camera_id: str, home: Home = None, as_json: AsJson = False) -> None:
    """Forget a camera (journaled; `undo` restores it)."""
    _print_change(open_graph(home).remove_camera(camera_id), as_json)


@app.command("set-zones")
@errors_exit_2
def set_zones(
    camera_id: str,
    zone: Annotated[list[str] | None, typer.Option("--zone", help="Kind of a zone or line now drawn, repeatable; none: no zones.")] = None,
    home: Home = None,
    ontology: Ontology = None,
    as_json: AsJson = False,
) -> None:
    """Set the kinds of the zones and lines drawn on a camera (keeps its scenes and feedback; `undo` reverts)."""
    change = open_graph(home, ontology).set_camera_zones(camera_id, zone or [])
    if change is None:
        typer.echo("{}" if as_json else f"camera {camera_id}: zones unchanged")
        return
    _print_change(change, as_json)


@app.command()
@errors_exit_2
def explain(
    camera_id: str,
    at: Annotated[str | None, typer.Option("--at", help="Local time, ISO (default: now).")] = None,
    algorithm: Annotated[str | None, typer.Option("--algorithm", help="Explain only this algorithm.")] = None,
    home: Home = None,
    ontology: Ontology = None,
    as_json: AsJson = False,
) -> None:
    """Which algorithms CAMERA_ID runs, at what priority and rate, and why."""
    g = open_graph(home, ontology)
    result = g.explain(camera_id, _at(at), algorithm_id=algorithm)
    if as_json:
        typer.echo(json.dumps(result.to_dict(), indent=2))
    elif algorithm is not None:
        typer.echo(f"{algorithm} on {camera_id}: {result.text}")
        for path in result.paths:
            typer.echo("  " + " -> ".join(path))
    else:
        typer.echo(result.text())


def _verdict(kind: str, camera_id: str, algorithm_id: str, alert_id: str, home: Path | None, as_json: bool) -> None:
    g = open_graph(home)
    fn = g.record_rejection if kind == "reject" else g.record_confirmation
    _print_change(fn(camera_id, algorithm_id, alert_id), as_json)


@app.command()
@errors_exit_2
def reject(camera_id: str, algorithm_id: str, alert_id: str, home: Home = None, as_json: AsJson = False) -> None:
    """Record an operator's rejection of an alert (lowers relevance; may pause)."""
    _verdict("reject", camera_id, algorithm_id, alert_id, home, as_json)


@app.command()
@errors_exit_2
def confirm(camera_id: str, algorithm_id: str, alert_id: str, home: Home = None, as_json: AsJson = False) -> None:
    """Record an operator's confirmation of an alert."""
    _verdict("confirm", camera_id, algorithm_id, alert_id, home, as_json)


@app.command()
@errors_exit_2
def miss(camera_id: str, event_type: str, miss_id: str, home: Home = None, as_json: AsJson = False) -> None:
    """Record a missed event; adds an algorithm if the camera has none for it."""
    _print_change(open_graph(home).record_miss(camera_id, event_type, miss_id), as_json)


@app.command()
@errors_exit_2
def undo(change_id: str, home: Home = None, as_json: AsJson = False) -> None:
    """Revert one recorded change (itself recorded)."""
    _print_change(open_graph(home).undo(change_id), as_json)


@app.command()
@errors_exit_2
def changes(
    camera: Annotated[str | None, typer.Option("--camera", help="Only this camera.")] = None,
    home: Home = None,
    as_json: AsJson = False,
) -> None:
    """List recorded changes, oldest first."""
    for ch in open_graph(home).changes(camera):
        _print_change(ch, as_json)
