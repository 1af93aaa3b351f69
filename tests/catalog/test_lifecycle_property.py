"""Property: whatever promote/retire calls arrive, an algorithm never has two production versions."""
from __future__ import annotations

import uuid

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from catalog import Catalog, Stage, StageTransitionError
from catalog.lifecycle import ALLOWED
from tests.catalog.helpers import head_bytes, make_spec

_ops = st.lists(
    st.tuples(st.sampled_from(["promote", "retire", "add"]), st.integers(1, 4), st.sampled_from(list(Stage))),
    min_size=1,
    max_size=25,
)


@pytest.mark.slow
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ops=_ops)
def test_at_most_one_production_and_only_allowed_moves(cat: Catalog, ops: list[tuple[str, int, Stage]]) -> None:
    alg = f"prop.{uuid.uuid4().hex[:12]}"  # a fresh algorithm per example: the database is shared across examples
    cat.register_algorithm(make_spec(alg))
    sha = cat.store.put_bytes(head_bytes(0))
    cat.add_version(alg, artifact_sha256=sha)
    for op, number, stage in ops:
        known = {v.number: v.stage for v in cat.versions(alg)}
        if op == "add":
            cat.add_version(alg, artifact_sha256=sha, stage=Stage.CANDIDATE if stage is Stage.RETIRED else stage)
        elif number not in known:
            continue
        else:
            before = known[number]
            try:
                after = cat.promote(alg, number, to=stage) if op == "promote" else cat.retire(alg, number)
            except StageTransitionError:
                # refused moves are exactly those the rules forbid, and change nothing
                target = stage if op == "promote" else Stage.RETIRED
                assert target is not before and target not in ALLOWED[before]
                assert {v.number: v.stage for v in cat.versions(alg)} == known
                continue
            target = stage if op == "promote" else Stage.RETIRED
            assert after.stage is target
        stages = [v.stage for v in cat.versions(alg)]
        assert stages.count(Stage.PRODUCTION) <= 1
        prod = cat.production_version(alg)
        assert (prod is None) == (Stage.PRODUCTION not in stages)
