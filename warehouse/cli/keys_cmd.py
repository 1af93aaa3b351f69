"""``warehouse keys create|list|revoke``: API keys of the operations API (admins' tool).

The raw key is printed once, at creation; only its hash is stored. The last active admin
key cannot be revoked. Every change is written to the audit log (`warehouse audit list`).
"""
from __future__ import annotations

import datetime as dt
import getpass
import json
from pathlib import Path
from typing import Annotated

import typer

from warehouse.cli._common import AsJson, Home, errors_exit_2

app = typer.Typer(no_args_is_help=True, help="API keys of the operations API: create (shown once), list, revoke.")
DbUrl = Annotated[str | None, typer.Option("--db-url", help="SQLAlchemy URL of the operations store (default: the catalog URL).")]


def open_ops(db_url: str | None, home: Path | None):
    from warehouse.ops import OpsStore
    from warehouse.settings import Settings

    s = Settings(home=home) if home is not None else Settings()
    if db_url is None:
        s.home.mkdir(parents=True, exist_ok=True)
    return OpsStore(db_url or s.resolved_catalog_url)


def cli_actor() -> str:
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "unknown"
    return f"cli:{user}"


@app.command("create")
@errors_exit_2
def create(role: Annotated[str, typer.Option("--role", help="viewer | operator | admin")],
           name: Annotated[str, typer.Option("--name", help="A unique name (who or what uses it).")],
           db_url: DbUrl = None, home: Home = None, as_json: AsJson = False) -> None:
    """Create a key and print it once."""
    ops = open_ops(db_url, home)
    key, raw = ops.create_api_key(role=role, name=name, actor=cli_actor())
    if as_json:
        typer.echo(json.dumps({"key_id": key.key_id, "role": key.role, "name": key.name, "api_key": raw}))
    else:
        typer.echo(f"created {key.key_id} role={key.role} name={key.name}")
        typer.echo(f"api key (shown once, store it now): {raw}")


@app.command("list")
@errors_exit_2
def list_keys(db_url: DbUrl = None, home: Home = None, as_json: AsJson = False,
              active: Annotated[bool, typer.Option("--active", help="Only keys not revoked.")] = False) -> None:
    """List keys (never their values)."""
    keys = open_ops(db_url, home).list_api_keys(include_revoked=not active)
    if as_json:
        typer.echo(json.dumps(keys))
        return
    for k in keys:
        when = dt.datetime.fromtimestamp(k["created_ms"] / 1000, dt.timezone.utc).strftime("%Y-%m-%d %H:%M")
        typer.echo(f"{k['key_id']}  {k['role']:<8}  {'revoked' if k['revoked'] else 'active ':<7}  {when}Z  {k['name']}")


@app.command("revoke")
@errors_exit_2
def revoke(key_id: Annotated[str, typer.Argument(help="The key id (key-...), from `warehouse keys list`.")],
           db_url: DbUrl = None, home: Home = None) -> None:
    """Revoke a key at once (the last admin key is kept: create another admin first)."""
    open_ops(db_url, home).revoke_api_key(key_id, actor=cli_actor())
    typer.echo(f"revoked {key_id}")
