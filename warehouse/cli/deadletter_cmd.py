"""``warehouse deadletter``: inspect the records consumers could not process, and re-drive them.

    warehouse deadletter list [--topic feedback] [--group feedback-router] [--json]
    warehouse deadletter show dl:feedback:2:17:feedback-router
    warehouse deadletter replay dl:feedback:2:17:feedback-router     # one, after the fix
    warehouse deadletter replay --all --topic feedback               # every one from a topic

A replay republishes the original bytes to the source topic with the source key. Every
command takes ``--bus-url`` (default: ``WAREHOUSE_BUS_URL`` or the embedded bus under
``--home``) and ``--topic-prefix``. Errors print one line on stderr and exit with status 2.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.table import Table

from warehouse.bus import open_bus
from warehouse.bus import DeadLetter, find_dead_letter, read_dead_letters, replay_dead_letters
from warehouse.cli._common import AsJson, Home, errors_exit_2
from warehouse.settings import Settings

app = typer.Typer(no_args_is_help=True, add_completion=False, help="Records consumers could not process: list, show, replay.")

BusUrl = Annotated[Optional[str], typer.Option("--bus-url", help="sqlite:///path or kafka://host:port (default: WAREHOUSE_BUS_URL).")]
Prefix = Annotated[str, typer.Option("--topic-prefix", help="Topic prefix of the deployment (default none).")]
Topic = Annotated[Optional[str], typer.Option("--topic", help="Only dead letters from this source topic.")]
Group = Annotated[Optional[str], typer.Option("--group", help="Only dead letters of this consumer group.")]


def _bus(bus_url: str | None, home: Path | None, prefix: str):
    settings = Settings(home=home) if home is not None else Settings()
    url = bus_url or settings.resolved_bus_url
    if url.startswith("sqlite:") and bus_url is None and not (settings.home / "bus.db").exists():
        raise FileNotFoundError(f"no embedded bus at {settings.home / 'bus.db'}; pass --home or --bus-url of the deployment")
    return open_bus(url, topic_prefix=prefix, client_id="warehouse-deadletter-cli")


def _letters(bus, topic: str | None, group: str | None) -> list[DeadLetter]:
    letters = read_dead_letters(bus)
    return [d for d in letters if (topic is None or d.source_topic == topic) and (group is None or d.consumer_group == group)]


@app.command("list")
@errors_exit_2
def list_cmd(topic: Topic = None, group: Group = None, limit: Annotated[int, typer.Option(min=1)] = 100,
             bus_url: BusUrl = None, topic_prefix: Prefix = "", home: Home = None, as_json: AsJson = False) -> None:  # fmt: skip
    """List dead letters (oldest first): id, where the record was, which group refused it, why."""
    bus = _bus(bus_url, home, topic_prefix)
    try:
        letters = _letters(bus, topic, group)[:limit]
    finally:
        bus.close()
    if as_json:
        typer.echo(json.dumps([{k: v for k, v in d.to_json().items() if k != "original_b64"} for d in letters], indent=2))
        return
    table = Table("id", "source", "group", "time (UTC)", "reason")
    for d in letters:
        table.add_row(d.event_id, d.source, d.consumer_group, d.time_utc, d.reason[:120])
    Console().print(table)
    typer.echo(f"{len(letters)} dead letter(s)")


@app.command("show")
@errors_exit_2
def show_cmd(letter_id: Annotated[str, typer.Argument(help="A dead-letter id from `warehouse deadletter list`.")],
             bus_url: BusUrl = None, topic_prefix: Prefix = "", home: Home = None, as_json: AsJson = False) -> None:  # fmt: skip
    """One dead letter in full, with its original record."""
    bus = _bus(bus_url, home, topic_prefix)
    try:
        letter = find_dead_letter(read_dead_letters(bus), letter_id)
    finally:
        bus.close()
    if as_json:
        typer.echo(json.dumps(letter.to_json(), indent=2))
        return
    for name in ("event_id", "time_utc", "source", "source_key", "consumer_group", "error_type", "reason"):
        typer.echo(f"{name:15} {getattr(letter, name)}")
    typer.echo("original:")
    typer.echo(letter.original_text())


@app.command("replay")
@errors_exit_2
def replay_cmd(letter_ids: Annotated[Optional[list[str]], typer.Argument(help="Dead-letter ids to replay.")] = None,
               all_: Annotated[bool, typer.Option("--all", help="Replay every dead letter that matches --topic/--group.")] = False,
               topic: Topic = None, group: Group = None, bus_url: BusUrl = None, topic_prefix: Prefix = "",
               home: Home = None, as_json: AsJson = False) -> None:  # fmt: skip
    """Republish the original records to their source topics (after fixing what refused them)."""
    if not letter_ids and not all_:
        raise typer.BadParameter("give dead-letter ids, or --all (with --topic/--group to narrow it)")
    bus = _bus(bus_url, home, topic_prefix)
    try:
        letters = _letters(bus, topic, group)
        chosen = letters if all_ else [find_dead_letter(letters, i) for i in letter_ids or []]
        n = replay_dead_letters(bus, chosen)
    finally:
        bus.close()
    if as_json:
        typer.echo(json.dumps({"replayed": n, "ids": [d.event_id for d in chosen]}))
    else:
        typer.echo(f"replayed {n} record(s) to {sorted({d.source_topic for d in chosen})}")
