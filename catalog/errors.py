"""One exception base for the catalog; every message names the value and the fix."""
from __future__ import annotations


class CatalogError(Exception):
    """Base of every error raised by :mod:`catalog`."""


class TaxonomyError(CatalogError, ValueError):
    """An unknown scene or event id, or a malformed taxonomy file."""

    def __init__(self, message: str, *, value: object = None) -> None:
        super().__init__(message)
        self.value = value


class HeadFormatError(CatalogError, ValueError):
    """A head artifact that is not a linear head in the expected ONNX layout."""
