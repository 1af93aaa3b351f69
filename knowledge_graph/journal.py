"""Every change the graph learns is a :class:`GraphChange`, kept in an append-only JSONL journal.

Appends are atomic at line granularity: each record is one ``write()`` of one complete line
on an ``O_APPEND`` descriptor (then ``fsync`` unless disabled), so concurrent appenders never
interleave and a crash can at worst leave a torn *last* line, which :meth:`ChangeJournal.read`
skips with a warning. Rewriting the whole file per change (temp + ``os.replace``) would be
O(journal) per feedback event; appending keeps one event well under a millisecond.

>>> import tempfile, pathlib
>>> j = ChangeJournal(pathlib.Path(tempfile.mkdtemp()) / "graph.jsonl", fsync=False)
>>> j.append(GraphChange("c1", 1, "confirmation", "cam-1", "2024-01-01T00:00:00+00:00", "ok", "none"))
>>> [c.change_id for c in j.read()]
['c1']
"""
from __future__ import annotations

import json
import logging
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from knowledge_graph.errors import KnowledgeGraphError

log = logging.getLogger(__name__)

CHANGE_KINDS = ("camera_registered", "camera_removed", "rejection", "confirmation", "miss_added", "miss_covered",
                "algorithm_added", "event_type_added", "scene_revised", "undo")
GRAPH_WIDE = ""  # camera_id of a change to the ontology itself (an algorithm or event type added)


@dataclass(frozen=True, slots=True)
class GraphChange:
    """One recorded change: what, on which camera/algorithm, why, and its effect.

    ``reference_id`` is the alert id (verdicts), miss id (misses) or undone change id (undo).
    ``data`` carries what undo needs (e.g. the camera record before re-registration).
    """

    change_id: str
    seq: int
    kind: str
    camera_id: str
    recorded_at: str  # ISO-8601 UTC
    reason: str
    effect: str
    algorithm_id: str | None = None
    event_type: str | None = None
    reference_id: str | None = None
    data: dict[str, Any] = field(default_factory=dict)

    def __str__(self) -> str:
        target = self.algorithm_id or self.event_type or ""
        return f"{self.change_id} {self.kind} camera={self.camera_id} {target} ({self.effect})"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "GraphChange":
        if d.get("kind") not in CHANGE_KINDS:
            raise KnowledgeGraphError(f"journal record has kind {d.get('kind')!r}; expected one of {CHANGE_KINDS}")
        return cls(**{k: d.get(k) for k in cls.__dataclass_fields__ if k in d})


class ChangeJournal:
    """Append-only JSONL file of :class:`GraphChange` records."""

    def __init__(self, path: str | Path, *, fsync: bool = True) -> None:
        self.path = Path(path)
        self.fsync = fsync
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._fd: int | None = None

    def append(self, change: GraphChange) -> None:
        line = (json.dumps(change.to_dict(), separators=(",", ":"), sort_keys=True) + "\n").encode("utf-8")
        if self._fd is None:
            self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        n = os.write(self._fd, line)
        if n != len(line):  # a short write on a regular file means a full disk
            raise KnowledgeGraphError(f"journal {self.path}: wrote {n} of {len(line)} bytes of change {change.change_id}; free disk space")
        if self.fsync:
            os.fsync(self._fd)

    def read(self) -> list[GraphChange]:
        if not self.path.exists():
            return []
        out: list[GraphChange] = []
        lines = self.path.read_bytes().split(b"\n")
        for i, raw in enumerate(lines):
            if not raw.strip():
                continue
            try:
                out.append(GraphChange.from_dict(json.loads(raw)))
            except (ValueError, TypeError) as exc:
                if i >= len(lines) - 2:  # torn last line from a crash mid-append
                    log.warning("journal %s: skipping torn last line %d (%s)", self.path, i + 1, exc)
                    continue
                raise KnowledgeGraphError(f"journal {self.path} line {i + 1} is corrupt ({exc}); restore it from a backup "
                                          "or truncate the file before that line") from exc
        return out

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def __del__(self) -> None:  # best effort; CityGraph.close() is the clean path
        try:
            self.close()
        except Exception:
            pass
