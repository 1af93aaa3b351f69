"""The durable seen store on SQLite and PostgreSQL: processed ids survive a restart, per scope."""
from __future__ import annotations

import pytest

from warehouse.bus import SqlSeenStore


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def url(request, tmp_path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'seen.db'}"
    return request.getfixturevalue("postgres_fresh_url")


def test_ids_survive_a_reopen_and_scopes_are_apart(url: str) -> None:
    store = SqlSeenStore(url, scope="sink")
    store.add("e1")
    store.add("e1")  # adding twice is harmless (a retried mark)
    store.close()
    reopened, other = SqlSeenStore(url, scope="sink"), SqlSeenStore(url, scope="router")
    assert (reopened.seen("e1"), reopened.seen("e2"), other.seen("e1")) == (True, False, False)
    reopened.close()
    other.close()


def test_the_oldest_ids_beyond_max_ids_are_pruned(url: str) -> None:
    store = SqlSeenStore(url, scope="s", max_ids=50, prune_every=100)
    for i in range(300):
        store.add(f"e{i}")
    assert store.seen("e299") and store.seen("e250") and not store.seen("e0") and not store.seen("e199")
    store.close()
