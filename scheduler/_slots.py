"""Per-camera plan outputs shared between the plans of an incremental chain (internal).

A city-sized plan keeps one compact output per camera slot (``planner.camera_output``).
Copying that list for every incremental re-plan costs a pass over 100,000 slots and, worse,
hands the garbage collector a young 100,000-item container to traverse. ``Slots`` holds the
outputs in fixed-size chunks instead: a new plan copies the (short) list of chunks and only
the chunks it writes to, so the old plan keeps its own rows and the new one costs what
changed.

>>> a = Slots.of([1, 2, 3])
>>> b = a.edit(); b[1] = 20; b.append(4)
>>> list(a), list(b), len(b), b[3]
([1, 2, 3], [1, 20, 3, 4], 4, 4)
"""
from __future__ import annotations

from collections.abc import Iterable, Iterator

CHUNK = 512


class Slots:
    """A sequence of slot outputs, in chunks of ``CHUNK``; ``edit()`` gives a copy to write."""

    __slots__ = ("_chunks", "_n", "_own")

    def __init__(self, chunks: list[list], n: int) -> None:
        self._chunks = chunks
        self._n = n
        self._own: set[int] = set()  # chunks this copy may write in place

    @classmethod
    def of(cls, items: Iterable) -> Slots:
        flat = list(items)
        return cls([flat[i:i + CHUNK] for i in range(0, len(flat), CHUNK)], len(flat))

    def edit(self) -> Slots:
        """A copy sharing every chunk; a chunk is copied on its first write (by either side)."""
        self._own = set()
        return Slots(list(self._chunks), self._n)

    def __len__(self) -> int:
        return self._n

    def __getitem__(self, i: int):
        if not 0 <= i < self._n:
            raise IndexError(i)
        return self._chunks[i // CHUNK][i % CHUNK]

    def __setitem__(self, i: int, value) -> None:
        if not 0 <= i < self._n:
            raise IndexError(i)
        k = i // CHUNK
        if k not in self._own:
            self._chunks[k] = list(self._chunks[k])
            self._own.add(k)
        self._chunks[k][i % CHUNK] = value

    def append(self, value) -> None:
        k = self._n // CHUNK
        if k == len(self._chunks):
            self._chunks.append([])
            self._own.add(k)
        elif k not in self._own:
            self._chunks[k] = list(self._chunks[k])
            self._own.add(k)
        self._chunks[k].append(value)
        self._n += 1

    def __iter__(self) -> Iterator:
        for chunk in self._chunks:
            yield from chunk
