"""Lineage: version <- training run <- dataset version (<- parents) <- samples <- mining job <- miss events."""
from __future__ import annotations

import json
from collections.abc import Callable

import pytest

from catalog import ArtifactNotFoundError, Catalog, InvalidSpecError, UnknownAlgorithmError, UnknownRecordError
from tests.catalog.helpers import make_spec, row_counts

ALG = "seafront.person_in_water"
OTHER = "road.smoke"


@pytest.fixture
def two(cat: Catalog) -> Catalog:
    cat.register_algorithm(make_spec(ALG))
    cat.register_algorithm(make_spec(OTHER, event_types=("smoke",), scene_tags=("road",), labels=("smoke",)))
    return cat


def test_lineage_round_trip(two: Catalog, put_head: Callable[[int], str]) -> None:
    job = two.record_mining_job(ALG, miss_event_ids=["miss-2", "miss-1"], strategy="embedding-knn", candidate_ids=["f9", "f3", "f7"])
    ds1 = two.record_dataset_version(ALG, sample_ids=["s1", "s2"], stats={"positives": 1})
    ds_sha = two.store.put_bytes(b'{"samples": ["s1", "s2", "f9"]}', suffix=".json")
    ds2 = two.record_dataset_version(ALG, sample_ids=["s1", "s2", "f9"], parent_id=ds1, mining_job_id=job, artifact_sha256=ds_sha)
    run = two.record_training_run(ALG, dataset_version_id=ds2, params={"lr": 0.01, "epochs": 3}, metrics={"f1": 0.81})
    two.add_version(ALG, artifact_sha256=put_head(0))
    v = two.add_version(ALG, artifact_sha256=put_head(1), parent_version=1, training_run_id=run)
    assert v.dataset_version_id == ds2  # taken from the run

    lin = json.loads(json.dumps(two.lineage(ALG, 2)))  # JSON-able as is
    assert lin["version"]["number"] == 2 and lin["version"]["parent_version"] == 1
    tr = lin["training_run"]
    assert (tr["id"], tr["params"], tr["metrics"]) == (run, {"lr": 0.01, "epochs": 3}, {"f1": 0.81})
    ds = tr["dataset_version"]
    assert (ds["id"], ds["sample_ids"], ds["artifact_sha256"]) == (ds2, ["s1", "s2", "f9"], ds_sha)
    assert ds["mining_job"]["miss_event_ids"] == ["miss-2", "miss-1"]  # order kept
    assert ds["mining_job"]["candidate_ids"] == ["f9", "f3", "f7"]
    assert ds["mining_job"]["strategy"] == "embedding-knn"
    assert (ds["parent"]["id"], ds["parent"]["sample_ids"], ds["parent"]["stats"]) == (ds1, ["s1", "s2"], {"positives": 1})
    assert ds["parent"]["parent"] is None and ds["parent"]["mining_job"] is None
    # a version without lineage says so
    assert two.lineage(ALG, 1)["training_run"] is None and two.lineage(ALG, 1)["dataset_version"] is None


def test_version_with_dataset_but_no_run(two: Catalog, put_head: Callable[[int], str]) -> None:
    ds = two.record_dataset_version(ALG, sample_ids=["a"])
    two.add_version(ALG, artifact_sha256=put_head(0), dataset_version_id=ds)
    assert two.lineage(ALG, 1)["dataset_version"]["sample_ids"] == ["a"]


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        # each lineage record belongs to one algorithm; crossing is refused
        (lambda c, ids: c.record_training_run(OTHER, dataset_version_id=ids["ds"], params={}, metrics={}), InvalidSpecError, "belongs to algorithm"),
        (lambda c, ids: c.record_dataset_version(OTHER, sample_ids=["x"], mining_job_id=ids["job"]), InvalidSpecError, "belongs to algorithm"),
        (lambda c, ids: c.record_dataset_version(OTHER, sample_ids=["x"], parent_id=ids["ds"]), InvalidSpecError, "belongs to algorithm"),
        # unknown ids
        (lambda c, ids: c.record_dataset_version(ALG, sample_ids=["x"], parent_id="ds-nope"), UnknownRecordError, "unknown dataset version 'ds-nope'"),
        (lambda c, ids: c.record_dataset_version(ALG, sample_ids=["x"], mining_job_id="mine-nope"), UnknownRecordError, "unknown mining job"),
        (lambda c, ids: c.record_training_run(ALG, dataset_version_id="ds-nope", params={}, metrics={}), UnknownRecordError, "unknown dataset version"),
        (lambda c, ids: c.record_mining_job("nope", miss_event_ids=[], strategy="knn", candidate_ids=[]), UnknownAlgorithmError, "unknown algorithm"),
        # malformed content
        (lambda c, ids: c.record_dataset_version(ALG, sample_ids=[]), InvalidSpecError, "sample_ids is empty"),
        (lambda c, ids: c.record_dataset_version(ALG, sample_ids=["a", "a"]), InvalidSpecError, "more than once"),
        (lambda c, ids: c.record_dataset_version(ALG, sample_ids="abc"), InvalidSpecError, "list of strings"),
        (lambda c, ids: c.record_dataset_version(ALG, sample_ids=["x" * 300]), InvalidSpecError, "longer than 256"),
        (lambda c, ids: c.record_dataset_version(ALG, sample_ids=["a"], artifact_sha256="0" * 64), ArtifactNotFoundError, "not in the store"),
        (lambda c, ids: c.record_mining_job(ALG, miss_event_ids=["m"], strategy="Top K!", candidate_ids=[]), InvalidSpecError, "mining strategy"),
        (lambda c, ids: c.record_training_run(ALG, dataset_version_id=ids["ds"], params={"f": float("inf")}, metrics={}), InvalidSpecError, "JSON-serializable"),
        (lambda c, ids: c.record_training_run(ALG, dataset_version_id=ids["ds"], params={}, metrics={"f1": "good"}), InvalidSpecError, "finite number"),
    ],
)
def test_lineage_errors_leave_catalog_unchanged(two: Catalog, call, error: type[Exception], match: str) -> None:
    ids = {"job": two.record_mining_job(ALG, miss_event_ids=["m1"], strategy="knn", candidate_ids=["c1"])}
    ids["ds"] = two.record_dataset_version(ALG, sample_ids=["s1"], mining_job_id=ids["job"])
    before = row_counts(two)
    with pytest.raises(error, match=match):
        call(two, ids)
    assert row_counts(two) == before


def test_version_run_and_dataset_must_agree(two: Catalog, put_head: Callable[[int], str]) -> None:
    ds_a = two.record_dataset_version(ALG, sample_ids=["a"])
    ds_b = two.record_dataset_version(ALG, sample_ids=["b"])
    run = two.record_training_run(ALG, dataset_version_id=ds_a, params={}, metrics={})
    with pytest.raises(InvalidSpecError, match=f"trained on dataset '{ds_a}', not '{ds_b}'"):
        two.add_version(ALG, artifact_sha256=put_head(0), training_run_id=run, dataset_version_id=ds_b)
    with pytest.raises(InvalidSpecError, match="belongs to algorithm"):
        two.add_version(OTHER, artifact_sha256=put_head(0), training_run_id=run)
