"""Manifest import of real ONNX models: every check fails with its own error and writes nothing."""
from __future__ import annotations

import copy
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml

from catalog import (
    ArtifactPathError,
    Catalog,
    DuplicateError,
    DuplicateVersionError,
    InvalidSpecError,
    LabelCountError,
    ManifestSchemaError,
    ModelLoadError,
    ModelSignatureError,
    PreprocessError,
    Stage,
    TaxonomyError,
    linear_head_onnx,
)
from tests.catalog.helpers import image_classifier_onnx, row_counts

ALG = "seafront.boat_in_restricted_zone"
BASE: dict[str, Any] = {
    "id": ALG,
    "name": "Boat in restricted zone",
    "description": "Flags boats inside the swimming area.",
    "kind": "onnx_model",
    "scene_tags": ["seafront"],
    "event_types": ["boat_in_restricted_zone"],
    "owner": "harbor-team",
    "version": {
        "artifact": "model.onnx",
        "inputs": [{"name": "image", "shape": ["N", 3, 32, 32], "dtype": "float32"}],
        "outputs": [{"name": "scores", "shape": [-1, 4], "dtype": "float32"}],
        "labels": ["background", "boat", "ship", "buoy"],
        "preprocess": {
            "resize_hw": [32, 32], "mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225],
            "color_order": "RGB", "layout": "NCHW",
        },
        "metrics": {"f1": 0.82},
    },
}  # fmt: skip


def write_manifest(folder: Path, manifest: Any, model: bytes | None = None, name: str = "manifest.yaml") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    if model is not None:
        (folder / "model.onnx").write_bytes(model)
    path = folder / name
    path.write_text(manifest if isinstance(manifest, str) else yaml.safe_dump(manifest), encoding="utf-8")
    return path


def edit(**changes: Any) -> Callable[[dict], dict]:
    """Return a manifest editor: keys like 'version.preprocess.mean' set nested values (None deletes)."""

    def apply(m: dict) -> dict:
        m = copy.deepcopy(m)
        for dotted, value in changes.items():
            *parents, leaf = dotted.split("__")
            node = m
            for p in parents:
                node = node[int(p)] if isinstance(node, list) else node[p]
            if value is None:
                del node[leaf]
            elif isinstance(node, list):
                node[int(leaf)] = value
            else:
                node[leaf] = value
        return m

    return apply


def test_import_registers_algorithm_and_version(cat: Catalog, tmp_path: Path) -> None:
    model = image_classifier_onnx()
    v = cat.import_manifest(write_manifest(tmp_path / "boats", BASE, model))
    assert (v.algorithm_id, v.number, v.stage, v.metrics) == (ALG, 1, Stage.CANDIDATE, {"f1": 0.82})
    assert cat.load_artifact(ALG, 1) == model
    spec = cat.get_algorithm(ALG)
    assert spec.labels == ("background", "boat", "ship", "buoy")
    assert spec.input_spec["inputs"] == [{"name": "image", "shape": [-1, 3, 32, 32], "dtype": "float32"}]  # 'N' -> -1
    assert spec.input_spec["labels_output"] == "scores"
    assert spec.preprocess["input"] == "image" and spec.preprocess["layout"] == "NCHW"
    assert spec.preprocess["scale"] == pytest.approx(1 / 255)


def test_second_import_adds_next_version_and_can_go_to_production(cat: Catalog, tmp_path: Path) -> None:
    cat.import_manifest(write_manifest(tmp_path / "v1", BASE, image_classifier_onnx(seed=1)))
    m2 = edit(version__version_number=2, version__stage="production")(BASE)
    v2 = cat.import_manifest(write_manifest(tmp_path / "v2", m2, image_classifier_onnx(seed=2)))
    assert (v2.number, v2.stage) == (2, Stage.PRODUCTION)
    assert cat.production_version(ALG).number == 2


def test_import_of_linear_head_without_preprocess(cat: Catalog, tmp_path: Path) -> None:
    head = linear_head_onnx(np.ones((16, 2), np.float32), np.zeros(2, np.float32), labels=["no", "yes"])
    manifest = {
        "id": "road.smoke", "name": "Smoke", "kind": "classification_head", "scene_tags": ["road"],
        "event_types": ["smoke"],
        "version": {
            "artifact": "model.onnx", "labels": ["no", "yes"],
            "inputs": [{"name": "embedding", "shape": ["N", 16]}], "outputs": [{"name": "scores", "shape": ["N", 2]}],
        },
    }  # fmt: skip
    v = cat.import_manifest(write_manifest(tmp_path / "head", manifest, head))
    assert v.number == 1 and cat.get_algorithm("road.smoke").preprocess == {}


def test_imported_artifact_path_may_be_in_a_subfolder(cat: Catalog, tmp_path: Path) -> None:
    folder = tmp_path / "pkg"
    (folder / "weights").mkdir(parents=True)
    (folder / "weights" / "m.onnx").write_bytes(image_classifier_onnx())
    v = cat.import_manifest(write_manifest(folder, edit(version__artifact="weights/m.onnx")(BASE)))
    assert v.number == 1


# (how to build the case, expected error, message pattern); each case leaves the catalog unchanged
CASES: list[tuple[str, Callable[[dict], Any], bytes | None, type[Exception], str]] = [
    # --- fields ---
    ("missing version block", edit(version=None), None, ManifestSchemaError, r"version: Field required"),
    ("misspelled field", edit(versoin="x"), None, ManifestSchemaError, r"versoin: Extra inputs are not permitted"),
    ("unknown dtype", edit(version__inputs__0__dtype="float"), None, ManifestSchemaError, r"version.inputs.0.dtype"),
    ("zero-size dimension", edit(version__inputs__0__shape=["N", 0, 32, 32]), None, ManifestSchemaError, r"dimension 0 is invalid"),
    ("no labels", edit(version__labels=[]), None, ManifestSchemaError, r"version.labels"),
    ("negative version number", edit(version__version_number=0), None, ManifestSchemaError, r"version_number"),
    ("not a mapping", lambda m: "- just\n- a list\n", None, ManifestSchemaError, r"must be a mapping"),
    ("broken YAML", lambda m: "id: [unclosed\n", None, ManifestSchemaError, r"not valid YAML"),
    ("bad cost profile", edit(version__cost_profile={"latency_ms_per_frame": -2}), None, InvalidSpecError, r"latency_ms_per_frame"),
    # --- algorithm fields ---
    ("unknown scene", edit(scene_tags=["sea_front"]), None, TaxonomyError, r"unknown scene 'sea_front'"),
    ("unknown kind", edit(kind="tracker"), None, InvalidSpecError, r"unknown kind 'tracker'"),
    ("unsafe id", edit(id="../boats"), None, InvalidSpecError, r"not a safe slug"),
    # --- artifact path ---
    ("absolute artifact", edit(version__artifact="/etc/passwd"), None, ArtifactPathError, r"absolute path"),
    ("dot-dot artifact", edit(version__artifact="../model.onnx"), None, ArtifactPathError, r"uses '\.\.'"),
    ("hidden dot-dot", edit(version__artifact="sub/../../model.onnx"), None, ArtifactPathError, r"uses '\.\.'"),
    ("missing artifact", edit(version__artifact="nope.onnx"), None, ArtifactPathError, r"'nope.onnx' does not exist"),
    # --- model ---
    ("not an ONNX model", edit(), b"definitely not protobuf", ModelLoadError, r"ONNX Runtime \(CPU\) cannot load"),
    ("fails at run time", edit(version__outputs=[{"name": "scores", "shape": ["N", 4]}, {"name": "aux", "shape": [-1, 7]}],
                               version__labels_output="scores"),
     image_classifier_onnx(reshape_to=[-1, 7]), ModelLoadError, r"fails on a zero input"),
    # --- signature ---
    ("input name", edit(version__inputs__0__name="img"), None, ModelSignatureError, r"declares inputs \['img'\] but the model has \['image'\]"),
    ("input dtype", edit(version__inputs__0__dtype="uint8"), None, ModelSignatureError, r"dtype 'uint8', the model has 'float32'"),
    ("input size", edit(version__inputs__0__shape=["N", 3, 224, 224]), None, ModelSignatureError, r"shape \['N', 3, 224, 224\], the model has \['N', 3, 32, 32\]"),
    ("dynamic vs fixed", edit(version__inputs__0__shape=["N", -1, 32, 32]), None, ModelSignatureError, r"the model has \['N', 3, 32, 32\]"),
    ("rank", edit(version__inputs__0__shape=["N", 3, 32]), None, ModelSignatureError, r"input 'image': manifest says shape"),
    ("output missing", edit(version__outputs__0__name="probs"), None, ModelSignatureError, r"declares outputs \['probs'\]"),
    ("output size", edit(version__outputs__0__shape=["N", 5], version__labels=list("abcde")), None, ModelSignatureError, r"output 'scores'"),
    ("two outputs, no labels_output", edit(version__outputs=[{"name": "scores", "shape": ["N", 4]}, {"name": "logits", "shape": ["N", 4]}]),
     image_classifier_onnx(two_outputs=True), ManifestSchemaError, r"set version.labels_output"),
    ("labels_output unknown", edit(version__labels_output="probs"), None, ManifestSchemaError, r"labels_output 'probs' is not a declared output"),
    # --- labels ---
    ("label count vs declared", edit(version__labels=["background", "boat", "ship"]), None, LabelCountError, r"3 labels .* 4 scores per row \(declared shape\)"),
    ("label count vs dry run", edit(version__outputs__0__shape=["N", "K"], version__labels=["a", "b"]),
     image_classifier_onnx(classes=4, channels=3, dynamic_label_dim=True), LabelCountError, r"2 labels .* 4 scores per row \(dry run gave shape \[1, 4\]\)"),
    # --- preprocessing ---
    ("resize vs input", edit(version__preprocess__resize_hw=[224, 224]), None, PreprocessError, r"resize_hw \[224, 224\] gives height 224.*set resize_hw: \[32, 32\]"),
    ("mean length", edit(version__preprocess__mean=[0.5]), None, PreprocessError, r"mean has 1 values \[0.5\] but the input has 3"),
    ("std zero", edit(version__preprocess__std=[0.2, 0.0, 0.2]), None, PreprocessError, r"std \[0.2, 0.0, 0.2\] must be > 0"),
    ("only mean", edit(version__preprocess__std=None), None, PreprocessError, r"only one of mean/std"),
    ("gray on 3 channels", edit(version__preprocess__color_order="GRAY"), None, PreprocessError, r"GRAY means 1 channel"),
    ("wrong layout", edit(version__preprocess__layout="NHWC"), None, PreprocessError, r"looks NCHW but preprocess.layout is NHWC; set layout: NCHW"),
    ("NHWC model declared NCHW", edit(version__inputs__0__shape=["N", 32, 32, 3]), None, ModelSignatureError, r"input 'image'"),
    ("preprocess on unknown input", edit(version__preprocess__input="frames"), None, PreprocessError, r"preprocess.input 'frames' is not a declared input"),
]


@pytest.mark.parametrize(("build", "model", "error", "match"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_invalid_manifest_changes_nothing(
    cat: Catalog, tmp_path: Path, build: Callable[[dict], Any], model: bytes | None, error: type[Exception], match: str
) -> None:
    path = write_manifest(tmp_path / "pkg", build(BASE), model or image_classifier_onnx())
    before = row_counts(cat)
    with pytest.raises(error, match=match):
        cat.import_manifest(path)
    assert row_counts(cat) == before
    assert not list((tmp_path / "artifacts").rglob("*.onnx"))  # nothing stored either


def test_symlink_escaping_the_folder_is_refused(cat: Catalog, tmp_path: Path) -> None:
    outside = tmp_path / "elsewhere" / "model.onnx"
    outside.parent.mkdir()
    outside.write_bytes(image_classifier_onnx())
    folder = tmp_path / "pkg"
    folder.mkdir()
    os.symlink(outside, folder / "model.onnx")
    before = row_counts(cat)
    with pytest.raises(ArtifactPathError, match=r"outside the manifest's folder .* symlink"):
        cat.import_manifest(write_manifest(folder, BASE))
    assert row_counts(cat) == before


def test_symlink_inside_the_folder_is_fine(cat: Catalog, tmp_path: Path) -> None:
    folder = tmp_path / "pkg"
    (folder / "weights").mkdir(parents=True)
    (folder / "weights" / "real.onnx").write_bytes(image_classifier_onnx())
    os.symlink(folder / "weights" / "real.onnx", folder / "model.onnx")
    assert cat.import_manifest(write_manifest(folder, BASE)).number == 1


@pytest.mark.parametrize(
    ("second", "model_seed", "error", "match"),
    [
        (edit(), 1, DuplicateVersionError, r"this artifact .* is already .* version 1"),  # same model twice
        (edit(version__version_number=1), 2, DuplicateVersionError, r"version 1 already exists.*next one \(2\)"),  # number taken
        (edit(version__version_number=5), 2, DuplicateVersionError, r"next version number is 2"),  # gap in numbers
        (edit(owner="someone-else"), 2, DuplicateError, r"different spec \(fields differ: \['owner'\]\)"),  # contract changed
        (edit(version__labels=["bg", "boat", "ship", "buoy"]), 2, DuplicateError, r"fields differ: \['labels'\]"),  # labels changed
    ],
)
def test_conflicts_with_registered_versions(
    cat: Catalog, tmp_path: Path, second: Callable[[dict], dict], model_seed: int, error: type[Exception], match: str
) -> None:
    cat.import_manifest(write_manifest(tmp_path / "v1", BASE, image_classifier_onnx(seed=1)))
    before = row_counts(cat)
    with pytest.raises(error, match=match):
        cat.import_manifest(write_manifest(tmp_path / "v2", second(BASE), image_classifier_onnx(seed=model_seed)))
    assert row_counts(cat) == before


def test_first_version_number_of_new_algorithm_must_be_one(cat: Catalog, tmp_path: Path) -> None:
    with pytest.raises(DuplicateVersionError, match=r"first version is 1, not 3"):
        cat.import_manifest(write_manifest(tmp_path / "p", edit(version__version_number=3)(BASE), image_classifier_onnx()))
    assert cat.list_algorithms() == []


def test_missing_manifest_file(cat: Catalog, tmp_path: Path) -> None:
    with pytest.raises(ManifestSchemaError, match="does not exist"):
        cat.import_manifest(tmp_path / "nope.yaml")
