"""The catalog's records: what an algorithm is, its versions, their lifecycle stage and cost.

Records are frozen, slotted dataclasses validated once, when they are built.

>>> spec = AlgorithmSpec(id="seafront.person_in_water", name="Person in water",
...                      event_types=("person_in_water",), scene_tags=("seafront",),
...                      labels=("person_in_water",))
>>> spec.kind
'classification_head'
>>> AlgorithmSpec.from_dict(spec.to_dict()) == spec
True
"""
from __future__ import annotations

import copy
import datetime as dt
import enum
import json
import math
import re
from dataclasses import dataclass, field
from typing import Any

from catalog.errors import InvalidSpecError
from catalog.taxonomy import load_taxonomy

ALGORITHM_KINDS = ("classification_head", "detector", "ocr", "face_detector", "imagenet_readout", "onnx_model")
ANY_SCENE = "any"
_SLUG = re.compile(r"[a-z0-9][a-z0-9._-]*")
_MAX_ID_LEN = 128


class Stage(enum.StrEnum):
    """Lifecycle stage of a model version: candidate -> canary -> production -> retired."""

    CANDIDATE = "candidate"
    CANARY = "canary"
    PRODUCTION = "production"
    RETIRED = "retired"

    @classmethod
    def parse(cls, value: str | Stage) -> Stage:
        try:
            return cls(value)
        except ValueError:
            raise InvalidSpecError(
                f"unknown stage {value!r}; use one of {[s.value for s in cls]}", value=value
            ) from None


def validate_slug(value: object, what: str = "algorithm id") -> str:
    """Return ``value`` if it is a safe slug (``[a-z0-9][a-z0-9._-]*``, <= 128 chars)."""
    if not isinstance(value, str) or not _SLUG.fullmatch(value) or len(value) > _MAX_ID_LEN or ".." in value:
        raise InvalidSpecError(
            f"{what} {value!r} is not a safe slug; use lowercase letters, digits, '.', '_' and '-', "
            f"starting with a letter or digit, no '..', at most {_MAX_ID_LEN} characters (e.g. 'seafront.person_in_water')",
            value=value,
        )
    return value


def _str_tuple(value: object, what: str) -> tuple[str, ...]:
    if isinstance(value, str) or not isinstance(value, (list, tuple)):
        raise InvalidSpecError(f"{what} must be a list of strings, got {value!r}; wrap a single value in a list", value=value)
    out = tuple(value)
    bad = [v for v in out if not isinstance(v, str) or not v]
    if bad:
        raise InvalidSpecError(f"{what} must hold non-empty strings, got {bad!r}; remove or fix them", value=bad)
    dupes = sorted({v for v in out if out.count(v) > 1})
    if dupes:
        raise InvalidSpecError(f"{what} lists {dupes!r} more than once; list each once", value=dupes)
    return out


def _json_dict(value: object, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise InvalidSpecError(f"{what} must be a mapping, got {type(value).__name__} {value!r}", value=value)
    try:
        _check_str_keys(value)
        # round trip: the stored form is JSON, so the record must be exactly what comes back
        return json.loads(json.dumps(value, sort_keys=True, allow_nan=False))
    except (TypeError, ValueError) as exc:
        raise InvalidSpecError(f"{what} must be JSON-serializable (no NaN, str keys): {exc}; got {value!r}", value=value) from None


def _check_str_keys(value: object) -> None:
    """JSON would silently turn ``{1: x}`` into ``{"1": x}``; refuse instead."""
    if isinstance(value, dict):
        for k, v in value.items():
            if not isinstance(k, str):
                raise TypeError(f"key {k!r} is not a string")
            _check_str_keys(v)
    elif isinstance(value, (list, tuple)):
        for v in value:
            _check_str_keys(v)


def metrics_dict(value: object, what: str = "metrics") -> dict[str, float]:
    """Validate a ``{name: finite float}`` mapping (used for version and training metrics)."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise InvalidSpecError(f"{what} must be a mapping of name -> number, got {value!r}", value=value)
    out: dict[str, float] = {}
    for k, v in value.items():
        if not isinstance(k, str) or not k or isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
            raise InvalidSpecError(f"{what} entry {k!r}: {v!r} must be a non-empty name and a finite number", value=value)
        out[k] = float(v)
    return out


@dataclass(frozen=True, slots=True)
class AlgorithmSpec:
    """What an algorithm is: the contract every one of its versions keeps.

    ``scene_tags`` and ``event_types`` must exist in :func:`catalog.load_taxonomy`; the scene
    tag ``any`` marks a scene-independent algorithm (OCR, face detection).
    """

    id: str
    name: str
    description: str = ""
    event_types: tuple[str, ...] = ()
    scene_tags: tuple[str, ...] = (ANY_SCENE,)
    kind: str = "classification_head"
    input_spec: dict[str, Any] = field(default_factory=dict)
    preprocess: dict[str, Any] = field(default_factory=dict)
    postprocess: dict[str, Any] = field(default_factory=dict)
    labels: tuple[str, ...] = ()
    owner: str = ""

    def __post_init__(self) -> None:
        validate_slug(self.id)
        for attr in ("name", "description", "owner"):
            if not isinstance(getattr(self, attr), str):
                raise InvalidSpecError(f"algorithm {self.id!r}: {attr} must be a string, got {getattr(self, attr)!r}")
        if not self.name.strip():
            raise InvalidSpecError(f"algorithm {self.id!r}: name is empty; give a human-readable name", value=self.name)
        if self.kind not in ALGORITHM_KINDS:
            raise InvalidSpecError(
                f"algorithm {self.id!r}: unknown kind {self.kind!r}; use one of {list(ALGORITHM_KINDS)}", value=self.kind
            )
        tax = load_taxonomy()
        scene_tags = _str_tuple(self.scene_tags, f"algorithm {self.id!r} scene_tags")
        if not scene_tags:
            raise InvalidSpecError(
                f"algorithm {self.id!r} has no scene_tags; tag it with taxonomy scenes or {ANY_SCENE!r} if scene-independent"
            )
        if ANY_SCENE in scene_tags and len(scene_tags) > 1:
            raise InvalidSpecError(
                f"algorithm {self.id!r}: scene_tags {list(scene_tags)!r} mix {ANY_SCENE!r} with specific scenes; use one or the other",
                value=scene_tags,
            )
        for s in scene_tags:
            if s != ANY_SCENE:
                tax.require_scene(s)
        event_types = _str_tuple(self.event_types, f"algorithm {self.id!r} event_types")
        for e in event_types:
            tax.require_event(e)
        object.__setattr__(self, "scene_tags", scene_tags)
        object.__setattr__(self, "event_types", event_types)
        object.__setattr__(self, "labels", _str_tuple(self.labels, f"algorithm {self.id!r} labels"))
        for attr in ("input_spec", "preprocess", "postprocess"):
            object.__setattr__(self, attr, _json_dict(getattr(self, attr), f"algorithm {self.id!r} {attr}"))

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "description": self.description,
            "event_types": list(self.event_types),
            "scene_tags": list(self.scene_tags),
            "kind": self.kind,
            "input_spec": copy.deepcopy(self.input_spec),
            "preprocess": copy.deepcopy(self.preprocess),
            "postprocess": copy.deepcopy(self.postprocess),
            "labels": list(self.labels),
            "owner": self.owner,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> AlgorithmSpec:
        known = set(cls.__dataclass_fields__)
        extra = set(d) - known
        if extra:
            raise InvalidSpecError(f"unknown AlgorithmSpec fields {sorted(extra)!r}; valid fields are {sorted(known)!r}")
        return cls(**{k: (tuple(v) if isinstance(v, list) else v) for k, v in d.items()})

    def differences(self, other: AlgorithmSpec) -> list[str]:
        """Names of the fields in which two specs differ (for error messages)."""
        a, b = self.to_dict(), other.to_dict()
        return [k for k in a if a[k] != b[k]]

    def __str__(self) -> str:
        return f"AlgorithmSpec({self.id})"


@dataclass(frozen=True, slots=True)
class CostProfile:
    """Measured cost of one version on one engine; the scheduler packs work with it.

    ``latency_ms_per_batch`` maps batch size -> latency of the whole batch in ms.
    """

    latency_ms_per_frame: float
    latency_ms_per_batch: dict[int, float] = field(default_factory=dict)
    memory_mib: float = 0.0
    engine: str = "onnxruntime-cpu"

    def __post_init__(self) -> None:
        for attr in ("latency_ms_per_frame", "memory_mib"):
            v = getattr(self, attr)
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or v < 0:
                raise InvalidSpecError(f"CostProfile.{attr} must be a finite number >= 0, got {v!r}", value=v)
            object.__setattr__(self, attr, float(v))
        if not isinstance(self.latency_ms_per_batch, dict):
            raise InvalidSpecError(f"CostProfile.latency_ms_per_batch must map batch size -> ms, got {self.latency_ms_per_batch!r}")
        batches: dict[int, float] = {}
        for k, v in self.latency_ms_per_batch.items():
            try:
                size = int(k)
            except (TypeError, ValueError):
                size = 0
            if size < 1 or isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or v < 0:
                raise InvalidSpecError(
                    f"CostProfile.latency_ms_per_batch entry {k!r}: {v!r} must be batch size >= 1 -> latency ms >= 0",
                    value=self.latency_ms_per_batch,
                )
            batches[size] = float(v)
        object.__setattr__(self, "latency_ms_per_batch", dict(sorted(batches.items())))
        if not isinstance(self.engine, str) or not self.engine:
            raise InvalidSpecError(f"CostProfile.engine must be a non-empty string, got {self.engine!r}", value=self.engine)

    def to_dict(self) -> dict[str, Any]:
        return {
            "latency_ms_per_frame": self.latency_ms_per_frame,
            "latency_ms_per_batch": {str(k): v for k, v in self.latency_ms_per_batch.items()},
            "memory_mib": self.memory_mib,
            "engine": self.engine,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> CostProfile:
        return cls(
            latency_ms_per_frame=d["latency_ms_per_frame"],
            latency_ms_per_batch={int(k): v for k, v in d.get("latency_ms_per_batch", {}).items()},
            memory_mib=d.get("memory_mib", 0.0),
            engine=d.get("engine", "onnxruntime-cpu"),
        )


@dataclass(frozen=True, slots=True)
class ModelVersion:
    """One trained artifact of an algorithm, numbered 1, 2, ... per algorithm."""

    algorithm_id: str
    number: int
    stage: Stage
    artifact_sha256: str
    metrics: dict[str, float]
    cost_profile: CostProfile | None
    parent_version: int | None
    training_run_id: str | None
    dataset_version_id: str | None
    created_at: dt.datetime
    notes: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "algorithm_id": self.algorithm_id,
            "number": self.number,
            "stage": self.stage.value,
            "artifact_sha256": self.artifact_sha256,
            "metrics": dict(self.metrics),
            "cost_profile": self.cost_profile.to_dict() if self.cost_profile else None,
            "parent_version": self.parent_version,
            "training_run_id": self.training_run_id,
            "dataset_version_id": self.dataset_version_id,
            "created_at": self.created_at.isoformat(),
            "notes": self.notes,
        }

    def __str__(self) -> str:
        return f"{self.algorithm_id}@v{self.number}({self.stage.value})"
