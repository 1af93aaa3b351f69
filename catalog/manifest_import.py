"""The import of a manifest: every check against the model and the catalog, then one write.

:func:`import_manifest` loads the manifest (:mod:`catalog.manifest`), checks the algorithm
against what is registered, loads the model in ONNX Runtime (CPU), checks its declared
inputs, outputs, labels and preprocessing, runs it once on a zero input, and only then
stores the artifact and registers the version; a refusal after the artifact was written
removes it again. It writes through :class:`ImportTarget`, the part of ``Catalog`` it uses.
"""
from __future__ import annotations

import hashlib
import logging
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from catalog.errors import (
    DuplicateError,
    DuplicateVersionError,
    LabelCountError,
    ModelLoadError,
    ModelSignatureError,
    PreprocessError,
)
from catalog.manifest import (
    DTYPES,
    DYNAMIC,
    Manifest,
    PreprocessDecl,
    TensorDecl,
    algorithm_spec_of,
    cost_profile_of,
    load_manifest,
    resolve_artifact,
)
from catalog.records import AlgorithmSpec, ModelVersion

log = logging.getLogger(__name__)


class ImportTarget(Protocol):
    """What an import needs of the catalog (``Catalog`` is one): its reads and its import API."""

    store: Any

    def get_algorithm(self, algorithm_id: str) -> AlgorithmSpec: ...

    def versions(self, algorithm_id: str) -> list[ModelVersion]: ...

    def import_version(self, spec: AlgorithmSpec, **kwargs: Any) -> ModelVersion: ...

    def discard_unreferenced_artifact(self, sha256: str) -> Any: ...


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


def check_importable(catalog: ImportTarget, spec: AlgorithmSpec, artifact_sha256: str, version_number: int | None) -> None:
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


def import_manifest(catalog: ImportTarget, path: str | Path) -> ModelVersion:
    """Validate the manifest and model, then store the artifact and register the version (one transaction)."""
    manifest_path = Path(path)
    m = load_manifest(manifest_path)
    model_path = resolve_artifact(manifest_path, m.version.artifact)
    spec = algorithm_spec_of(m)
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
