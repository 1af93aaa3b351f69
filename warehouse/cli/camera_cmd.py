"""``warehouse camera add|list|show|remove``: the one camera record, in the operations store.

A running ``warehouse serve`` notices the change on its next control-loop tick (it polls the
store's camera version): a new camera is discovered, given its algorithms, placed and
streamed; a removed one stops and frees its capacity. No restart.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Optional

import typer

from warehouse.cli._common import AsJson, Home, errors_exit_2

app = typer.Typer(no_args_is_help=True, help="Register, list, show and remove cameras.")


def _ops(home: Path | None):
    from warehouse.cli.keys_cmd import open_ops

    return open_ops(None, home)


def _hints(scene: list[str] | None, hint: list[str] | None) -> dict:
    out: dict = {}
    if scene:
        out["scenes"] = list(scene)
    for h in hint or ():
        key, sep, value = h.partition("=")
        if not sep or not key:
            from warehouse.errors import InvalidInputError

            raise InvalidInputError(f"--hint {h!r} is not KEY=VALUE; write e.g. --hint node=<ray node id> or "
                                    "--hint exclude_events=litter,graffiti")
        out[key] = value.split(",") if key.startswith("exclude_") else value
    return out


def _status_of(home: Path | None) -> dict:
    from warehouse.control.wiring import read_status
    from warehouse.settings import Settings

    s = Settings(home=home) if home is not None else Settings()
    return (read_status(s.home) or {}).get("cameras", {})


@app.command("add")
@errors_exit_2
def add(camera_id: str,
        region: Annotated[str, typer.Option("--region", help="Region id (e.g. downtown, coast).")],
        url: Annotated[str, typer.Option("--url", help="Stream URL: rtsp://, file://, an image folder, synthetic://SCENE?...")],
        scene: Annotated[Optional[list[str]], typer.Option("--scene", help="Scene hint (repeatable); without it the scene is discovered from frames.")] = None,
        hint: Annotated[Optional[list[str]], typer.Option("--hint", help="KEY=VALUE hint (repeatable).")] = None,
        home: Home = None, as_json: AsJson = False) -> None:
    """Register a camera; a running `warehouse serve` starts it without a restart."""
    from warehouse.ops import CameraRecord

    ops = _ops(home)
    created = ops.add_camera(CameraRecord(camera_id, region, url, _hints(scene, hint)), actor="cli")
    rec = ops.get_camera(camera_id)
    out = {"camera": rec.public(), "created": bool(created)}
    typer.echo(json.dumps(out) if as_json else f"camera {camera_id} {'registered' if created else 'unchanged'} (region {region})")


@app.command("list")
@errors_exit_2
def list_(home: Home = None, as_json: AsJson = False) -> None:
    """Every camera, with what the control plane last reported about it."""
    ops, status = _ops(home), _status_of(home)
    rows = [{**c.public(), "status": status.get(c.camera_id)} for c in ops.list_cameras()]
    if as_json:
        typer.echo(json.dumps({"cameras": rows}))
        return
    for r in rows:
        st = r["status"] or {}
        typer.echo(f"{r['camera_id']:<28} {r['region']:<12} {st.get('health', 'not running'):<11} "
                   f"worker={st.get('worker') or '-'} algorithms={len(st.get('algorithms') or {})}")


@app.command("show")
@errors_exit_2
def show(camera_id: str, home: Home = None, as_json: AsJson = False) -> None:
    """One camera: its record (credentials hidden), scenes, algorithms and versions, worker, health."""
    ops = _ops(home)
    out = {**ops.get_camera(camera_id).public(), "status": _status_of(home).get(camera_id)}
    typer.echo(json.dumps(out) if as_json else json.dumps(out, indent=2))


@app.command("remove")
@errors_exit_2
def remove(camera_id: str, home: Home = None, as_json: AsJson = False) -> None:
    """Remove a camera: its stream stops and its capacity is freed at the next reconcile."""
    _ops(home).remove_camera(camera_id, actor="cli")
    typer.echo(json.dumps({"removed": camera_id}) if as_json else f"camera {camera_id} removed")
