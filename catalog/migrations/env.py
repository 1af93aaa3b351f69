"""Alembic environment: runs on the connection handed over by :func:`catalog.migrate.upgrade`."""
from __future__ import annotations

from alembic import context

from catalog._schema import metadata
from catalog.migrate import VERSION_TABLE

# Arbitrary constant: serializes concurrent Catalog.open() calls on PostgreSQL.
_ADVISORY_LOCK_KEY = 7_310_205_001


def _run(connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        version_table=VERSION_TABLE,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        if connection.dialect.name == "postgresql":
            connection.exec_driver_sql(f"SELECT pg_advisory_xact_lock({_ADVISORY_LOCK_KEY})")
        context.run_migrations()


def _main() -> None:
    connection = context.config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    from sqlalchemy import create_engine

    url = context.config.get_main_option("sqlalchemy.url")
    if not url:
        raise RuntimeError("no connection and no sqlalchemy.url: run migrations through catalog.migrate.upgrade(url)")
    with create_engine(url).connect() as conn:
        _run(conn)


try:
    context.config  # noqa: B018 - only set while Alembic runs this file
except AttributeError:  # imported outside Alembic (doctest collection, linters): nothing to do
    pass
else:
    _main()
