"""Concurrent writers (separate Catalog objects, as separate processes would be) keep the invariants."""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from catalog import ArtifactStore, Catalog, Stage
from tests.catalog.helpers import head_bytes, make_spec

ALG = "seafront.person_in_water"


@pytest.mark.slow
def test_concurrent_add_and_promote(catalog_url: str, store: ArtifactStore) -> None:
    with Catalog.open(catalog_url, store=store) as cat:
        cat.register_algorithm(make_spec(ALG))
    shas = [store.put_bytes(head_bytes(i)) for i in range(4)]

    def writer(i: int) -> list[int]:
        numbers = []
        with Catalog.open(catalog_url, store=store) as mine:
            for _ in range(3):
                v = mine.add_version(ALG, artifact_sha256=shas[i])
                mine.promote(ALG, v.number, to=Stage.PRODUCTION)
                numbers.append(v.number)
        return numbers

    with ThreadPoolExecutor(4) as pool:
        got = [n for ns in pool.map(writer, range(4)) for n in ns]
    with Catalog.open(catalog_url, store=store) as cat:
        versions = cat.versions(ALG)
        history = cat.stage_history(ALG)
    assert sorted(got) == list(range(1, 13))  # no number handed out twice, none skipped
    assert [v.stage for v in versions].count(Stage.PRODUCTION) == 1
    # the last promotion recorded is the version now in production
    last = [h for h in history if h["to_stage"] == "production"][-1]["number"]
    assert next(v.number for v in versions if v.stage is Stage.PRODUCTION) == last
