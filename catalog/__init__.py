"""catalog: algorithms, versions, artifacts, manifests, lifecycle, lineage, storage.

The bottom layer of the warehouse; every other package depends on it and on nothing else
of ours. See ``docs/architecture.md``.
"""
from catalog.errors import CatalogError, HeadFormatError, TaxonomyError
from catalog.head_format import LinearHead, linear_head_onnx, read_linear_head
from catalog.taxonomy import EventType, SceneType, Taxonomy, load_taxonomy

__all__ = [
    "CatalogError",
    "EventType",
    "HeadFormatError",
    "LinearHead",
    "SceneType",
    "Taxonomy",
    "TaxonomyError",
    "linear_head_onnx",
    "load_taxonomy",
    "read_linear_head",
]
