"""A labeled dataset version for one algorithm: embeddings, binary labels, sample ids, split.

Stored as one ``.npz`` artifact in the content-addressed store, so a dataset version is
immutable and its hash is its identity; the catalog records its lineage.
"""
from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np

from warehouse.errors import InvalidInputError

TRAIN, HELDOUT, MISTAKE_HELDOUT = 0, 1, 2
SPLIT_NAMES = {TRAIN: "train", HELDOUT: "heldout", MISTAKE_HELDOUT: "mistake_heldout"}


@dataclass(frozen=True, slots=True)
class LabeledDataset:
    embeddings: np.ndarray  # [N, D] float32
    labels: np.ndarray  # [N] int8 (1 = event present)
    sample_ids: tuple[str, ...]
    split: np.ndarray  # [N] int8: TRAIN, HELDOUT (fixed per algorithm) or MISTAKE_HELDOUT (mined, never trained on)

    def __post_init__(self) -> None:
        n = len(self.sample_ids)
        if self.embeddings.ndim != 2 or self.embeddings.shape[0] != n or self.labels.shape != (n,) or self.split.shape != (n,):
            raise InvalidInputError(
                f"dataset arrays disagree: embeddings {self.embeddings.shape}, labels {self.labels.shape}, "
                f"split {self.split.shape}, {n} sample ids; all must have N rows"
            )
        if len(set(self.sample_ids)) != n:
            raise InvalidInputError("dataset has duplicate sample ids; each sample must appear once")

    def part(self, which: int) -> tuple[np.ndarray, np.ndarray]:
        m = self.split == which
        return self.embeddings[m], self.labels[m]

    def extended(self, embeddings: np.ndarray, labels: np.ndarray, sample_ids: list[str], *,
                 split: int | np.ndarray = TRAIN) -> "LabeledDataset":
        """A new version with extra samples (ids already present are skipped: a sample's split never changes)."""
        have = set(self.sample_ids)
        keep = [i for i, s in enumerate(sample_ids) if s not in have]
        if not keep:
            return self
        sp = np.full(len(sample_ids), split, np.int8) if np.isscalar(split) else np.asarray(split, np.int8)
        return LabeledDataset(
            np.concatenate([self.embeddings.reshape(len(self.sample_ids), -1) if len(self.sample_ids) else
                            np.zeros((0, np.asarray(embeddings).shape[1]), np.float32), np.asarray(embeddings, np.float32)[keep]]),
            np.concatenate([self.labels, np.asarray(labels, np.int8)[keep]]),
            self.sample_ids + tuple(sample_ids[i] for i in keep),
            np.concatenate([self.split, sp[keep]]),
        )

    def diff(self, newer: "LabeledDataset") -> dict:
        """Samples added and removed, label and split changes from ``self`` to ``newer``."""
        old = {s: (int(y), int(p)) for s, y, p in zip(self.sample_ids, self.labels, self.split)}
        new = {s: (int(y), int(p)) for s, y, p in zip(newer.sample_ids, newer.labels, newer.split)}
        both = [s for s in new if s in old]
        return {"added": [s for s in new if s not in old], "removed": [s for s in old if s not in new],
                "label_changes": [{"sample_id": s, "from": old[s][0], "to": new[s][0]} for s in both if old[s][0] != new[s][0]],
                "split_changes": [{"sample_id": s, "from": SPLIT_NAMES[old[s][1]], "to": SPLIT_NAMES[new[s][1]]}
                                  for s in both if old[s][1] != new[s][1]]}

    def to_bytes(self) -> bytes:
        buf = io.BytesIO()
        np.savez_compressed(buf, embeddings=self.embeddings.astype(np.float32), labels=self.labels.astype(np.int8),
                            sample_ids=np.array(self.sample_ids, dtype=object).astype(str), split=self.split.astype(np.int8))
        return buf.getvalue()

    @classmethod
    def from_bytes(cls, blob: bytes) -> "LabeledDataset":
        with np.load(io.BytesIO(blob), allow_pickle=False) as z:
            return cls(z["embeddings"], z["labels"], tuple(str(s) for s in z["sample_ids"]), z["split"])

    def stats(self) -> dict:
        return {"samples": len(self.sample_ids), "train": int((self.split == TRAIN).sum()),
                "heldout": int((self.split == HELDOUT).sum()), "mistake_heldout": int((self.split == MISTAKE_HELDOUT).sum()),
                "positives": int(self.labels.sum())}
