"""AlgorithmSpec / CostProfile / Stage validate once, at construction."""
from __future__ import annotations

import math

import pytest

from catalog import AlgorithmSpec, CostProfile, InvalidSpecError, Stage, TaxonomyError
from tests.catalog.helpers import make_spec


@pytest.mark.parametrize(
    ("overrides", "error", "match"),
    [
        ({"id": "Seafront.Boats"}, InvalidSpecError, "not a safe slug"),  # upper case
        ({"id": "../escape"}, InvalidSpecError, "not a safe slug"),  # path traversal in an id
        ({"id": "a..b"}, InvalidSpecError, "not a safe slug"),  # '..' anywhere
        ({"id": "-leading"}, InvalidSpecError, "not a safe slug"),  # must start with letter/digit
        ({"id": "x" * 129}, InvalidSpecError, "at most 128"),  # too long
        ({"id": ""}, InvalidSpecError, "not a safe slug"),  # empty
        ({"name": "  "}, InvalidSpecError, "name is empty"),  # blank name
        ({"kind": "segmenter"}, InvalidSpecError, "unknown kind 'segmenter'"),  # kind not in the known set
        ({"scene_tags": ("seafrnt",)}, TaxonomyError, "did you mean seafront"),  # typo in a scene
        ({"scene_tags": ()}, InvalidSpecError, "no scene_tags"),  # must say where it applies
        ({"scene_tags": ("any", "road")}, InvalidSpecError, "mix 'any'"),  # any is exclusive
        ({"scene_tags": "seafront"}, InvalidSpecError, "list of strings"),  # a bare string is not a list
        ({"event_types": ("person_in_watr",)}, TaxonomyError, "did you mean person_in_water"),  # typo in an event
        ({"event_types": ("fire", "fire")}, InvalidSpecError, "more than once"),  # duplicate event
        ({"labels": ("a", "")}, InvalidSpecError, "non-empty strings"),  # empty label
        ({"labels": ("a", "a")}, InvalidSpecError, "more than once"),  # duplicate label
        ({"preprocess": {"mean": float("nan")}}, InvalidSpecError, "JSON-serializable"),  # NaN cannot round trip
        ({"input_spec": {1: "x"}}, InvalidSpecError, "JSON-serializable"),  # non-str keys would change on load
        ({"input_spec": ["x"]}, InvalidSpecError, "must be a mapping"),  # not a dict
        ({"owner": 3}, InvalidSpecError, "owner must be a string"),  # wrong type
    ],
)
def test_spec_validation_errors(overrides: dict, error: type[Exception], match: str) -> None:
    with pytest.raises(error, match=match):
        make_spec(**overrides)


@pytest.mark.parametrize(
    "overrides",
    [
        {},  # the default fixture spec
        {"scene_tags": ("any",), "event_types": (), "kind": "ocr", "id": "generic.ocr"},  # scene-independent
        {"scene_tags": ["seafront", "river_bank"], "labels": ["a", "b"]},  # lists are accepted and become tuples
    ],
)
def test_spec_round_trips_through_dict(overrides: dict) -> None:
    spec = make_spec(**overrides)
    assert isinstance(spec.scene_tags, tuple) and isinstance(spec.labels, tuple)
    assert AlgorithmSpec.from_dict(spec.to_dict()) == spec


def test_spec_from_dict_refuses_unknown_fields() -> None:
    d = make_spec().to_dict() | {"colour": "red"}
    with pytest.raises(InvalidSpecError, match="unknown AlgorithmSpec fields \\['colour'\\]"):
        AlgorithmSpec.from_dict(d)


def test_spec_differences_names_changed_fields() -> None:
    assert make_spec().differences(make_spec(labels=("x",), owner="other")) == ["labels", "owner"]


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"latency_ms_per_frame": -1.0}, "latency_ms_per_frame must be a finite number >= 0"),  # negative
        ({"latency_ms_per_frame": math.inf}, "latency_ms_per_frame must be a finite number"),  # infinite
        ({"latency_ms_per_frame": 1.0, "memory_mib": True}, "memory_mib must be a finite number"),  # bool is not a number
        ({"latency_ms_per_frame": 1.0, "latency_ms_per_batch": {0: 1.0}}, "batch size >= 1"),  # batch of zero
        ({"latency_ms_per_frame": 1.0, "latency_ms_per_batch": {"x": 1.0}}, "batch size >= 1"),  # non-numeric size
        ({"latency_ms_per_frame": 1.0, "engine": ""}, "engine must be a non-empty string"),  # no engine
    ],
)
def test_cost_profile_validation_errors(kwargs: dict, match: str) -> None:
    with pytest.raises(InvalidSpecError, match=match):
        CostProfile(**kwargs)


def test_cost_profile_round_trip_keeps_int_batch_sizes() -> None:
    cp = CostProfile(2.5, {"16": 20.0, 1: 2.5}, 12.0, "tensorrt")
    back = CostProfile.from_dict(cp.to_dict())
    assert back == cp and list(back.latency_ms_per_batch) == [1, 16]


@pytest.mark.parametrize(("value", "expected"), [("canary", Stage.CANARY), (Stage.RETIRED, Stage.RETIRED)])
def test_stage_parse(value: str | Stage, expected: Stage) -> None:
    assert Stage.parse(value) is expected


def test_stage_parse_lists_valid_stages() -> None:
    with pytest.raises(InvalidSpecError, match="unknown stage 'prod'.*'production'"):
        Stage.parse("prod")
