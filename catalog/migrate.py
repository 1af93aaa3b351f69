"""Apply the catalog's Alembic migrations (``Catalog.open`` calls :func:`upgrade`).

Command line, for new revisions and manual upgrades::

    python -m catalog.migrate upgrade sqlite:///var/catalog.db
    python -m catalog.migrate revision -m "add column x"   # autogenerate needs a URL: --url
"""
from __future__ import annotations

import argparse
import logging
from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

log = logging.getLogger(__name__)
_SCRIPT_LOCATION = Path(__file__).with_name("migrations")
VERSION_TABLE = "catalog_alembic_version"


def alembic_config(connection: sa.Connection | None = None, url: str | None = None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(_SCRIPT_LOCATION))
    if url:
        cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


def head_revision() -> str:
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    if head is None:
        raise RuntimeError(f"no migration scripts under {_SCRIPT_LOCATION}; the package is incomplete, reinstall it")
    return head


def current_revision(engine: sa.Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn, opts={"version_table": VERSION_TABLE}).get_current_revision()


def upgrade(engine: sa.Engine, revision: str = "head") -> None:
    """Bring the database behind ``engine`` to ``revision`` (no-op when already there)."""
    if revision == "head" and current_revision(engine) == head_revision():
        return
    with engine.connect() as conn:
        # SQLite: take the write lock first, so a concurrent first open waits and then finds head
        conn.execution_options(catalog_write=True)
        with conn.begin():
            command.upgrade(alembic_config(conn), revision)
    log.info("catalog schema at %s on %s", revision, engine.url.render_as_string(hide_password=True))


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m catalog.migrate")
    sub = p.add_subparsers(dest="cmd", required=True)
    up = sub.add_parser("upgrade")
    up.add_argument("url")
    up.add_argument("--revision", default="head")
    rev = sub.add_parser("revision")
    rev.add_argument("-m", "--message", required=True)
    rev.add_argument("--url", help="database at head, to autogenerate the diff against")
    args = p.parse_args(argv)
    if args.cmd == "upgrade":
        upgrade(sa.create_engine(args.url), args.revision)
    else:
        command.revision(alembic_config(url=args.url), message=args.message, autogenerate=bool(args.url))


if __name__ == "__main__":
    main()
