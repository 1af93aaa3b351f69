"""Content-addressed artifact store: bytes are kept under their sha256 and checked on every load.

The root is a local folder or any fsspec URL (``memory://``, ``file://``, ``s3://`` ...).
Layout: ``<root>/sha256/<first two hex>/<sha256><suffix>``.

>>> store = ArtifactStore("memory://doctest-store")
>>> sha = store.put_bytes(b"weights", suffix=".onnx")
>>> store.get_bytes(sha)
b'weights'
>>> store.put_bytes(b"weights") == sha  # idempotent
True
>>> store.delete(sha), store.exists(sha)
(True, False)
"""
from __future__ import annotations

import errno
import hashlib
import logging
import os
import re
import tempfile
import uuid
from pathlib import Path

import fsspec

from catalog.errors import ArtifactNotFoundError, ArtifactWriteError, InvalidDigestError, TamperedArtifactError

log = logging.getLogger(__name__)

_SHA256 = re.compile(r"[0-9a-f]{64}")
_SUFFIX = re.compile(r"(\.[A-Za-z0-9_-]{1,16}){0,3}")
_CHUNK = 1 << 20


def check_sha256(sha: object) -> str:
    """Return ``sha`` if it is a lowercase 64-character hex digest, else raise :class:`InvalidDigestError`."""
    if not isinstance(sha, str) or not _SHA256.fullmatch(sha):
        raise InvalidDigestError(
            f"{sha!r} is not a sha256 digest; expected 64 lowercase hex characters as returned by ArtifactStore.put_bytes",
            value=sha,
        )
    return sha


def _check_suffix(suffix: str) -> str:
    if not isinstance(suffix, str) or not _SUFFIX.fullmatch(suffix):
        raise InvalidDigestError(
            f"artifact suffix {suffix!r} is not allowed; use '' or a short extension such as '.onnx'", value=suffix
        )
    return suffix


class ArtifactStore:
    """A content-addressed store of immutable artifacts (model files, dataset manifests).

    Writes are atomic (temporary file, then rename); reads re-hash the bytes and raise
    :class:`~catalog.TamperedArtifactError` when they no longer match.
    """

    def __init__(self, root: str | Path, *, cache_dir: str | Path | None = None) -> None:
        root_str = str(root)
        self._fs, path = fsspec.core.url_to_fs(root_str)
        self._local = "file" in _protocols(self._fs)
        if self._local:
            path = str(Path(path).resolve())
        self._root = path.rstrip("/") or "/"
        self.url = root_str
        self._cache_dir = Path(cache_dir) if cache_dir is not None else None
        self._fs.makedirs(self._root, exist_ok=True)

    def __repr__(self) -> str:
        return f"ArtifactStore({self.url!r})"

    # -- paths -----------------------------------------------------------------------------
    def _dir(self, sha: str) -> str:
        return f"{self._root}/sha256/{sha[:2]}"

    def _locate(self, sha: str) -> str | None:
        """Path of the stored object for ``sha`` (any suffix), or None."""
        d = self._dir(sha)
        exact = f"{d}/{sha}"
        if self._fs.exists(exact):
            return exact
        try:
            names = self._fs.ls(d, detail=False)
        except FileNotFoundError:
            return None
        for name in sorted(names):
            base = name.rstrip("/").rsplit("/", 1)[-1]
            if base.startswith(sha) and ".tmp-" not in base:
                return name
        return None

    def location(self, sha: str) -> str:
        """Where the object is stored (unverified; for diagnostics and tests)."""
        found = self._locate(check_sha256(sha))
        if found is None:
            raise self._missing(sha)
        return found

    def _missing(self, sha: str) -> ArtifactNotFoundError:
        return ArtifactNotFoundError(
            f"artifact {sha} is not in the store {self.url!r}; put it first (ArtifactStore.put_bytes / put_file) "
            "or open the store the catalog was written with",
            value=sha,
        )

    # -- writes ----------------------------------------------------------------------------
    def put_bytes(self, data: bytes, *, suffix: str = "") -> str:
        """Store ``data`` and return its sha256 hex digest.

        A no-op if the artifact is stored and intact; if the stored file no longer hashes to
        its name (tampered, truncated), it is replaced atomically by ``data``: putting the
        right bytes again repairs it. Raises :class:`~catalog.ArtifactWriteError` (an
        ``OSError``) when the store cannot write, leaving no partial file behind.
        """
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise TypeError(f"put_bytes needs bytes, got {type(data).__name__}; read the file or use put_file")
        _check_suffix(suffix)
        sha = hashlib.sha256(data).hexdigest()
        found = self._locate(sha)
        if found is not None and self._intact(sha, found):
            return sha
        target = found or f"{self._dir(sha)}/{sha}{suffix}"
        tmp = f"{target}.tmp-{uuid.uuid4().hex}"
        try:
            self._fs.makedirs(self._dir(sha), exist_ok=True)
            if self._local:
                with open(tmp, "wb") as fh:
                    fh.write(data)
                    fh.flush()
                    os.fsync(fh.fileno())
                os.replace(tmp, target)
            else:
                with self._fs.open(tmp, "wb") as fh:
                    fh.write(bytes(data))
                self._fs.mv(tmp, target)
        except OSError as exc:
            self._discard_tmp(tmp)
            raise self._write_failed(sha, target, exc) from exc
        if found is not None:
            log.warning("repaired artifact %s at %s (the stored file failed verification)", sha, target)
        log.debug("stored artifact %s (%d bytes) at %s", sha, len(data), target)
        return sha

    def put_file(self, path: str | Path, *, suffix: str | None = None) -> str:
        """Store a local file (streamed, hashed while copied); the suffix defaults to the file's own.

        Like :meth:`put_bytes`, a stored copy that fails verification is replaced.
        """
        p = Path(path)
        if not p.is_file():
            raise ArtifactNotFoundError(f"cannot store {str(p)!r}: not a file; pass the path of an existing file", value=str(p))
        suffix = p.suffix if suffix is None else _check_suffix(suffix)
        if not _SUFFIX.fullmatch(suffix):
            suffix = ""
        staging = f"{self._root}/tmp"
        tmp = f"{staging}/{uuid.uuid4().hex}.tmp-upload"
        h = hashlib.sha256()
        sha = "?"
        target = tmp
        try:
            self._fs.makedirs(staging, exist_ok=True)
            with open(p, "rb") as src, self._fs.open(tmp, "wb") as dst:
                for chunk in iter(lambda: src.read(_CHUNK), b""):
                    h.update(chunk)
                    dst.write(chunk)
                if self._local:
                    dst.flush()
                    os.fsync(dst.fileno())
            sha = h.hexdigest()
            found = self._locate(sha)
            if found is None or not self._intact(sha, found):
                self._fs.makedirs(self._dir(sha), exist_ok=True)
                target = found or f"{self._dir(sha)}/{sha}{suffix}"
                if self._local:
                    os.replace(tmp, target)
                else:
                    self._fs.mv(tmp, target)
                log.debug("stored artifact %s from %s at %s%s", sha, p, target, " (repaired)" if found else "")
        except OSError as exc:
            raise self._write_failed(sha, target, exc) from exc
        finally:
            self._discard_tmp(tmp)
        return sha

    def delete(self, sha: str) -> bool:
        """Remove the stored object for ``sha``; False if there was none.

        For undoing a write that nothing refers to (a refused import); the catalog never
        deletes an artifact a version points at.
        """
        found = self._locate(check_sha256(sha))
        if found is None:
            return False
        self._fs.rm(found)
        log.info("deleted artifact %s at %s", sha, found)
        return True

    def _intact(self, sha: str, location: str) -> bool:
        try:
            self._verify_file(sha, location)
        except TamperedArtifactError:
            return False
        return True

    def _discard_tmp(self, tmp: str) -> None:
        try:
            if self._fs.exists(tmp):
                self._fs.rm(tmp)
        except OSError:  # the store is failing; the temp name is never read as an artifact
            log.warning("could not remove temporary file %s", tmp)

    def _write_failed(self, sha: str, target: str, exc: OSError) -> ArtifactWriteError:
        why = "the disk is full" if exc.errno == errno.ENOSPC else (exc.strerror or str(exc))
        return ArtifactWriteError(
            f"could not write artifact {sha} to {target!r} in store {self.url!r}: {why}; nothing was stored. "
            "Free space or point WAREHOUSE_ARTIFACT_URL at a store that can take it, then try again",
            value=sha,
        )

    # -- reads -----------------------------------------------------------------------------
    def exists(self, sha: str) -> bool:
        """True if an object is stored under ``sha`` (does not re-hash it)."""
        return self._locate(check_sha256(sha)) is not None

    def get_bytes(self, sha: str) -> bytes:
        """The stored bytes, re-hashed on every call."""
        found = self._locate(check_sha256(sha))
        if found is None:
            raise self._missing(sha)
        with self._fs.open(found, "rb") as fh:
            data = fh.read()
        actual = hashlib.sha256(data).hexdigest()
        if actual != sha:
            raise self._tampered(sha, actual, found)
        return data

    def local_path(self, sha: str) -> Path:
        """A verified local file with the artifact's bytes (for engines that need a path).

        Local stores return the stored file itself; remote stores copy it into a cache folder.
        """
        found = self._locate(check_sha256(sha))
        if found is None:
            raise self._missing(sha)
        if self._local:
            self._verify_file(sha, found)
            return Path(found)
        cache = self._cache_dir or Path(tempfile.gettempdir()) / "warehouse-artifact-cache"
        cache.mkdir(parents=True, exist_ok=True)
        target = cache / found.rsplit("/", 1)[-1]
        if not target.exists() or _sha256_file(target) != sha:
            data = self.get_bytes(sha)
            tmp = target.with_name(f"{target.name}.tmp-{uuid.uuid4().hex}")
            tmp.write_bytes(data)
            os.replace(tmp, target)
        return target

    def _verify_file(self, sha: str, location: str) -> None:
        actual = _sha256_file(Path(location)) if self._local else hashlib.sha256(self._fs.cat_file(location)).hexdigest()
        if actual != sha:
            raise self._tampered(sha, actual, location)

    def _tampered(self, sha: str, actual: str, location: str) -> TamperedArtifactError:
        log.error("artifact %s at %s hashes to %s: refusing to load it", sha, location, actual)
        return TamperedArtifactError(
            f"artifact {sha} at {location!r} now hashes to {actual}: it was modified after it was stored; "
            "refusing to load it. Restore the original file (put it again) or re-import the version",
            expected=sha,
            actual=actual,
            location=location,
        )


def _sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(_CHUNK), b""):
            h.update(chunk)
    return h.hexdigest()


def _protocols(fs: fsspec.AbstractFileSystem) -> tuple[str, ...]:
    proto = fs.protocol
    return (proto,) if isinstance(proto, str) else tuple(proto)
