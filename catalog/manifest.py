"""Import a user's ONNX model from a YAML manifest, validating everything before writing anything.

A manifest (``harbor_boats/manifest.yaml``, the model next to it)::

    id: seafront.boat_in_restricted_zone
    name: Boat in restricted zone
    kind: onnx_model
    scene_tags: [seafront]
    event_types: [boat_in_restricted_zone]
    owner: harbor-team
    version:
      artifact: boats.onnx              # relative to this file, inside its folder
      inputs:  [{name: image, shape: [N, 3, 224, 224], dtype: float32}]
      outputs: [{name: scores, shape: [N, 2], dtype: float32}]
      labels: [background, boat]
      preprocess: {resize_hw: [224, 224], mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225],
                   color_order: RGB, layout: NCHW}
      metrics: {f1: 0.82}
      version_number: 1                 # optional; must be the next number

The manifest's schema and reading are here; the checks against the model and the catalog,
and the import itself, in :mod:`catalog.manifest_import` (``Catalog.import_manifest``).

Checks, in order (each failure raises its own :class:`~catalog.ManifestError` subclass and
leaves the catalog unchanged): fields (:class:`ManifestSchemaError`), artifact path
(:class:`ArtifactPathError`), algorithm fields (taxonomy, kind), conflicts with what is
registered (:class:`DuplicateError`, :class:`DuplicateVersionError`), ONNX Runtime CPU load
(:class:`ModelLoadError`), declared inputs/outputs (:class:`ModelSignatureError`), label
count (:class:`LabelCountError`), preprocessing (:class:`PreprocessError`), and a dry run on
a zero input (:class:`ModelLoadError`).
"""
from __future__ import annotations

from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from catalog.errors import ArtifactPathError, InvalidSpecError, ManifestSchemaError, UnsafeInputError
from catalog.records import AlgorithmSpec, CostProfile
from catalog.safe_load import DEFAULT_LIMITS, Limits, load_file

DTYPES = {
    "tensor(float)": "float32", "tensor(float16)": "float16", "tensor(double)": "float64",
    "tensor(int64)": "int64", "tensor(int32)": "int32", "tensor(int16)": "int16", "tensor(int8)": "int8",
    "tensor(uint8)": "uint8", "tensor(uint16)": "uint16", "tensor(bool)": "bool", "tensor(string)": "string",
}  # fmt: skip
DYNAMIC = -1


class _Strict(BaseModel):
    # allow_inf_nan=False: a NaN or infinite metric, mean or latency is refused when parsed,
    # before anything is written (it used to pass here and fail after the artifact was stored).
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class TensorDecl(_Strict):
    """One declared input or output; ``-1`` or any name (``N``, ``batch``) marks a dynamic dimension."""

    name: str = Field(min_length=1)
    shape: list[int | str] = Field(min_length=0)
    dtype: Literal[tuple(sorted(set(DTYPES.values())))] = "float32"  # type: ignore[valid-type]

    @field_validator("shape")
    @classmethod
    def _dims(cls, shape: list[int | str]) -> list[int | str]:
        for d in shape:
            if isinstance(d, int) and d < 1 and d != DYNAMIC:
                raise ValueError(f"dimension {d} is invalid: use a positive size, or -1 / 'N' for a dynamic one")
        return shape

    def dims(self) -> list[int]:
        """Shape with every dynamic dimension as -1."""
        return [d if isinstance(d, int) else DYNAMIC for d in self.shape]


class PreprocessDecl(_Strict):
    """How frames become the image input: ``x = (pixel * scale - mean) / std`` after resize."""

    input: str | None = None  # image input's name; default: the first input
    resize_hw: tuple[int, int] | None = None
    mean: list[float] | None = None
    std: list[float] | None = None
    scale: float = Field(default=1.0 / 255.0, gt=0)
    color_order: Literal["RGB", "BGR", "GRAY"] = "RGB"
    layout: Literal["NCHW", "NHWC"] = "NCHW"


class VersionDecl(_Strict):
    artifact: str = Field(min_length=1)
    inputs: list[TensorDecl] = Field(min_length=1)
    outputs: list[TensorDecl] = Field(min_length=1)
    labels: list[str] = Field(min_length=1)
    labels_output: str | None = None  # the output whose last dim is one score per label; default: the only output
    preprocess: PreprocessDecl | None = None
    version_number: int | None = Field(default=None, ge=1)
    metrics: dict[str, float] = Field(default_factory=dict)
    cost_profile: dict[str, Any] | None = None
    stage: Literal["candidate", "canary", "production"] = "candidate"
    notes: str = ""


class Manifest(_Strict):
    id: str
    name: str
    description: str = ""
    event_types: list[str] = Field(default_factory=list)
    scene_tags: list[str] = Field(default_factory=lambda: ["any"])
    kind: str = "onnx_model"
    owner: str = ""
    postprocess: dict[str, Any] = Field(default_factory=dict)
    version: VersionDecl


def load_manifest(path: str | Path, *, limits: Limits = DEFAULT_LIMITS) -> Manifest:
    """Parse and type-check a manifest file (no model or catalog checks).

    The YAML is read with :mod:`catalog.safe_load`'s limits (size, depth, alias expansion),
    so a huge file or an alias bomb is refused in milliseconds.
    """
    p = Path(path)
    try:
        raw = load_file(p, limits=limits)
    except UnsafeInputError as exc:
        raise ManifestSchemaError(f"manifest refused: {exc}", value=str(p)) from None
    if not isinstance(raw, dict):
        raise ManifestSchemaError(
            f"manifest {str(p)!r} must be a mapping of fields (id, name, ..., version), got {type(raw).__name__}", value=raw
        )
    try:
        return Manifest.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(x) for x in e['loc']) or '<root>'}: {e['msg']} (got {e.get('input')!r})" for e in exc.errors()
        )
        raise ManifestSchemaError(
            f"manifest {str(p)!r} has invalid fields: {problems}. Fix them (format in docs/catalog.md)", value=raw
        ) from None


_COST_FIELDS = ("latency_ms_per_frame", "latency_ms_per_batch", "memory_mib", "engine")


def cost_profile_of(declared: dict[str, Any]) -> CostProfile:
    """The manifest's ``version.cost_profile`` as a :class:`CostProfile`; unknown or missing
    fields are named in an :class:`~catalog.InvalidSpecError` (never a bare ``KeyError``)."""
    unknown = sorted(str(k) for k in declared if k not in _COST_FIELDS)
    if unknown:
        raise InvalidSpecError(
            f"version.cost_profile has unknown field(s) {unknown}; the fields are {list(_COST_FIELDS)} "
            "(latency_ms_per_frame is required)",
            value=declared,
        )
    if "latency_ms_per_frame" not in declared:
        raise InvalidSpecError(
            "version.cost_profile lacks latency_ms_per_frame; give the measured latency of one frame in ms, "
            "or drop cost_profile",
            value=declared,
        )
    batches = declared.get("latency_ms_per_batch", {})
    if not isinstance(batches, dict):
        raise InvalidSpecError(
            f"version.cost_profile.latency_ms_per_batch must map batch size -> ms, got {batches!r}", value=declared
        )
    try:
        return CostProfile.from_dict(declared)
    except (TypeError, ValueError) as exc:
        if isinstance(exc, InvalidSpecError):
            raise
        raise InvalidSpecError(f"version.cost_profile {declared!r} is invalid ({exc}); fix the values", value=declared) from None


def resolve_artifact(manifest_path: Path, artifact: str) -> Path:
    """The artifact's real path, refusing absolute paths, ``..`` and symlinks that leave the folder."""
    folder = manifest_path.resolve().parent
    if PurePosixPath(artifact).is_absolute() or PureWindowsPath(artifact).is_absolute() or PureWindowsPath(artifact).drive:
        raise ArtifactPathError(
            f"artifact {artifact!r} is an absolute path; give a path relative to the manifest's folder {str(folder)!r} "
            "and put the model inside it",
            value=artifact,
        )
    if ".." in PurePosixPath(artifact.replace("\\", "/")).parts:
        raise ArtifactPathError(
            f"artifact {artifact!r} uses '..'; the model must be inside the manifest's folder {str(folder)!r}: move it there",
            value=artifact,
        )
    real = (folder / artifact).resolve()
    if not real.is_relative_to(folder):
        raise ArtifactPathError(
            f"artifact {artifact!r} resolves to {str(real)!r}, outside the manifest's folder {str(folder)!r} "
            "(a symlink leads out); copy the model into the folder instead of linking it",
            value=artifact,
        )
    if not real.is_file():
        raise ArtifactPathError(
            f"artifact {artifact!r} does not exist in {str(folder)!r} (looked for {str(real)!r}); fix the path or add the file",
            value=artifact,
        )
    return real


def algorithm_spec_of(m: Manifest) -> AlgorithmSpec:
    v = m.version
    labels_output = v.labels_output or (v.outputs[0].name if len(v.outputs) == 1 else None)
    if labels_output is None:
        raise ManifestSchemaError(
            f"manifest declares {len(v.outputs)} outputs {[o.name for o in v.outputs]}; set version.labels_output "
            "to the one that holds one score per label",
            value=[o.name for o in v.outputs],
        )
    if labels_output not in {o.name for o in v.outputs}:
        raise ManifestSchemaError(
            f"version.labels_output {labels_output!r} is not a declared output; use one of {[o.name for o in v.outputs]}",
            value=labels_output,
        )
    io = {
        "inputs": [{"name": d.name, "shape": d.dims(), "dtype": d.dtype} for d in v.inputs],
        "outputs": [{"name": d.name, "shape": d.dims(), "dtype": d.dtype} for d in v.outputs],
        "labels_output": labels_output,
    }
    preprocess = v.preprocess.model_dump(mode="json") if v.preprocess else {}
    if preprocess and preprocess["input"] is None:
        preprocess["input"] = v.inputs[0].name
    return AlgorithmSpec(
        id=m.id, name=m.name, description=m.description, event_types=tuple(m.event_types), scene_tags=tuple(m.scene_tags),
        kind=m.kind, input_spec=io, preprocess=preprocess, postprocess=m.postprocess, labels=tuple(v.labels), owner=m.owner,
    )  # fmt: skip
