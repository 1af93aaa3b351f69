"""``warehouse catalog``: list, show, import, promote and retire algorithm versions.

    warehouse catalog list --scene seafront --json
    warehouse catalog show seafront.person_in_water
    warehouse catalog import models/boats/manifest.yaml
    warehouse catalog promote seafront.person_in_water 3 --to production
    warehouse catalog retire seafront.person_in_water 2

Every command takes ``--json`` (machine output on stdout), ``--catalog-url`` and ``--home``
(default: ``warehouse.settings.Settings``, i.e. ``WAREHOUSE_*`` variables). Errors print one
line on stderr and exit with status 2.
"""
from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from catalog import ArtifactStore, Catalog, ModelVersion, Stage
from warehouse.cli._common import AsJson, Home, errors_exit_2
from warehouse.settings import Settings

log = logging.getLogger(__name__)
app = typer.Typer(no_args_is_help=True, add_completion=False, help="Algorithms, versions and their lifecycle.")

CatalogUrl = Annotated[
    str | None, typer.Option("--catalog-url", help="SQLAlchemy URL of the catalog (default: WAREHOUSE_CATALOG_URL or SQLite under home).")
]




def _open(catalog_url: str | None, home: Path | None) -> Catalog:
    settings = Settings(home=home) if home is not None else Settings()
    if catalog_url is None and settings.catalog_url is None:
        settings.home.mkdir(parents=True, exist_ok=True)  # default SQLite file lives there
    store = ArtifactStore(settings.resolved_artifact_root)
    return Catalog.open(catalog_url or settings.resolved_catalog_url, store=store)


def _emit(payload: Any) -> None:
    typer.echo(json.dumps(payload, indent=2, sort_keys=False))


def _version_line(v: ModelVersion) -> str:
    metrics = ", ".join(f"{k}={val:.3f}" for k, val in sorted(v.metrics.items()))
    return f"v{v.number}  {v.stage.value:<10}  {v.artifact_sha256[:12]}  {v.created_at:%Y-%m-%d %H:%M}  {metrics}"


@app.command("list")
@errors_exit_2
def list_cmd(
    scene: Annotated[str | None, typer.Option(help="Only algorithms for this scene (and scene-independent ones).")] = None,
    event: Annotated[str | None, typer.Option(help="Only algorithms for this event type.")] = None,
    catalog_url: CatalogUrl = None,
    home: Home = None,
    as_json: AsJson = False,
) -> None:
    """List algorithms with their production version and its metrics."""
    with _open(catalog_url, home) as cat:
        specs = cat.list_algorithms(scene=scene, event_type=event)
        production = cat.production_versions()
    rows = []
    for s in specs:
        prod = production.get(s.id)
        rows.append(
            {
                "id": s.id,
                "name": s.name,
                "kind": s.kind,
                "scene_tags": list(s.scene_tags),
                "event_types": list(s.event_types),
                "owner": s.owner,
                "labels": list(s.labels),
                "production_version": prod.number if prod else None,
                "metrics": dict(prod.metrics) if prod else {},
            }
        )
    if as_json:
        _emit(rows)
        return
    table = Table(title=f"{len(rows)} algorithms")
    table.add_column("id", no_wrap=True)  # ids are copied into other commands: never cut them
    for col in ("kind", "scenes", "events", "production", "f1"):
        table.add_column(col, overflow="fold")
    for r in rows:
        f1 = r["metrics"].get("f1")
        table.add_row(
            r["id"], r["kind"], ",".join(r["scene_tags"]), ",".join(r["event_types"]),
            f"v{r['production_version']}" if r["production_version"] else "-", f"{f1:.3f}" if f1 is not None else "-",
        )  # fmt: skip
    Console().print(table)


@app.command("show")
@errors_exit_2
def show_cmd(
    algorithm_id: Annotated[str, typer.Argument(help="Algorithm id.")],
    version: Annotated[int | None, typer.Option("--version", help="Also show this version's lineage.")] = None,
    catalog_url: CatalogUrl = None,
    home: Home = None,
    as_json: AsJson = False,
) -> None:
    """Show an algorithm's spec and versions (and one version's lineage with --version)."""
    with _open(catalog_url, home) as cat:
        spec = cat.get_algorithm(algorithm_id)
        versions = cat.versions(algorithm_id)
        lineage = cat.lineage(algorithm_id, version) if version is not None else None
    prod = next((v.number for v in versions if v.stage is Stage.PRODUCTION), None)
    if as_json:
        payload: dict[str, Any] = {
            "algorithm": spec.to_dict(),
            "production_version": prod,
            "versions": [v.to_dict() for v in versions],
        }
        if lineage is not None:
            payload["lineage"] = lineage
        _emit(payload)
        return
    typer.echo(f"{spec.id}  {spec.name}  [{spec.kind}]  owner={spec.owner or '-'}")
    typer.echo(f"  scenes: {', '.join(spec.scene_tags)}   events: {', '.join(spec.event_types) or '-'}")
    typer.echo(f"  labels: {', '.join(spec.labels) or '-'}")
    if spec.description:
        typer.echo(f"  {spec.description}")
    typer.echo(f"  versions ({len(versions)}):")
    for v in versions:
        typer.echo(f"    {_version_line(v)}")
    if lineage is not None:
        typer.echo(json.dumps(lineage, indent=2))


@app.command("import")
@errors_exit_2
def import_cmd(
    manifest: Annotated[Path, typer.Argument(help="Manifest YAML; the model path in it is relative to its folder.")],
    catalog_url: CatalogUrl = None,
    home: Home = None,
    as_json: AsJson = False,
) -> None:
    """Validate a model manifest and its ONNX model, then register the version."""
    with _open(catalog_url, home) as cat:
        v = cat.import_manifest(manifest)
    if as_json:
        _emit(v.to_dict())
    else:
        typer.echo(f"imported {v.algorithm_id} {_version_line(v)}")


@app.command("promote")
@errors_exit_2
def promote_cmd(
    algorithm_id: Annotated[str, typer.Argument(help="Algorithm id.")],
    number: Annotated[int, typer.Argument(help="Version number.")],
    to: Annotated[str, typer.Option("--to", help="Target stage: canary or production.")] = Stage.PRODUCTION.value,
    catalog_url: CatalogUrl = None,
    home: Home = None,
    as_json: AsJson = False,
) -> None:
    """Promote a version (production retires the previous production version)."""
    with _open(catalog_url, home) as cat:
        v = cat.promote(algorithm_id, number, to=Stage.parse(to))
    if as_json:
        _emit(v.to_dict())
    else:
        typer.echo(f"{v.algorithm_id} {_version_line(v)}")


@app.command("retire")
@errors_exit_2
def retire_cmd(
    algorithm_id: Annotated[str, typer.Argument(help="Algorithm id.")],
    number: Annotated[int, typer.Argument(help="Version number.")],
    catalog_url: CatalogUrl = None,
    home: Home = None,
    as_json: AsJson = False,
) -> None:
    """Retire a version."""
    with _open(catalog_url, home) as cat:
        v = cat.retire(algorithm_id, number)
    if as_json:
        _emit(v.to_dict())
    else:
        typer.echo(f"{v.algorithm_id} {_version_line(v)}")


@app.command("build")
@errors_exit_2
def build_cmd(
    catalog_url: CatalogUrl = None,
    home: Home = None,
    scene: Annotated[list[str] | None, typer.Option("--scene", help="Only these scenes (repeatable); default all 16.")] = None,
    per_event: Annotated[int, typer.Option(min=4, help="Synthetic frames per event in each scene's pool.")] = 40,
    n_empty: Annotated[int, typer.Option(min=4, help="Frames without any event in each scene's pool.")] = 60,
    real: Annotated[bool, typer.Option("--real/--no-real", help="Also register the real detectors (OCR, faces, people, plates, ImageNet readouts).")] = True,
    as_json: AsJson = False,
) -> None:
    """Fill the catalog: train one head per (scene, event) on synthetic frames and register
    it with its held-out metrics (production when F1 >= 0.8), plus the real detectors.
    Embeddings are cached under the cache folder, so a rebuild is fast."""
    from catalog import load_taxonomy
    from runtime import Backbone
    from warehouse.training.backbone_export import ensure_backbone_onnx
    from warehouse.training.real_algorithms import register_real_algorithms
    from warehouse.training.scene_heads import build_catalog
    from warehouse.training.synthetic_pool import PoolConfig

    settings = Settings(home=home) if home is not None else Settings()
    tax = load_taxonomy()
    for s in scene or ():
        tax.require_scene(s)  # a typo fails before any work, naming the valid scenes
    pairs = [p for p in tax.scene_event_pairs() if not scene or p[0] in scene]
    backbone_path = ensure_backbone_onnx(settings.resolved_cache_dir)
    backbone = Backbone.load(backbone_path)
    cat = _open(catalog_url, home)
    try:
        report = build_catalog(cat, cat.store, pairs=pairs, backbone=backbone,
                               backbone_sha=f"{backbone.info.weights_sha256}:{backbone_path.name}",
                               cache_dir=settings.resolved_cache_dir, config=PoolConfig(per_event=per_event, n_empty=n_empty))
        real_versions = register_real_algorithms(cat, cat.store) if real else []
        summary = report.summary() | {"real_algorithms": len(real_versions), "total_algorithms": len(cat.list_algorithms())}
    finally:
        cat.close()
    if as_json:
        _emit(summary)
    else:
        typer.echo(f"{summary['algorithms']} scene heads trained in {summary['seconds']:.0f} s "
                   f"(median held-out F1 {summary['f1_median']:.3f}, p10 {summary['f1_p10']:.3f}); "
                   f"{summary['real_algorithms']} real detectors; {summary['total_algorithms']} algorithms in the catalog")
