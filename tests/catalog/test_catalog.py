"""Catalog core on SQLite and PostgreSQL: algorithms, versions, lifecycle, verified artifacts."""
from __future__ import annotations

from collections.abc import Callable

import pytest
import sqlalchemy as sa

from catalog import (
    ArtifactNotFoundError,
    Catalog,
    CatalogConnectionError,
    CostProfile,
    DuplicateError,
    InvalidDigestError,
    InvalidSpecError,
    Stage,
    StageTransitionError,
    TamperedArtifactError,
    TaxonomyError,
    UnknownAlgorithmError,
    UnknownRecordError,
    UnknownVersionError,
)
from tests.catalog.helpers import make_spec, row_counts

ALG = "seafront.person_in_water"


@pytest.fixture
def registered(cat: Catalog) -> Catalog:
    cat.register_algorithm(make_spec(ALG))
    return cat


def test_register_is_idempotent_for_identical_spec(cat: Catalog) -> None:
    spec = make_spec(ALG)
    assert cat.register_algorithm(spec) == spec
    before = row_counts(cat)
    assert cat.register_algorithm(make_spec(ALG)) == spec
    assert row_counts(cat) == before


def test_register_refuses_different_spec_for_same_id(registered: Catalog) -> None:
    before = row_counts(registered)
    with pytest.raises(DuplicateError, match=r"already registered with a different spec \(fields differ: \['labels'\]\)"):
        registered.register_algorithm(make_spec(ALG, labels=("swimmer",)))
    assert row_counts(registered) == before
    assert registered.get_algorithm(ALG).labels == ("person_in_water",)


def test_unknown_algorithm_is_a_key_error_listing_close_ids(registered: Catalog) -> None:
    with pytest.raises(KeyError) as info:
        registered.get_algorithm("seafront.person_in_watr")
    assert isinstance(info.value, UnknownAlgorithmError)
    assert "did you mean seafront.person_in_water?" in str(info.value)


def test_list_algorithms_filters(cat: Catalog) -> None:
    cat.register_algorithm(make_spec("seafront.person_in_water"))
    cat.register_algorithm(make_spec("road.smoke", event_types=("smoke",), scene_tags=("road", "tunnel"), labels=("smoke",)))
    cat.register_algorithm(make_spec("any.fire", event_types=("fire",), scene_tags=("any",), labels=("fire",)))
    ids = lambda **kw: [s.id for s in cat.list_algorithms(**kw)]  # noqa: E731
    assert ids() == ["any.fire", "road.smoke", "seafront.person_in_water"]
    assert ids(scene="tunnel") == ["any.fire", "road.smoke"]  # scene-independent algorithms apply everywhere
    assert ids(scene="seafront") == ["any.fire", "seafront.person_in_water"]
    assert ids(event_type="smoke") == ["road.smoke"]
    assert ids(scene="seafront", event_type="smoke") == []
    with pytest.raises(TaxonomyError, match="unknown scene 'seefront'"):
        cat.list_algorithms(scene="seefront")


def test_versions_number_per_algorithm_and_keep_fields(registered: Catalog, put_head: Callable[[int], str]) -> None:
    registered.register_algorithm(make_spec("road.smoke", event_types=("smoke",), scene_tags=("road",)))
    cost = CostProfile(0.2, {1: 0.2, 32: 3.1}, 0.1, "onnxruntime-cpu")
    v1 = registered.add_version(ALG, artifact_sha256=put_head(1), metrics={"f1": 0.5, "precision": 1}, cost_profile=cost)
    v2 = registered.add_version(ALG, artifact_sha256=put_head(2), parent_version=1, notes="retrained")
    other = registered.add_version("road.smoke", artifact_sha256=put_head(3))
    assert (v1.number, v2.number, other.number) == (1, 2, 1)
    got = registered.get_version(ALG, 1)
    assert got == v1 and got.cost_profile == cost and got.metrics == {"f1": 0.5, "precision": 1.0}
    assert got.created_at.tzinfo is not None
    assert [v.number for v in registered.versions(ALG)] == [1, 2]
    assert registered.get_version(ALG, 2).parent_version == 1 and registered.get_version(ALG, 2).notes == "retrained"
    assert registered.production_version(ALG) is None


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"artifact_sha256": "0" * 64}, ArtifactNotFoundError, "is not in the store"),  # never put
        ({"artifact_sha256": "xyz"}, InvalidDigestError, "not a sha256 digest"),  # malformed
        ({"metrics": {"f1": float("nan")}}, InvalidSpecError, "finite number"),  # NaN metric
        ({"metrics": {"f1": "high"}}, InvalidSpecError, "finite number"),  # non-numeric metric
        ({"parent_version": 7}, UnknownVersionError, "has no version 7"),  # parent must exist
        ({"training_run_id": "run-missing"}, UnknownRecordError, "unknown training run 'run-missing'"),  # lineage ids
        ({"dataset_version_id": "ds-missing"}, UnknownRecordError, "unknown dataset version"),  # lineage ids
        ({"stage": Stage.RETIRED}, InvalidSpecError, "cannot add .* as retired"),  # born retired makes no sense
        ({"stage": "live"}, InvalidSpecError, "unknown stage 'live'"),  # not a stage
        ({"cost_profile": {"latency_ms_per_frame": 1}}, InvalidSpecError, "must be a CostProfile"),  # raw dict
    ],
)
def test_add_version_errors_leave_catalog_unchanged(
    registered: Catalog, put_head: Callable[[int], str], kwargs: dict, error: type[Exception], match: str
) -> None:
    kwargs = {"artifact_sha256": put_head(0)} | kwargs
    before = row_counts(registered)
    with pytest.raises(error, match=match):
        registered.add_version(ALG, **kwargs)
    assert row_counts(registered) == before


def test_add_version_to_unknown_algorithm(cat: Catalog, put_head: Callable[[int], str]) -> None:
    with pytest.raises(UnknownAlgorithmError, match="unknown algorithm 'nope'"):
        cat.add_version("nope", artifact_sha256=put_head(0))


def test_promote_to_production_retires_previous(registered: Catalog, put_head: Callable[[int], str]) -> None:
    for seed in range(3):
        registered.add_version(ALG, artifact_sha256=put_head(seed))
    assert registered.promote(ALG, 1, to=Stage.PRODUCTION).stage is Stage.PRODUCTION
    assert registered.promote(ALG, 2, to=Stage.CANARY).stage is Stage.CANARY
    assert registered.promote(ALG, 2, to="production").stage is Stage.PRODUCTION
    stages = {v.number: v.stage for v in registered.versions(ALG)}
    assert stages == {1: Stage.RETIRED, 2: Stage.PRODUCTION, 3: Stage.CANDIDATE}
    assert registered.production_version(ALG).number == 2
    history = [(h["number"], h["from_stage"], h["to_stage"]) for h in registered.stage_history(ALG)]
    assert history[-3:] == [(2, "candidate", "canary"), (1, "production", "retired"), (2, "canary", "production")]


def test_add_version_as_production_swaps_in_one_step(registered: Catalog, put_head: Callable[[int], str]) -> None:
    registered.add_version(ALG, artifact_sha256=put_head(0), stage=Stage.PRODUCTION)
    registered.add_version(ALG, artifact_sha256=put_head(1), stage=Stage.PRODUCTION)
    assert [v.stage for v in registered.versions(ALG)] == [Stage.RETIRED, Stage.PRODUCTION]


@pytest.mark.parametrize(
    ("path", "to", "match"),
    [
        ([Stage.CANARY], Stage.CANDIDATE, "from canary to candidate"),  # no going back to candidate
        ([Stage.PRODUCTION], Stage.CANARY, "from production to canary"),  # demote production: retire instead
        ([Stage.RETIRED], Stage.CANARY, "from retired to canary"),  # rollback goes straight to production
    ],
)
def test_forbidden_transitions(registered: Catalog, put_head: Callable[[int], str], path: list[Stage], to: Stage, match: str) -> None:
    registered.add_version(ALG, artifact_sha256=put_head(0))
    for stage in path:
        registered.promote(ALG, 1, to=stage)
    before = row_counts(registered)
    with pytest.raises(StageTransitionError, match=match):
        registered.promote(ALG, 1, to=to)
    assert row_counts(registered) == before


@pytest.mark.parametrize("stage", [Stage.CANDIDATE, Stage.CANARY, Stage.PRODUCTION])
def test_promote_to_current_stage_is_a_noop(registered: Catalog, put_head: Callable[[int], str], stage: Stage) -> None:
    registered.add_version(ALG, artifact_sha256=put_head(0), stage=stage)
    before = row_counts(registered)
    assert registered.promote(ALG, 1, to=stage).stage is stage
    assert row_counts(registered) == before


def test_retire_and_rollback(registered: Catalog, put_head: Callable[[int], str]) -> None:
    registered.add_version(ALG, artifact_sha256=put_head(0), stage=Stage.PRODUCTION)
    registered.add_version(ALG, artifact_sha256=put_head(1), stage=Stage.PRODUCTION)
    assert registered.retire(ALG, 2).stage is Stage.RETIRED
    assert registered.production_version(ALG) is None
    assert registered.retire(ALG, 2).stage is Stage.RETIRED  # idempotent
    assert registered.promote(ALG, 1, to=Stage.PRODUCTION).stage is Stage.PRODUCTION  # rollback
    with pytest.raises(UnknownVersionError, match=r"has no version 9; its versions are \[1, 2\]"):
        registered.retire(ALG, 9)


def test_database_itself_refuses_a_second_production_version(registered: Catalog, put_head: Callable[[int], str]) -> None:
    registered.add_version(ALG, artifact_sha256=put_head(0), stage=Stage.PRODUCTION)
    registered.add_version(ALG, artifact_sha256=put_head(1))
    with pytest.raises(sa.exc.IntegrityError), registered._engine.begin() as conn:
        conn.execute(sa.text("UPDATE catalog_model_versions SET stage = 'production' WHERE number = 2"))
    with pytest.raises(sa.exc.IntegrityError), registered._engine.begin() as conn:
        conn.execute(sa.text("UPDATE catalog_model_versions SET stage = 'shipping' WHERE number = 2"))
    assert registered.production_version(ALG).number == 1


def test_load_artifact_verifies_bytes(registered: Catalog, put_head: Callable[[int], str]) -> None:
    sha = put_head(5)
    registered.add_version(ALG, artifact_sha256=sha)
    original = registered.store.get_bytes(sha)
    assert registered.load_artifact(ALG, 1) == original
    assert registered.artifact_path(ALG, 1).read_bytes() == original
    loc = registered.store.location(sha)
    data = bytearray(original)
    data[len(data) // 2] ^= 0x01  # one flipped bit in the middle of the weights
    with open(loc, "wb") as fh:
        fh.write(bytes(data))
    with pytest.raises(TamperedArtifactError, match=f"artifact {sha}"):
        registered.load_artifact(ALG, 1)
    with pytest.raises(TamperedArtifactError):
        registered.artifact_path(ALG, 1)


def test_reopen_sees_same_data(catalog_url: str, registered: Catalog, put_head: Callable[[int], str]) -> None:
    registered.add_version(ALG, artifact_sha256=put_head(0), metrics={"f1": 0.9})
    with Catalog.open(catalog_url, store=registered.store) as again:
        assert again.get_version(ALG, 1).metrics == {"f1": 0.9}
        assert again.get_algorithm(ALG) == make_spec(ALG)


@pytest.mark.parametrize(
    ("url", "match"),
    [
        ("not a url", "is not a SQLAlchemy URL"),  # garbage
        ("mysql://u@h/db", "supports sqlite and postgresql"),  # unsupported backend
        ("sqlite:////nonexistent-dir/x/catalog.db", "cannot open catalog database"),  # folder missing
    ],
)
def test_open_errors(url: str, match: str, store) -> None:
    with pytest.raises(CatalogConnectionError, match=match):
        Catalog.open(url, store=store)
