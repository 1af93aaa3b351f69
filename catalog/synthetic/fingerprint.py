"""A fingerprint of the generator's code, for content-keyed caches of rendered data.

Any edit to a painter changes the pixels; hashing the sources makes a cache keyed on
(fingerprint, recipe) safe without anyone remembering to bump a version.
"""
from __future__ import annotations

import functools
import hashlib
from pathlib import Path

GENERATOR_VERSION = 1


@functools.lru_cache(maxsize=1)
def generator_fingerprint() -> str:
    """sha256 (hex, 16 chars) over GENERATOR_VERSION and every module of this package."""
    h = hashlib.sha256(f"v{GENERATOR_VERSION}".encode())
    for p in sorted(Path(__file__).parent.glob("*.py")):
        h.update(p.name.encode())
        h.update(p.read_bytes())
    return h.hexdigest()[:16]
