"""``warehouse status [--json]``: cameras, workers, the plan's age and the last reconcile.

Reads the snapshot the control plane of a running ``warehouse serve`` writes every few
seconds (``$WAREHOUSE_HOME/status.json``) and says how old it is.
"""
from __future__ import annotations

import json
import time

import typer

from warehouse.cli._common import AsJson, Home, errors_exit_2


def register(app: typer.Typer) -> None:
    @app.command()
    @errors_exit_2
    def status(home: Home = None, as_json: AsJson = False) -> None:
        """What runs where: cameras (health, worker, fps, algorithms and versions), workers, plan, last reconcile."""
        from warehouse.control.wiring import read_status
        from warehouse.errors import InvalidInputError
        from warehouse.settings import Settings

        s = Settings(home=home) if home is not None else Settings()
        st = read_status(s.home)
        if st is None:
            raise InvalidInputError(f"no status under {str(s.home)!r}: no control plane has run there; start one with "
                                    "`warehouse serve` (or pass --home of the running one)")
        st["age_s"] = round(time.time() - st.get("written_ms", 0) / 1000, 1)
        if as_json:
            typer.echo(json.dumps(st))
            return
        typer.echo(f"status written {st['age_s']} s ago; plan age {st['plan']['age_s']} s, "
                   f"{st['plan']['unserved']} unserved demands")
        for wid, w in st["workers"].items():
            typer.echo(f"worker {wid} node {w['node'][:12]} {w.get('state', 'running' if w['alive'] else 'dead')}: {len(w['cameras'])} cameras, "
                       f"{w['planned_fps']:.1f} fps planned, memory {w['memory_used_mib'] or 0:.1f}/{w['memory_budget_mib'] or 0:.0f} MiB, "
                       f"{w['models_resident']} models resident")
        for cam, c in st["cameras"].items():
            vs = ", ".join(f"{a}@{v}" for a, v in c["algorithms"].items())
            typer.echo(f"camera {cam}: {c['health']} on {c['worker']} at {c['fps']:g} fps; {vs or 'no algorithm'}"
                       + (f"; error: {c['error']}" if c.get("error") else "")
                       + (f"; not placed: {c['unplaced']}" if c.get("unplaced") else ""))
        last = st.get("last_reconcile") or {}
        typer.echo(f"last reconcile: {len(last.get('actions', []))} actions, {len(last.get('failed', []))} failed, "
                   f"{last.get('reconcile_ms')} ms")
