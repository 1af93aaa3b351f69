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

Checks, in order (each failure raises its own :class:`~catalog.ManifestError` subclass and
leaves the catalog unchanged): fields (:class:`ManifestSchemaError`), artifact path
(:class:`ArtifactPathError`), algorithm fields (taxonomy, kind), conflicts with what is
registered (:class:`DuplicateError`, :class:`DuplicateVersionError`), ONNX Runtime CPU load
(:class:`ModelLoadError`), declared inputs/outputs (:class:`ModelSignatureError`), label
count (:class:`LabelCountError`), preprocessing (:class:`PreprocessError`), and a dry run on
a zero input (:class:`ModelLoadError`).
"""
from __future__ import annotations

import hashlib
import logging
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from catalog.errors import (
    ArtifactPathError,
    DuplicateError,
    DuplicateVersionError,
    InvalidSpecError,
    LabelCountError,
    ManifestSchemaError,
    ModelLoadError,
    ModelSignatureError,
    PreprocessError,
    UnsafeInputError,
)
from catalog.records import AlgorithmSpec, CostProfile, ModelVersion
from catalog.safe_load import DEFAULT_LIMITS, Limits, load_file

if TYPE_CHECKING:
    from catalog.catalog import Catalog

log = logging.getLogger(__name__)

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


def _spec_of(m: Manifest) -> AlgorithmSpec:
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


def _session(model_path: Path) -> Any:
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.log_severity_level = 4  # failures are raised as ModelLoadError below, not logged by ORT
    try:
        return ort.InferenceSession(str(model_path), sess_options=options, providers=["CPUExecutionProvider"])
    except Exception as exc:  # ORT raises several private exception types
        raise ModelLoadError(
            f"ONNX Runtime (CPU) cannot load {str(model_path)!r}: {str(exc).splitlines()[0]}; export a valid ONNX model "
            "(opset supported by onnxruntime, all operators available on CPU)",
            value=str(model_path),
        ) from None


def _model_dims(shape: list[Any]) -> list[int]:
    return [d if isinstance(d, int) and d > 0 else DYNAMIC for d in shape]


def check_signature(kind: str, declared: list[TensorDecl], actual: list[Any]) -> None:
    """Compare declared tensors with ORT's ``get_inputs()``/``get_outputs()`` (names, ranks, sizes, dtypes)."""
    actual_by_name = {a.name: a for a in actual}
    declared_names = [d.name for d in declared]
    if sorted(declared_names) != sorted(actual_by_name):
        raise ModelSignatureError(
            f"manifest declares {kind}s {declared_names} but the model has {list(actual_by_name)}; "
            f"list exactly the model's {kind}s",
            value=declared_names,
        )
    for d in declared:
        a = actual_by_name[d.name]
        got_dtype = DTYPES.get(a.type, a.type)
        if d.dtype != got_dtype:
            raise ModelSignatureError(
                f"{kind} {d.name!r}: manifest says dtype {d.dtype!r}, the model has {got_dtype!r}; set dtype: {got_dtype}",
                value=d.dtype,
            )
        want, got = d.dims(), _model_dims(list(a.shape))
        # a fixed model size must be declared as is; a dynamic one may be declared dynamic or fixed
        mismatch = len(want) != len(got) or any(g != DYNAMIC and w != g for w, g in zip(want, got, strict=True))
        if mismatch:
            shown = [s if isinstance(s, int) else "N" for s in a.shape]
            raise ModelSignatureError(
                f"{kind} {d.name!r}: manifest says shape {d.shape}, the model has {shown} (-1/'N' = dynamic); "
                f"set shape: {shown}",
                value=d.shape,
            )


def check_preprocess(pre: PreprocessDecl, inputs: list[TensorDecl]) -> None:
    """Resize, channels, mean/std and layout must fit the image input's declared shape."""
    name = pre.input or inputs[0].name
    by_name = {i.name: i for i in inputs}
    if name not in by_name:
        raise PreprocessError(f"preprocess.input {name!r} is not a declared input; use one of {list(by_name)}", value=name)
    dims = by_name[name].dims()
    if len(dims) != 4:
        raise PreprocessError(
            f"preprocess targets input {name!r} of shape {by_name[name].shape}, but image preprocessing needs a 4-D "
            f"{pre.layout} input; drop preprocess (non-image input) or point preprocess.input at the image input",
            value=by_name[name].shape,
        )
    c, h, w = (dims[1], dims[2], dims[3]) if pre.layout == "NCHW" else (dims[3], dims[1], dims[2])
    channel_axis, other_axis = (1, 3) if pre.layout == "NCHW" else (3, 1)
    if dims[other_axis] in (1, 3) and dims[channel_axis] not in (1, 3, DYNAMIC):
        other = "NHWC" if pre.layout == "NCHW" else "NCHW"
        raise PreprocessError(
            f"input {name!r} shape {by_name[name].shape} looks {other} but preprocess.layout is {pre.layout}; "
            f"set layout: {other}",
            value=pre.layout,
        )
    if pre.resize_hw is not None:
        if min(pre.resize_hw) < 1:
            raise PreprocessError(f"preprocess.resize_hw {list(pre.resize_hw)} must be two positive sizes", value=pre.resize_hw)
        for label, want, got in (("height", pre.resize_hw[0], h), ("width", pre.resize_hw[1], w)):
            if got != DYNAMIC and got != want:
                raise PreprocessError(
                    f"preprocess.resize_hw {list(pre.resize_hw)} gives {label} {want}, but input {name!r} ({pre.layout}) "
                    f"has {label} {got}; set resize_hw: [{h}, {w}]",
                    value=list(pre.resize_hw),
                )
    if (pre.mean is None) != (pre.std is None):
        raise PreprocessError("preprocess gives only one of mean/std; give both (one value per channel) or neither")
    expected_c = 1 if pre.color_order == "GRAY" else 3
    if c != DYNAMIC and c != expected_c:
        raise PreprocessError(
            f"color_order {pre.color_order} means {expected_c} channel(s), but input {name!r} ({pre.layout}) has {c}; "
            f"fix color_order or layout",
            value=pre.color_order,
        )
    if pre.mean is not None and pre.std is not None:
        for key, vals in (("mean", pre.mean), ("std", pre.std)):
            if len(vals) != expected_c:
                raise PreprocessError(
                    f"preprocess.{key} has {len(vals)} values {vals} but the input has {expected_c} channel(s) "
                    f"({pre.color_order}); give one value per channel",
                    value=vals,
                )
        if any(s <= 0 for s in pre.std):
            raise PreprocessError(f"preprocess.std {pre.std} must be > 0 (it divides); fix the zero/negative values", value=pre.std)


def _label_count(labels: list[str], output: str, last_dim: int, where: str) -> None:
    if last_dim != DYNAMIC and last_dim != len(labels):
        raise LabelCountError(
            f"{len(labels)} labels {labels} but output {output!r} has {last_dim} scores per row ({where}); "
            "give one label per score",
            value=labels,
        )


def _dry_run(session: Any, m: Manifest, spec: AlgorithmSpec) -> None:
    pre = m.version.preprocess
    feeds = {}
    for inp in session.get_inputs():
        dims = _model_dims(list(inp.shape))
        if DTYPES.get(inp.type) in (None, "string"):
            return  # cannot build a neutral input; the static checks stand
        if pre is not None and pre.resize_hw and inp.name == spec.preprocess.get("input") and len(dims) == 4:
            hw_axes = (2, 3) if pre.layout == "NCHW" else (1, 2)
            for axis, size in zip(hw_axes, pre.resize_hw, strict=True):
                dims[axis] = size if dims[axis] == DYNAMIC else dims[axis]
        feeds[inp.name] = np.zeros([1 if d == DYNAMIC else d for d in dims], dtype=DTYPES[inp.type])
    try:
        results = session.run(None, feeds)
    except Exception as exc:
        shapes = {k: list(v.shape) for k, v in feeds.items()}
        raise ModelLoadError(
            f"the model loads but fails on a zero input {shapes}: {str(exc).splitlines()[0]}; "
            "check the declared shapes and the model's export",
            value=shapes,
        ) from None
    for out, value in zip(session.get_outputs(), results, strict=True):
        if out.name == spec.input_spec["labels_output"]:
            shape = list(np.shape(value))
            if not shape:
                raise LabelCountError(f"output {out.name!r} is a scalar; the labels output needs one score per label", value=out.name)
            _label_count(list(spec.labels), out.name, shape[-1], f"dry run gave shape {shape}")


def check_importable(catalog: Catalog, spec: AlgorithmSpec, artifact_sha256: str, version_number: int | None) -> None:
    """Refuse (without writing) a manifest that conflicts with what is registered (the catalog's public reads)."""
    from catalog.errors import UnknownAlgorithmError

    try:
        existing = catalog.get_algorithm(spec.id)
    except UnknownAlgorithmError:
        if version_number not in (None, 1):
            raise DuplicateVersionError(
                f"{spec.id} is new, so its first version is 1, not {version_number}; drop version_number or set it to 1",
                value=version_number,
            ) from None
        return
    if existing != spec:
        raise DuplicateError(
            f"algorithm {spec.id!r} is already registered with a different spec (fields differ: "
            f"{existing.differences(spec)}); keep the manifest's algorithm fields as registered "
            "(`warehouse catalog show`) or import it under a new id",
            value=spec.id,
        )
    versions = catalog.versions(spec.id)
    same = [v.number for v in versions if v.artifact_sha256 == artifact_sha256]
    if same:
        raise DuplicateVersionError(
            f"this artifact ({artifact_sha256[:12]}...) is already {spec.id} version {same[0]}; "
            "nothing to import (promote that version instead)",
            value=artifact_sha256,
        )
    numbers = {v.number for v in versions}
    if version_number is not None and version_number in numbers:
        raise DuplicateVersionError(
            f"{spec.id} version {version_number} already exists; drop version_number to take the next one "
            f"({max(numbers) + 1}) or import a different algorithm",
            value=version_number,
        )


def import_manifest(catalog: Catalog, path: str | Path) -> ModelVersion:
    """Validate the manifest and model, then store the artifact and register the version (one transaction)."""
    manifest_path = Path(path)
    m = load_manifest(manifest_path)
    model_path = resolve_artifact(manifest_path, m.version.artifact)
    spec = _spec_of(m)
    cost = cost_profile_of(m.version.cost_profile) if m.version.cost_profile is not None else None
    sha = hashlib.sha256(model_path.read_bytes()).hexdigest()
    check_importable(catalog, spec, sha, m.version.version_number)
    session = _session(model_path)
    check_signature("input", m.version.inputs, session.get_inputs())
    check_signature("output", m.version.outputs, session.get_outputs())
    labels_output = spec.input_spec["labels_output"]
    decl = next(o for o in m.version.outputs if o.name == labels_output)
    if not decl.dims():
        raise LabelCountError(f"output {labels_output!r} is declared as a scalar; it needs one score per label", value=decl.shape)
    _label_count(m.version.labels, labels_output, decl.dims()[-1], "declared shape")
    model_out = next(o for o in session.get_outputs() if o.name == labels_output)
    _label_count(m.version.labels, labels_output, (_model_dims(list(model_out.shape)) or [DYNAMIC])[-1], "model shape")
    if m.version.preprocess is not None:
        check_preprocess(m.version.preprocess, m.version.inputs)
    _dry_run(session, m, spec)
    # Everything is checked; write the artifact, then the version. If the version is refused
    # after all (a concurrent import took the number, the database failed), remove the
    # artifact again unless it was there before: a refused import leaves the store as it was.
    existed = catalog.store.exists(sha)
    written: list[str] = []
    try:
        stored = catalog.store.put_file(model_path)
        written.append(stored)
        if stored != sha:
            raise ModelLoadError(f"{str(model_path)!r} changed while it was imported (sha {sha[:12]} -> {stored[:12]}); import again")
        version = catalog.import_version(
            spec, expected_number=m.version.version_number, artifact_sha256=sha, metrics=m.version.metrics,
            cost_profile=cost, stage=m.version.stage, notes=m.version.notes,
        )  # fmt: skip
    except BaseException:
        for written_sha in written:
            if written_sha != sha or not existed:
                catalog.discard_unreferenced_artifact(written_sha)
        raise
    log.info("imported %s from %s", version, manifest_path)
    return version
