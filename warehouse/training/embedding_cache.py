"""A content-keyed cache of backbone embeddings: ``<cache_dir>/embeddings/<key>.npz``.

Embedding frames is the dominant cost of training heads, so each chunk of embedded frames is
stored under a key derived from everything that determines its content: the backbone
weights, and either the frame bytes themselves (:meth:`EmbeddingCache.key_for_images`) or
a recipe that renders them deterministically plus the generator's code fingerprint
(:meth:`EmbeddingCache.key_for_recipe`). Writes are atomic (temp file + ``os.replace``), so
concurrent builders never see half a file; a corrupt file counts as a miss.

>>> cache = EmbeddingCache("var/cache")                                   # doctest: +SKIP
>>> key = cache.key_for_recipe(backbone_sha="ab12", recipe={"scene": "road", "seeds": [1, 2]})  # doctest: +SKIP
>>> cache.load(key) is None                                              # doctest: +SKIP
True
"""
from __future__ import annotations

import hashlib
import io
import json
import logging
import os
import tempfile
import zipfile
from pathlib import Path
from typing import Any, Sequence

import numpy as np

log = logging.getLogger(__name__)


class EmbeddingCache:
    """Load/save named arrays by key; counts hits and misses for reports."""

    def __init__(self, cache_dir: str | Path) -> None:
        self.root = Path(cache_dir) / "embeddings"
        self.hits = 0
        self.misses = 0

    @staticmethod
    def key_for_recipe(*, backbone_sha: str, recipe: Any) -> str:
        """Key for frames rendered from a JSON-able ``recipe`` (include the generator fingerprint in it)."""
        blob = json.dumps({"backbone": backbone_sha, "recipe": recipe}, sort_keys=True, separators=(",", ":"))
        return "r-" + hashlib.sha256(blob.encode()).hexdigest()[:40]

    @staticmethod
    def key_for_images(*, backbone_sha: str, images: Sequence[np.ndarray]) -> str:
        """Key for arbitrary frames: a hash of their shapes and bytes."""
        h = hashlib.sha256(backbone_sha.encode())
        for im in images:
            h.update(repr((im.shape, str(im.dtype))).encode())
            h.update(np.ascontiguousarray(im).data)
        return "i-" + h.hexdigest()[:40]

    def path(self, key: str) -> Path:
        return self.root / f"{key}.npz"

    def load(self, key: str) -> dict[str, np.ndarray] | None:
        p = self.path(key)
        try:
            with np.load(p, allow_pickle=False) as z:
                arrays = {k: z[k] for k in z.files}
        except FileNotFoundError:
            self.misses += 1
            return None
        except (OSError, ValueError, zipfile.BadZipFile) as exc:
            log.warning("embedding cache entry %s unreadable (%s); recomputing", p, exc)
            self.misses += 1
            return None
        self.hits += 1
        return arrays

    def save(self, key: str, **arrays: np.ndarray) -> Path:
        self.root.mkdir(parents=True, exist_ok=True)
        buf = io.BytesIO()
        np.savez(buf, **arrays)
        fd, tmp = tempfile.mkstemp(dir=self.root, prefix=f".{key}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(buf.getvalue())
            os.replace(tmp, self.path(key))
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return self.path(key)

    @property
    def hit_rate(self) -> float:
        total = self.hits + self.misses
        return self.hits / total if total else 0.0
