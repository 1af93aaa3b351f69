"""CLI helpers: turn domain errors into one clear line on stderr and exit code 2."""
from __future__ import annotations

import contextlib
import logging

import typer

log = logging.getLogger(__name__)


@contextlib.contextmanager
def fail_on_domain_errors():
    from catalog import CatalogError
    from warehouse.bus import BusError
    from warehouse.errors import WarehouseError

    handled: tuple = (WarehouseError, CatalogError, BusError)
    try:
        from knowledge_graph import KnowledgeGraphError

        handled += (KnowledgeGraphError,)
    except ImportError:
        pass
    try:
        yield
    except handled as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(code=2) from None
