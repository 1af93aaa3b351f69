"""The ``warehouse`` command line (Typer).

Sub-commands live one per module in this package as ``<name>_cmd.py``, each exposing a
Typer ``app``; they are mounted here under ``<name>``. Commands that are single verbs
(``demo``, ``serve``) are defined in their own modules and registered on the root.
"""
from __future__ import annotations

import importlib
import logging
import os
import pkgutil

import typer

app = typer.Typer(no_args_is_help=True, add_completion=False, help="City Algorithm Warehouse")


def _mount_subcommands() -> None:
    for mod in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if mod.name.endswith("_cmd"):
            module = importlib.import_module(f"{__name__}.{mod.name}")
            sub = getattr(module, "app", None)
            if sub is not None:
                app.add_typer(sub, name=mod.name[: -len("_cmd")])
            register = getattr(module, "register", None)
            if register is not None:
                register(app)


_mount_subcommands()


def main() -> None:
    import warnings

    # starlette's TestClient (used in-process by the demo) warns about httpx; not actionable for users
    warnings.filterwarnings("ignore", message=".*httpx.*")
    os.environ.setdefault("RAY_AUTH_MODE", "disabled")  # local single-user Ray; clusters set their own
    level = getattr(logging, os.environ.get("WAREHOUSE_LOG_LEVEL", "WARNING").upper(), logging.WARNING)
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    from warehouse.cli._common import run_cli

    run_cli(app)  # a domain error that escapes a command: one line, exit status 2
