"""catalog: algorithms, versions, artifacts, manifests, lifecycle, lineage, storage.

The bottom layer of the warehouse; every other package depends on it and on nothing else
of ours. See ``docs/architecture.md`` and ``docs/catalog.md``.

>>> import numpy as np
>>> from catalog import AlgorithmSpec, ArtifactStore, Catalog, Stage, linear_head_onnx
>>> store = ArtifactStore("memory://catalog-package-doctest")
>>> cat = Catalog.open("sqlite://", store=store)  # in-memory SQLite; use a file or PostgreSQL for real
>>> spec = cat.register_algorithm(AlgorithmSpec(id="road.smoke", name="Smoke on the road",
...     event_types=("smoke",), scene_tags=("road",), labels=("smoke",)))
>>> head = linear_head_onnx(np.zeros((8, 1), np.float32), np.zeros(1, np.float32), labels=["smoke"])
>>> v = cat.add_version("road.smoke", artifact_sha256=store.put_bytes(head, suffix=".onnx"), metrics={"f1": 0.8})
>>> cat.promote("road.smoke", v.number, to=Stage.PRODUCTION).stage.value
'production'
>>> cat.load_artifact("road.smoke", 1) == head
True
"""
from catalog.catalog import Catalog
from catalog.errors import (
    ArtifactNotFoundError,
    ArtifactPathError,
    ArtifactWriteError,
    CatalogConnectionError,
    CatalogError,
    CatalogUnavailableError,
    DuplicateError,
    DuplicateVersionError,
    HeadFormatError,
    InvalidDigestError,
    InvalidSpecError,
    LabelCountError,
    ManifestError,
    ManifestSchemaError,
    ModelLoadError,
    ModelSignatureError,
    PreprocessError,
    StageTransitionError,
    TamperedArtifactError,
    TaxonomyError,
    UnknownAlgorithmError,
    UnknownRecordError,
    UnknownVersionError,
    UnsafeInputError,
)
from catalog.ids import (
    AlgorithmId,
    detector_id,
    is_valid_algorithm_id,
    parse_algorithm_id,
    readout_id,
    scene_head_id,
    track_algorithm_id,
)
from catalog.head_format import LinearHead, linear_head_onnx, read_linear_head
from catalog.records import ALGORITHM_KINDS, AlgorithmSpec, CostProfile, ModelVersion, Stage
from catalog.safe_load import Limits, load_file, load_json_text, load_yaml_text
from catalog.store import ArtifactStore
from catalog.taxonomy import EventType, Persistence, SceneType, Taxonomy, event_persistence, load_taxonomy

__all__ = [
    "CatalogUnavailableError",
    "ArtifactWriteError",
    "Limits",
    "UnsafeInputError",
    "load_file",
    "load_json_text",
    "load_yaml_text",
    "AlgorithmId",
    "detector_id",
    "is_valid_algorithm_id",
    "parse_algorithm_id",
    "readout_id",
    "scene_head_id",
    "track_algorithm_id",
    "ALGORITHM_KINDS",
    "AlgorithmSpec",
    "ArtifactNotFoundError",
    "ArtifactPathError",
    "ArtifactStore",
    "Catalog",
    "CatalogConnectionError",
    "CatalogError",
    "CostProfile",
    "DuplicateError",
    "DuplicateVersionError",
    "EventType",
    "HeadFormatError",
    "InvalidDigestError",
    "InvalidSpecError",
    "LabelCountError",
    "LinearHead",
    "ManifestError",
    "ManifestSchemaError",
    "ModelLoadError",
    "ModelSignatureError",
    "ModelVersion",
    "Persistence",
    "PreprocessError",
    "SceneType",
    "Stage",
    "StageTransitionError",
    "TamperedArtifactError",
    "Taxonomy",
    "TaxonomyError",
    "UnknownAlgorithmError",
    "UnknownRecordError",
    "UnknownVersionError",
    "event_persistence",
    "linear_head_onnx",
    "load_taxonomy",
    "read_linear_head",
]
