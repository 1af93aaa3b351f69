"""What changed between two tuples of records, in time proportional to what differs (internal).

``Instance.replace`` gets whole new tuples (100,000 cameras for one camera's change); it
finds the span that differs by comparing the shared start and end a chunk at a time in C,
and looks records up through a ``_Table`` (the base's id table plus the changes) instead of
building a new 100,000-entry dict per change.

>>> from scheduler.instance import WorkerSpec
>>> a, b, c = (WorkerSpec(i, "n", 1.0, 1.0) for i in "abc")
>>> table, changed, removed = changes("worker", WorkerSpec, (a, b), {"a": a, "b": b}, (a, c))
>>> changed, removed, table["c"] is c, "b" in table
(('c',), ('b',), True, False)
"""
from __future__ import annotations

from scheduler.errors import InstanceError


class _Table:
    """id -> record of an instance made by ``replace``: its base's table plus what changed
    (``None``: removed), so a change to one record of 100,000 builds no 100,000-entry dict.
    Flattened into a plain dict once the changes pile up."""

    __slots__ = ("root", "over")

    def __init__(self, root: dict, over: dict) -> None:
        self.root, self.over = root, over

    def get(self, key, default=None):
        if key in self.over:
            r = self.over[key]
            return default if r is None else r
        return self.root.get(key, default)

    def __getitem__(self, key):
        r = self.get(key)
        if r is None:
            raise KeyError(key)
        return r

    def __contains__(self, key) -> bool:
        return self.get(key) is not None


def _same_prefix(a: tuple, b: tuple, limit: int) -> int:
    """How many leading records ``a`` and ``b`` share (identical or equal), compared in C
    a chunk at a time."""
    i = 0
    while i < limit:
        j = min(limit, i + 1024)
        if a[i:j] == b[i:j]:
            i = j
            continue
        while a[i] is b[i] or a[i] == b[i]:
            i += 1
        return i
    return limit


def _same_suffix(a: tuple, b: tuple, limit: int) -> int:
    na, nb, i = len(a), len(b), 0
    while i < limit:
        j = min(limit, i + 1024)
        if a[na - j:na - i] == b[nb - j:nb - i]:
            i = j
            continue
        while a[na - 1 - i] is b[nb - 1 - i] or a[na - 1 - i] == b[nb - 1 - i]:
            i += 1
        return i
    return limit


def changes(noun: str, cls: type, old: tuple, old_table, new: tuple) -> tuple[object, tuple, tuple]:
    """(the new records' id table, ids added or changed, ids removed) from ``old`` to ``new``,
    with work proportional to the span that differs: the records both share at the start and
    at the end are skipped in C, only the middle is compared by id (and validated)."""
    n = min(len(old), len(new))
    p = _same_prefix(old, new, n)
    q = _same_suffix(old, new, n - p)
    old_mid, new_mid = old[p:len(old) - q], new[p:len(new) - q]
    old_ids = {r.id: r for r in old_mid}
    mid: dict = {}
    for r in new_mid:
        if not isinstance(r, cls):
            raise InstanceError(f"replace(): {noun}s holds {r!r}; expected {cls.__name__} records")
        if r.id in mid or (r.id in old_table and r.id not in old_ids):
            raise InstanceError(f"duplicate {noun} id {r.id!r}; each {noun} must appear once (rename or merge them)")
        mid[r.id] = r
    changed = tuple(k for k, v in mid.items() if (o := old_ids.get(k)) is not v and o != v)
    removed = tuple(k for k in old_ids if k not in mid)
    if isinstance(old_table, _Table):
        root, over = old_table.root, dict(old_table.over)
    else:
        root, over = old_table, {}
    over.update((k, mid[k]) for k in changed)
    over.update((k, None) for k in removed)
    table = _Table(root, over) if len(over) <= max(1024, len(root) // 16) else {r.id: r for r in new}
    return table, changed, removed
