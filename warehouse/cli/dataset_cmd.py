"""``warehouse dataset list|show|diff|lineage``: dataset versions as first-class records."""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated, Any

import typer

from warehouse.cli._common import AsJson, Home, errors_exit_2

app = typer.Typer(no_args_is_help=True, add_completion=False, help="Dataset versions: list, show, diff, full lineage.")

CatalogUrl = Annotated[str | None, typer.Option("--catalog-url", help="Catalog URL (default: WAREHOUSE_CATALOG_URL or SQLite under home).")]
FlywheelUrl = Annotated[str | None, typer.Option("--flywheel-url", help="Flywheel store URL (default: WAREHOUSE_FLYWHEEL_URL or "
                                                                      "sqlite:///<home>/flywheel.db).")]


def open_stores(home: Path | None, catalog_url: str | None, flywheel_url: str | None):
    """(catalog, flywheel) from the options, the environment and the home folder."""
    from catalog import ArtifactStore, Catalog
    from warehouse.retraining.datasets import Flywheel
    from warehouse.settings import Settings

    settings = Settings(home=home) if home is not None else Settings()
    settings.home.mkdir(parents=True, exist_ok=True)
    catalog = Catalog.open(catalog_url or settings.resolved_catalog_url, store=ArtifactStore(settings.resolved_artifact_root))
    url = flywheel_url or os.environ.get("WAREHOUSE_FLYWHEEL_URL") or f"sqlite:///{(settings.home / 'flywheel.db').resolve()}"
    return catalog, Flywheel.open(url, catalog=catalog)


def emit(payload: Any) -> None:
    typer.echo(json.dumps(payload, indent=2, default=str))


@app.command("list")
@errors_exit_2
def list_cmd(algorithm: Annotated[str | None, typer.Option("--algorithm", help="Only this algorithm's datasets.")] = None,
             home: Home = None, catalog_url: CatalogUrl = None, flywheel_url: FlywheelUrl = None, as_json: AsJson = False) -> None:
    """Dataset versions, newest first."""
    from warehouse.retraining.datasets import list_datasets

    cat, _ = open_stores(home, catalog_url, flywheel_url)
    rows = list_datasets(cat, algorithm)
    if as_json:
        return emit(rows)
    for d in rows:
        s = d["stats"]
        typer.echo(f"{d['id']}  {d['algorithm_id']}  samples={s.get('samples', '?')} train={s.get('train', '?')} "
                   f"heldout={s.get('heldout', '?')} mistake_heldout={s.get('mistake_heldout', 0)}  parent={d['parent_id'] or '-'}  "
                   f"mining={d['mining_job_id'] or '-'}")
    if not rows:
        typer.echo("no dataset versions")


@app.command("show")
@errors_exit_2
def show_cmd(dataset_version_id: str, home: Home = None, catalog_url: CatalogUrl = None, flywheel_url: FlywheelUrl = None) -> None:
    """One dataset version: contents, parent chain, mining job and its miss events, labels."""
    from warehouse.retraining.datasets import show_dataset

    cat, fw = open_stores(home, catalog_url, flywheel_url)
    emit(show_dataset(cat, dataset_version_id, flywheel=fw))


@app.command("diff")
@errors_exit_2
def diff_cmd(from_id: str, to_id: str, home: Home = None, catalog_url: CatalogUrl = None, flywheel_url: FlywheelUrl = None) -> None:
    """Frames added and removed, label changes and split changes between two versions."""
    from warehouse.retraining.datasets import diff_datasets

    cat, _ = open_stores(home, catalog_url, flywheel_url)
    emit(diff_datasets(cat, from_id, to_id))


@app.command("lineage")
@errors_exit_2
def lineage_cmd(algorithm_id: str, version: int, home: Home = None, catalog_url: CatalogUrl = None,
                flywheel_url: FlywheelUrl = None) -> None:
    """version <- training run <- dataset version <- labels <- mining job <- miss events <- alerts/feedback."""
    from warehouse.retraining.datasets import version_lineage

    cat, fw = open_stores(home, catalog_url, flywheel_url)
    emit(version_lineage(cat, algorithm_id, version, flywheel=fw))
