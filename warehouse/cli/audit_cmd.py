"""``warehouse audit list``: who changed keys, cameras and algorithm stages, and when."""
from __future__ import annotations

import datetime as dt
import json
from typing import Annotated

import typer

from warehouse.cli._common import AsJson, Home, errors_exit_2
from warehouse.cli.keys_cmd import DbUrl, open_ops

app = typer.Typer(no_args_is_help=True, help="The audit log of the operations center.")


@app.command("list")
@errors_exit_2
def list_audit(action: Annotated[str | None, typer.Option("--action", help="e.g. camera.delete, key.* ")] = None,
               actor: Annotated[str | None, typer.Option("--actor")] = None,
               target: Annotated[str | None, typer.Option("--target", help="A camera id, key id, algorithm@vN.")] = None,
               limit: Annotated[int, typer.Option("--limit", min=1, max=10_000)] = 50,
               db_url: DbUrl = None, home: Home = None, as_json: AsJson = False) -> None:
    """Newest first."""
    entries = open_ops(db_url, home).list_audit(action=action, actor=actor, target=target, limit=limit)
    if as_json:
        typer.echo(json.dumps([e.to_dict() for e in entries]))
        return
    for e in entries:
        when = dt.datetime.fromtimestamp(e.ts_ms / 1000, dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S")
        typer.echo(f"{when}Z  {e.action:<18} {e.target:<32} by {e.actor}  {json.dumps(e.detail, sort_keys=True)}")
