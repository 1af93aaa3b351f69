"""CLI helpers shared by the sub-commands: one clear stderr line and exit status 2 for
every domain error (no traceback; the traceback goes to the log at debug level, shown with
``WAREHOUSE_LOG_LEVEL=DEBUG``), and the option aliases every command uses.

Domain errors are the packages' own bases (``WarehouseError``, ``CatalogError``,
``BusError``, ``KnowledgeGraphError``, ``SchedulerError``), configuration errors
(``SettingsError``) and ``OSError`` (a file that cannot be read, a port in use).
"""
from __future__ import annotations

import contextlib
import functools
import importlib
import sys
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
    for module, name in (("knowledge_graph", "KnowledgeGraphError"), ("scheduler", "SchedulerError")):
        try:
            handled += (getattr(importlib.import_module(module), name),)
        except (ImportError, AttributeError):
            pass
    return handled


def error_line(exc: BaseException) -> str:
    """The one line printed for a domain error: its message, never a repr or a traceback."""
    text = str(exc).strip() or type(exc).__name__
    if isinstance(exc, OSError) and exc.filename and str(exc.filename) not in text:
        text = f"{text} ({exc.filename})"
    return "error: " + text


@contextlib.contextmanager
def fail_on_domain_errors():
    try:
        yield
    except _domain_errors() as exc:
        log.debug("command failed", exc_info=True)
        typer.echo(error_line(exc), err=True)
        raise typer.Exit(code=2) from None


def errors_exit_2(fn: F) -> F:
    """Decorator form of :func:`fail_on_domain_errors` for Typer commands."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with fail_on_domain_errors():
            return fn(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


def run_cli(app: typer.Typer) -> None:
    """Run the root app; a domain error raised outside any command's own handler (settings
    read at startup, a registered command without :func:`errors_exit_2`) still ends as one
    line on stderr and exit status 2."""
    try:
        app()
    except _domain_errors() as exc:
        log.debug("command failed", exc_info=True)
        typer.echo(error_line(exc), err=True)
        sys.exit(2)
