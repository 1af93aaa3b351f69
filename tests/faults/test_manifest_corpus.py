"""Hostile manifests: each refused in under a second and 100 MB, the catalog and store unchanged.

Also: a refused import leaves no orphan artifact, a tampered artifact is repaired by putting
the right bytes again, and a full disk fails a write cleanly.
"""
from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from catalog import ArtifactStore, Catalog, CatalogError, TamperedArtifactError
from catalog.errors import ArtifactWriteError, DuplicateVersionError, InvalidSpecError, ManifestSchemaError
from catalog.safe_load import load_json_text, load_yaml_text
from tests.catalog.helpers import image_classifier_onnx, row_counts
from tests.faults.conftest import refused_within_budget

ALG = "seafront.boat_in_restricted_zone"
BASE: dict[str, Any] = {
    "id": ALG, "name": "Boat in restricted zone", "kind": "onnx_model",
    "scene_tags": ["seafront"], "event_types": ["boat_in_restricted_zone"], "owner": "harbor-team",
    "version": {
        "artifact": "model.onnx",
        "inputs": [{"name": "image", "shape": ["N", 3, 32, 32], "dtype": "float32"}],
        "outputs": [{"name": "scores", "shape": [-1, 4], "dtype": "float32"}],
        "labels": ["background", "boat", "ship", "buoy"],
        "metrics": {"f1": 0.82},
    },
}  # fmt: skip


def _billion_laughs(levels: int = 9) -> str:
    names = [f"l{i}" for i in range(levels + 1)]
    lines = [f"{names[0]}: &{names[0]} [lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    for prev, cur in zip(names, names[1:]):
        lines.append(f"{cur}: &{cur} [{', '.join(['*' + prev] * 9)}]")
    return "\n".join(lines) + "\n"


def _with_version(**changes: Any) -> Callable[[], str]:
    def build() -> str:
        m = copy.deepcopy(BASE)
        m["version"].update(changes)
        return yaml.safe_dump(m)

    return build


def _postprocess_alias_bomb() -> str:
    # 10 anchors of 10 aliases each: ~100,000 elements once expanded, a few hundred bytes on disk
    text = yaml.safe_dump({k: v for k, v in BASE.items()})
    bomb = "p0: &p0 [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]\n"
    for i in range(1, 5):
        bomb += f"p{i}: &p{i} [{', '.join([f'*p{i - 1}'] * 10)}]\n"
    return bomb.replace("\n", "\n  ").join(["postprocess:\n  ", ""]).rstrip() + "\n" + text


# (case, manifest text builder, file name, expected error, message pattern)
CORPUS = [
    # a few hundred bytes that expand to 10^9 strings once walked
    ("alias bomb", _billion_laughs, "manifest.yaml", ManifestSchemaError, r"expands to more than \d+ nodes"),
    ("alias-expanded postprocess", _postprocess_alias_bomb, "manifest.yaml", ManifestSchemaError, r"expands to more than"),
    ("60 MB manifest", lambda: yaml.safe_dump(BASE) + "# " + "x" * (60 << 20) + "\n", "manifest.yaml", ManifestSchemaError, r"over the limit"),
    ("deep nesting", lambda: "id: " + "[" * 50_000 + "]" * 50_000 + "\n", "manifest.yaml", ManifestSchemaError, r"nests deeper"),
    ("recursive alias", lambda: "id: &a [*a]\n", "manifest.yaml", ManifestSchemaError, r"recursive alias|not valid YAML"),
    ("python object tag", lambda: "id: !!python/object/apply:os.system [echo pwned]\n", "manifest.yaml", ManifestSchemaError, r"not valid YAML"),
    ("not UTF-8", lambda: "id: caf\xe9\n".encode("latin-1"), "manifest.yaml", ManifestSchemaError, r"not UTF-8"),
    ("JSON NaN literal", lambda: json.dumps(BASE).replace('0.82', 'NaN'), "manifest.json", ManifestSchemaError, r"NaN is not a JSON number"),
    ("NaN metric", _with_version(metrics={"f1": float("nan")}), "manifest.yaml", ManifestSchemaError, r"metrics\.f1: Input should be a finite number"),
    ("infinite metric", _with_version(metrics={"f1": float("inf")}), "manifest.yaml", ManifestSchemaError, r"finite number"),
    ("unknown cost_profile field", _with_version(cost_profile={"bogus": 1}), "manifest.yaml", InvalidSpecError, r"unknown field\(s\) \['bogus'\]"),
    ("cost_profile without latency", _with_version(cost_profile={"memory_mib": 3}), "manifest.yaml", InvalidSpecError, r"lacks latency_ms_per_frame"),
    ("cost_profile NaN latency", _with_version(cost_profile={"latency_ms_per_frame": float("nan")}), "manifest.yaml", InvalidSpecError, r"finite"),
    ("version gap on a new algorithm", _with_version(version_number=3), "manifest.yaml", DuplicateVersionError, r"first version is 1, not 3"),
]  # fmt: skip


def _store_files(store_root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(store_root)): p.read_bytes() for p in sorted(store_root.rglob("*")) if p.is_file()}


@pytest.fixture
def catalog(tmp_path: Path):
    cat = Catalog.open(f"sqlite:///{tmp_path / 'catalog.db'}", store=ArtifactStore(tmp_path / "artifacts"))
    yield cat
    cat.close()


@pytest.mark.parametrize(("case", "build", "name", "error", "match"), CORPUS, ids=[c[0] for c in CORPUS])
def test_hostile_manifest_refused_fast_and_changes_nothing(case, build, name, error, match, catalog, tmp_path):
    folder = tmp_path / "pkg"
    folder.mkdir()
    (folder / "model.onnx").write_bytes(image_classifier_onnx())
    text = build()
    path = folder / name
    path.write_bytes(text if isinstance(text, bytes) else text.encode("utf-8"))
    before_rows, before_files = row_counts(catalog), _store_files(tmp_path / "artifacts")
    exc = refused_within_budget(case, lambda: catalog.import_manifest(path), error, match)
    assert isinstance(exc, CatalogError) and isinstance(exc, ValueError)
    assert row_counts(catalog) == before_rows
    assert _store_files(tmp_path / "artifacts") == before_files


def test_refused_version_after_the_artifact_was_written_leaves_no_orphan(catalog, tmp_path):
    # v1 imports; then a manifest naming version 5 passes every model check, and is refused
    # only inside the catalog transaction, after its artifact was stored: it must be removed.
    first = tmp_path / "v1"
    first.mkdir()
    (first / "model.onnx").write_bytes(image_classifier_onnx(seed=1))
    (first / "manifest.yaml").write_text(yaml.safe_dump(BASE))
    catalog.import_manifest(first / "manifest.yaml")
    before_rows, before_files = row_counts(catalog), _store_files(tmp_path / "artifacts")
    gap = tmp_path / "v5"
    gap.mkdir()
    (gap / "model.onnx").write_bytes(image_classifier_onnx(seed=2))
    m = copy.deepcopy(BASE)
    m["version"]["version_number"] = 5
    (gap / "manifest.yaml").write_text(yaml.safe_dump(m))
    with pytest.raises(DuplicateVersionError, match=r"next version number is 2"):
        catalog.import_manifest(gap / "manifest.yaml")
    assert row_counts(catalog) == before_rows
    assert _store_files(tmp_path / "artifacts") == before_files  # no orphan, no temp file


def test_refused_import_keeps_an_artifact_that_was_already_stored(catalog, tmp_path):
    first = tmp_path / "v1"
    first.mkdir()
    (first / "model.onnx").write_bytes(image_classifier_onnx(seed=3))
    (first / "manifest.yaml").write_text(yaml.safe_dump(BASE))
    catalog.import_manifest(first / "manifest.yaml")
    model = image_classifier_onnx(seed=4)
    sha = catalog.store.put_bytes(model, suffix=".onnx")  # stored before, by someone else, unreferenced
    other = tmp_path / "other"
    other.mkdir()
    (other / "model.onnx").write_bytes(model)
    m = copy.deepcopy(BASE)
    m["version"]["version_number"] = 9
    (other / "manifest.yaml").write_text(yaml.safe_dump(m))
    with pytest.raises(DuplicateVersionError):
        catalog.import_manifest(other / "manifest.yaml")
    assert catalog.store.get_bytes(sha) == model  # the undo removes only what this import wrote


def test_tampered_artifact_is_repaired_by_putting_the_bytes_again(tmp_path):
    store = ArtifactStore(tmp_path / "artifacts")
    data = b"weights" * 1000
    sha = store.put_bytes(data, suffix=".onnx")
    location = Path(store.location(sha))
    location.write_bytes(b"tampered")
    with pytest.raises(TamperedArtifactError, match=r"put it again"):
        store.get_bytes(sha)
    assert store.put_bytes(data, suffix=".onnx") == sha  # the advice in the message works
    assert store.get_bytes(sha) == data and Path(store.location(sha)) == location
    location.write_bytes(b"tampered again")
    src = tmp_path / "model.onnx"
    src.write_bytes(data)
    assert store.put_file(src) == sha
    assert store.local_path(sha).read_bytes() == data
    assert not [p for p in (tmp_path / "artifacts").rglob("*") if ".tmp-" in p.name]


def test_disk_full_fails_cleanly_and_leaves_nothing_corrupt(small_volume: Path):
    store = ArtifactStore(small_volume / "artifacts")
    small = store.put_bytes(b"fits" * 100)
    for attempt in range(2):  # put_bytes, then put_file: both refuse, neither leaves a partial file
        big = bytes([attempt]) * (3 << 20)
        with pytest.raises(ArtifactWriteError, match=r"disk is full; nothing was stored") as info:
            if attempt == 0:
                store.put_bytes(big)
            else:
                src = small_volume.parent / "big.bin"
                src.write_bytes(big)
                store.put_file(src)
        assert isinstance(info.value, OSError)
        names = [p.name for p in small_volume.rglob("*") if p.is_file()]
        assert names == [small], names  # only the intact earlier artifact
    assert store.get_bytes(small) == b"fits" * 100
    assert store.put_bytes(b"still works") in {p.name for p in small_volume.rglob("*")}


@pytest.mark.parametrize(
    ("text", "loader", "match"),
    [(_billion_laughs(12), load_yaml_text, r"expands to more than"), ("[" * 200_000, load_json_text, r"nests too deeply"),
     ("[" * 200_000, load_yaml_text, r"nests deeper than 64")],
    ids=["yaml bomb 9^12", "json 200k deep", "yaml 200k deep"],
)
def test_loaders_refuse_within_budget(text, loader, match):
    refused_within_budget("loader", lambda: loader(text, source="case"), CatalogError, match)


_plain = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**40), 2**40) | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=10),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4),
    max_leaves=30,
)  # fmt: skip


@settings(max_examples=150, deadline=None)
@given(value=_plain)
def test_documents_within_the_limits_load_exactly_as_the_plain_loaders(value):
    # the limits refuse hostile input only: ordinary documents come back unchanged
    assert load_yaml_text(yaml.safe_dump(value), source="doc") == yaml.safe_load(yaml.safe_dump(value))
    assert load_json_text(json.dumps(value), source="doc") == json.loads(json.dumps(value))
