"""ArtifactStore: content addressing, atomic idempotent writes, verified reads, fsspec roots."""
from __future__ import annotations

import hashlib
import uuid
from pathlib import Path

import pytest

from catalog import ArtifactNotFoundError, ArtifactStore, InvalidDigestError, TamperedArtifactError


@pytest.fixture(params=["local", "file-url", "memory"])
def any_store(request: pytest.FixtureRequest, tmp_path: Path) -> ArtifactStore:
    """The same behaviour on a plain folder, a file:// URL and an in-memory fsspec filesystem."""
    return {
        "local": lambda: ArtifactStore(tmp_path / "store"),
        "file-url": lambda: ArtifactStore(f"file://{tmp_path / 'store'}"),
        "memory": lambda: ArtifactStore(f"memory://store-{uuid.uuid4().hex}", cache_dir=tmp_path / "cache"),
    }[request.param]()


def _flip_first_byte(store: ArtifactStore, sha: str) -> None:
    loc = store.location(sha)
    with store._fs.open(loc, "rb") as fh:
        data = bytearray(fh.read())
    data[0] ^= 0xFF
    with store._fs.open(loc, "wb") as fh:
        fh.write(bytes(data))


def test_put_get_round_trip_and_idempotence(any_store: ArtifactStore) -> None:
    data = b"\x00model bytes\xff" * 100
    sha = any_store.put_bytes(data, suffix=".onnx")
    assert sha == hashlib.sha256(data).hexdigest()
    assert any_store.exists(sha)
    assert any_store.get_bytes(sha) == data
    assert any_store.put_bytes(data) == sha  # same content, no second object
    assert any_store.location(sha).endswith(f"{sha}.onnx")


def test_put_file_streams_and_keeps_suffix(any_store: ArtifactStore, tmp_path: Path) -> None:
    src = tmp_path / "model.onnx"
    src.write_bytes(b"abc" * 1000)
    sha = any_store.put_file(src)
    assert sha == hashlib.sha256(src.read_bytes()).hexdigest()
    assert any_store.location(sha).endswith(".onnx")
    assert any_store.local_path(sha).read_bytes() == src.read_bytes()


def test_tampered_artifact_is_refused(any_store: ArtifactStore) -> None:
    sha = any_store.put_bytes(b"original weights")
    _flip_first_byte(any_store, sha)
    with pytest.raises(TamperedArtifactError, match=f"artifact {sha} .* now hashes to") as info:
        any_store.get_bytes(sha)
    assert info.value.expected == sha and info.value.actual != sha
    with pytest.raises(TamperedArtifactError):
        any_store.local_path(sha)


def test_local_path_of_local_store_is_the_stored_file(tmp_path: Path) -> None:
    store = ArtifactStore(tmp_path / "s")
    sha = store.put_bytes(b"x", suffix=".onnx")
    assert store.local_path(sha) == Path(store.location(sha))
    assert not list((tmp_path / "s").rglob("*.tmp-*"))  # no temp files left behind


@pytest.mark.parametrize(
    ("sha", "error", "match"),
    [
        ("0" * 64, ArtifactNotFoundError, "is not in the store"),  # well-formed but absent
        ("../../etc/passwd", InvalidDigestError, "not a sha256 digest"),  # traversal attempt
        ("A" * 64, InvalidDigestError, "not a sha256 digest"),  # upper-case hex is not what put returns
        ("abc", InvalidDigestError, "64 lowercase hex"),  # too short
    ],
)
def test_bad_digests(any_store: ArtifactStore, sha: str, error: type[Exception], match: str) -> None:
    with pytest.raises(error, match=match):
        any_store.get_bytes(sha)


@pytest.mark.parametrize("suffix", ["/x", ".on nx", "../x", ".a.b.c.d"])  # path separators, spaces, too many parts
def test_bad_suffix_is_refused(any_store: ArtifactStore, suffix: str) -> None:
    with pytest.raises(InvalidDigestError, match="suffix"):
        any_store.put_bytes(b"x", suffix=suffix)


def test_put_bytes_refuses_text(any_store: ArtifactStore) -> None:
    with pytest.raises(TypeError, match="needs bytes, got str"):
        any_store.put_bytes("not bytes")  # type: ignore[arg-type]


def test_put_file_of_missing_path(any_store: ArtifactStore, tmp_path: Path) -> None:
    with pytest.raises(ArtifactNotFoundError, match="not a file"):
        any_store.put_file(tmp_path / "nope.onnx")
