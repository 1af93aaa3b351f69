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


class InvalidSpecError(CatalogError, ValueError):
    """An :class:`~catalog.AlgorithmSpec`, version or lineage record that fails validation."""

    def __init__(self, message: str, *, value: object = None) -> None:
        super().__init__(message)
        self.value = value


class _KeyLookupError(CatalogError, KeyError):
    """KeyError whose ``str()`` is the message itself, not its ``repr``."""

    def __init__(self, message: str, *, value: object = None) -> None:
        super().__init__(message)
        self.message = message
        self.value = value

    def __str__(self) -> str:
        return self.message


class UnknownAlgorithmError(_KeyLookupError):
    """No algorithm with that id; the message lists close ids."""


class UnknownVersionError(_KeyLookupError):
    """The algorithm exists but has no version with that number."""


class UnknownRecordError(_KeyLookupError):
    """An unknown lineage id (mining job, dataset version, training run)."""


class DuplicateError(CatalogError, ValueError):
    """Something with that identity exists already with different content."""

    def __init__(self, message: str, *, value: object = None) -> None:
        super().__init__(message)
        self.value = value


class DuplicateVersionError(DuplicateError):
    """A manifest names a version number (or artifact) that is already registered."""


class StageTransitionError(CatalogError, ValueError):
    """A lifecycle move that is not allowed (e.g. promoting a retired version to canary)."""

    def __init__(self, message: str, *, value: object = None) -> None:
        super().__init__(message)
        self.value = value


class InvalidDigestError(CatalogError, ValueError):
    """A string that is not a lowercase sha256 hex digest (64 characters)."""

    def __init__(self, message: str, *, value: object = None) -> None:
        super().__init__(message)
        self.value = value


class ArtifactNotFoundError(CatalogError, FileNotFoundError):
    """No artifact with that sha256 in the store."""

    def __init__(self, message: str, *, value: object = None) -> None:
        super().__init__(message)
        self.value = value

    def __str__(self) -> str:
        return str(self.args[0])


class TamperedArtifactError(CatalogError, ValueError):
    """The stored bytes no longer hash to the sha256 they were stored under."""

    def __init__(self, message: str, *, expected: str = "", actual: str = "", location: str = "") -> None:
        super().__init__(message)
        self.expected = expected
        self.actual = actual
        self.location = location


class ManifestError(CatalogError, ValueError):
    """Base of every manifest-import failure; the catalog is unchanged when it is raised."""

    def __init__(self, message: str, *, value: object = None) -> None:
        super().__init__(message)
        self.value = value


class ManifestSchemaError(ManifestError):
    """The YAML is not a mapping of the manifest fields (missing, extra or mistyped fields)."""


class ArtifactPathError(ManifestError):
    """The artifact path is absolute, escapes the manifest's folder, or does not exist."""


class ModelLoadError(ManifestError):
    """ONNX Runtime (CPU) cannot load the model, or it fails on a zero input."""


class ModelSignatureError(ManifestError):
    """Declared inputs/outputs (names, shapes, dtypes) differ from the model's."""


class LabelCountError(ManifestError):
    """The number of labels differs from the scores output's last dimension."""


class PreprocessError(ManifestError):
    """Preprocessing does not fit the image input (resize, channels, mean/std, layout)."""


class CatalogConnectionError(CatalogError, ConnectionError):
    """The catalog database URL is malformed, of an unsupported backend, or unreachable."""


class UnsafeInputError(CatalogError, ValueError):
    """A YAML/JSON document over the limits (size, nesting depth, alias expansion) or not parseable."""

    def __init__(self, message: str, *, value: object = None) -> None:
        super().__init__(message)
        self.value = value


class ArtifactWriteError(CatalogError, OSError):
    """The artifact store could not write (disk full, read-only, permissions); nothing partial was left."""

    def __init__(self, message: str, *, value: object = None) -> None:
        super().__init__(message)
        self.value = value

    def __str__(self) -> str:
        return str(self.args[0])


class CatalogUnavailableError(CatalogConnectionError):
    """The database went away during a call (restart, failover); retryable: nothing half-written."""

    retryable = True
