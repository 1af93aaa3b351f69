"""CLI helpers shared by the sub-commands: one clear stderr line and exit status 2 for
every domain error (no traceback), and the option aliases every command uses."""
from __future__ import annotations

import contextlib
import functools
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer

log = logging.getLogger(__name__)

Home = Annotated[Path | None, typer.Option("--home", help="State folder (default: WAREHOUSE_HOME or ./var).")]
AsJson = Annotated[bool, typer.Option("--json", help="Print JSON on stdout.")]
F = TypeVar("F", bound=Callable[..., Any])


def _domain_errors() -> tuple[type[BaseException], ...]:
    from catalog import CatalogError
    from warehouse.bus import BusError
    from warehouse.errors import WarehouseError

    handled: tuple = (WarehouseError, CatalogError, BusError, OSError)
    try:
        from knowledge_graph import KnowledgeGraphError

        handled += (KnowledgeGraphError,)
    except ImportError:
        pass
    return handled


@contextlib.contextmanager
def fail_on_domain_errors():
    try:
        yield
    except _domain_errors() as exc:
        log.debug("command failed", exc_info=True)
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(code=2) from None


def errors_exit_2(fn: F) -> F:
    """Decorator form of :func:`fail_on_domain_errors` for Typer commands."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with fail_on_domain_errors():
            return fn(*args, **kwargs)

    return wrapper  # type: ignore[return-value]
