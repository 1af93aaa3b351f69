"""``warehouse task list|show``: mining, labeling, training, evaluation and retraining tasks."""
from __future__ import annotations

from typing import Annotated

import typer

from warehouse.cli._common import AsJson, Home, errors_exit_2
from warehouse.cli.dataset_cmd import CatalogUrl, FlywheelUrl, emit, open_stores

app = typer.Typer(no_args_is_help=True, add_completion=False, help="Flywheel tasks with their state and progress.")


@app.command("list")
@errors_exit_2
def list_cmd(kind: Annotated[str | None, typer.Option(help="mining, labeling, training, evaluation or retraining.")] = None,
             state: Annotated[str | None, typer.Option(help="pending, running, done or failed.")] = None,
             algorithm: Annotated[str | None, typer.Option("--algorithm")] = None, home: Home = None,
             catalog_url: CatalogUrl = None, flywheel_url: FlywheelUrl = None, as_json: AsJson = False) -> None:
    _, fw = open_stores(home, catalog_url, flywheel_url)
    rows = fw.store.list_tasks(kind=kind, state=state, algorithm_id=algorithm)
    if as_json:
        return emit([t.to_dict() for t in rows])
    for t in rows:
        typer.echo(f"{t.task_id}  {t.kind:<10} {t.state:<8} {t.done}/{t.total}  {t.algorithm_id}  parent={t.parent_id or '-'}")
    if not rows:
        typer.echo("no tasks")


@app.command("show")
@errors_exit_2
def show_cmd(task_id: str, home: Home = None, catalog_url: CatalogUrl = None, flywheel_url: FlywheelUrl = None) -> None:
    _, fw = open_stores(home, catalog_url, flywheel_url)
    t = fw.store.get_task(task_id)
    emit({**t.to_dict(), "children": [c.to_dict() for c in fw.store.list_tasks(parent_id=task_id)]})
