"""Engine set-up per backend (SQLite pragmas, PostgreSQL) and small helpers shared by the catalog."""
from __future__ import annotations

import contextlib
import datetime as dt
import logging
import uuid
from collections.abc import Iterator

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.pool import StaticPool

from catalog.errors import CatalogConnectionError, CatalogUnavailableError

log = logging.getLogger(__name__)
# Connections opened with this execution option take SQLite's write lock at BEGIN, so a
# read-then-write transaction never fails half-way with "database is locked".
WRITE = {"catalog_write": True}


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def as_utc(value: dt.datetime) -> dt.datetime:
    """SQLite hands timestamps back naive; they were written in UTC."""
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


def new_id(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:20]}"


def create_engine(url: str) -> sa.Engine:
    """An engine for ``url`` with the settings the catalog relies on."""
    try:
        parsed = sa.engine.make_url(url)
    except sa.exc.ArgumentError as exc:
        raise CatalogConnectionError(
            f"catalog URL {url!r} is not a SQLAlchemy URL ({exc}); use e.g. 'sqlite:///var/catalog.db' "
            "or 'postgresql+psycopg://user:pw@host:5432/db'"
        ) from None
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        return _sqlite_engine(parsed)
    if backend == "postgresql":
        if parsed.drivername == "postgresql":
            parsed = parsed.set(drivername="postgresql+psycopg")  # psycopg 3 is the installed driver
        return sa.create_engine(parsed, pool_pre_ping=True)
    raise CatalogConnectionError(
        f"catalog URL {parsed.render_as_string(hide_password=True)!r} uses backend {backend!r}; "
        "the catalog supports sqlite and postgresql"
    )


def _sqlite_engine(url: sa.URL) -> sa.Engine:
    memory = url.database in (None, "", ":memory:")
    kwargs: dict = {"connect_args": {"check_same_thread": False, "timeout": 30}}
    if memory:
        kwargs["poolclass"] = StaticPool  # one shared connection, or every checkout sees an empty DB
    engine = sa.create_engine(url, **kwargs)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn, _record) -> None:  # pragma: no cover - trivial
        dbapi_conn.isolation_level = None  # we emit BEGIN ourselves (see _on_begin)
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA busy_timeout=30000")
        if not memory:
            cur.execute("PRAGMA journal_mode=WAL")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn) -> None:  # pragma: no cover - trivial
        conn.exec_driver_sql("BEGIN IMMEDIATE" if conn.get_execution_options().get("catalog_write") else "BEGIN")

    return engine


@contextlib.contextmanager
def transaction(engine: sa.Engine, shown_url: str, *, write: bool = False) -> Iterator[sa.Connection]:
    """One transaction on ``engine``; a server gone away becomes :class:`CatalogUnavailableError`
    (the call was not applied, or its commit could not be confirmed: the caller may retry)."""
    try:
        with engine.connect() as conn:
            if write:
                conn.execution_options(**WRITE)
            with conn.begin():
                yield conn
    except (sa.exc.OperationalError, sa.exc.InterfaceError) as exc:
        # the server went away (restart, failover, network): the transaction was rolled
        # back, or its commit could not be confirmed; either way the caller may retry
        first = str(exc.orig if getattr(exc, "orig", None) is not None else exc).strip().splitlines()[0][:300]
        log.warning("catalog database %s unavailable: %s", shown_url, first)
        raise CatalogUnavailableError(
            f"catalog database {shown_url!r} is unavailable ({first}); the call was not applied, or its commit "
            "could not be confirmed: retry it (reads and promote/retire/register are safe to repeat; check "
            "`warehouse catalog show` before repeating add_version)"
        ) from exc
