"""Alembic: Catalog.open migrates to head; the live table metadata matches the migrated schema."""
from __future__ import annotations

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from catalog import ArtifactStore, Catalog
from catalog._db import create_engine
from catalog._schema import metadata
from catalog.migrate import VERSION_TABLE, current_revision, head_revision, upgrade


def test_open_migrates_to_head_and_metadata_matches(catalog_url: str, store: ArtifactStore) -> None:
    Catalog.open(catalog_url, store=store).close()
    engine = create_engine(catalog_url)
    assert current_revision(engine) == head_revision()
    with engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"compare_type": True, "version_table": VERSION_TABLE})
        diff = [d for d in compare_metadata(ctx, metadata) if not (d[0] == "remove_table" and d[1].name == VERSION_TABLE)]
    engine.dispose()
    assert diff == []  # _schema.py and migrations/versions describe the same tables


def test_downgrade_to_base_and_back(catalog_url: str, store: ArtifactStore) -> None:
    from alembic import command

    from catalog.migrate import alembic_config

    engine = create_engine(catalog_url)
    upgrade(engine)
    with engine.begin() as conn:
        command.downgrade(alembic_config(conn), "base")
    assert not [t for t in sa.inspect(engine).get_table_names() if t.startswith("catalog_") and t != VERSION_TABLE]
    upgrade(engine)
    assert current_revision(engine) == head_revision()
    engine.dispose()


def test_reopening_twice_is_a_noop(catalog_url: str, store: ArtifactStore) -> None:
    with Catalog.open(catalog_url, store=store), Catalog.open(catalog_url, store=store) as second:
        assert second.list_algorithms() == []


@pytest.mark.parametrize("url", ["sqlite://", "sqlite:///:memory:"])  # in-memory databases keep one connection
def test_in_memory_sqlite(url: str, store: ArtifactStore) -> None:
    with Catalog.open(url, store=store) as cat:
        assert cat.list_algorithms() == []
