"""Catalog fixtures: every catalog test runs on SQLite and on PostgreSQL (marked ``postgres``)."""
from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from catalog import ArtifactStore, Catalog
from tests.catalog.helpers import head_bytes


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def catalog_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A URL of an empty database: a SQLite file, or a fresh PostgreSQL schema."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'catalog.db'}"
    return request.getfixturevalue("postgres_fresh_url")


@pytest.fixture
def store(tmp_path: Path) -> ArtifactStore:
    return ArtifactStore(tmp_path / "artifacts")


@pytest.fixture
def cat(catalog_url: str, store: ArtifactStore) -> Iterator[Catalog]:
    catalog = Catalog.open(catalog_url, store=store)
    yield catalog
    catalog.close()


@pytest.fixture
def put_head(store: ArtifactStore) -> Callable[[int], str]:
    """Store a distinct small head per seed; returns its sha256."""
    return lambda seed=0: store.put_bytes(head_bytes(seed), suffix=".onnx")
