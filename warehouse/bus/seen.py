"""Where a consumer group remembers the event ids it has processed (durable or not).

A redelivery after a crash is recognised only if the store survives the crash: use
:class:`SqlSeenStore` (SQLite or PostgreSQL) in production; :class:`MemorySeenStore` is
for tests and the demo.
"""
from __future__ import annotations

import collections
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any, Protocol

__all__ = ["SeenStore", "MemorySeenStore", "SqliteSeenStore", "SqlSeenStore"]


class SeenStore(Protocol):
    """Remembers which event ids a consumer group has already handled."""

    def seen(self, event_id: str) -> bool: ...

    def add(self, event_id: str) -> None: ...


class MemorySeenStore:
    """In-process store of the last ``max_ids`` ids (lost on restart: duplicates across a
    restart are then handled again; use :class:`SqlSeenStore` to survive one)."""

    def __init__(self, max_ids: int = 100_000) -> None:
        self._ids: collections.OrderedDict[str, None] = collections.OrderedDict()
        self._max = max_ids

    def seen(self, event_id: str) -> bool:
        return event_id in self._ids

    def add(self, event_id: str) -> None:
        self._ids[event_id] = None
        if len(self._ids) > self._max:
            self._ids.popitem(last=False)


class SqliteSeenStore:
    """Durable store of the last ``max_ids`` handled ids per ``scope`` in a SQLite file."""

    def __init__(self, path: str | Path, *, scope: str = "default", max_ids: int = 100_000) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._scope = scope
        self._max = max_ids
        self._lock = threading.Lock()
        self._adds = 0
        self._conn = sqlite3.connect(str(self.path), timeout=30, isolation_level=None, check_same_thread=False)
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA synchronous=NORMAL")  # survives process crashes; an id lost to power loss only means one re-handle
        self._conn.execute(
            "CREATE TABLE IF NOT EXISTS seen(scope TEXT NOT NULL, event_id TEXT NOT NULL, n INTEGER NOT NULL, "
            "PRIMARY KEY (scope, event_id))"
        )
        self._conn.execute("CREATE INDEX IF NOT EXISTS seen_n ON seen(scope, n)")

    def seen(self, event_id: str) -> bool:
        with self._lock:
            row = self._conn.execute("SELECT 1 FROM seen WHERE scope=? AND event_id=?", (self._scope, event_id)).fetchone()
        return row is not None

    def add(self, event_id: str) -> None:
        with self._lock:
            self._conn.execute(
                "INSERT OR IGNORE INTO seen(scope, event_id, n) "
                "VALUES (?, ?, (SELECT COALESCE(MAX(n) + 1, 0) FROM seen WHERE scope=?))",
                (self._scope, event_id, self._scope),
            )
            self._adds += 1
            if self._adds % 1000 == 0:  # prune now and then, not on every add
                self._conn.execute(
                    "DELETE FROM seen WHERE scope=? AND n < (SELECT MAX(n) FROM seen WHERE scope=?) - ?",
                    (self._scope, self._scope, self._max),
                )

    def close(self) -> None:
        with self._lock:
            self._conn.close()


class SqlSeenStore:
    """Durable handled ids per ``scope`` in any SQLAlchemy database (SQLite or PostgreSQL).

    Example::

        seen = SqlSeenStore("postgresql+psycopg://u:pw@db/warehouse", scope="ops-alert-sink")

    Ids older than the newest ``max_ids`` of the scope are pruned now and then; a redelivery
    is always recent (it comes from the last uncommitted batch), so that is plenty.
    """

    def __init__(self, url_or_engine: Any, *, scope: str = "default", max_ids: int = 1_000_000, prune_every: int = 5000) -> None:
        import sqlalchemy as sa

        self._sa = sa
        if isinstance(url_or_engine, str):
            sqlite = url_or_engine.startswith("sqlite")
            self._engine = sa.create_engine(url_or_engine, pool_pre_ping=True,
                                            connect_args={"timeout": 30} if sqlite else {})  # fmt: skip
            if sqlite:
                # WAL + synchronous=NORMAL: survives a process crash (what redelivery is about)
                # without an fsync per processed record
                @sa.event.listens_for(self._engine, "connect")
                def _pragmas(dbapi_conn, _record) -> None:  # pragma: no cover - trivial
                    cur = dbapi_conn.cursor()
                    cur.execute("PRAGMA journal_mode=WAL")
                    cur.execute("PRAGMA synchronous=NORMAL")
                    cur.close()
        else:
            self._engine = url_or_engine
        self._owns_engine = isinstance(url_or_engine, str)
        self._scope, self._max, self._adds, self._prune_every = scope, max_ids, 0, max(1, prune_every)
        meta = sa.MetaData()
        self._table = sa.Table(
            "bus_seen_events", meta,
            sa.Column("scope", sa.String(200), primary_key=True),
            sa.Column("event_id", sa.String(200), primary_key=True),
            sa.Column("n", sa.BigInteger, nullable=False, index=True),
        )  # fmt: skip
        meta.create_all(self._engine, checkfirst=True)

    def seen(self, event_id: str) -> bool:
        t = self._table
        with self._engine.connect() as conn:
            row = conn.execute(self._sa.select(t.c.event_id).where(t.c.scope == self._scope, t.c.event_id == event_id)).first()
        return row is not None

    def add(self, event_id: str) -> None:
        sa, t = self._sa, self._table
        with self._engine.begin() as conn:
            if self._engine.dialect.name == "postgresql":
                from sqlalchemy.dialects.postgresql import insert
            else:
                from sqlalchemy.dialects.sqlite import insert
            # n orders ids for pruning; wall-clock nanoseconds are unique enough and need no lock
            n = time.time_ns()
            conn.execute(insert(t).values(scope=self._scope, event_id=event_id, n=n).on_conflict_do_nothing())
            self._adds += 1
            if self._adds % self._prune_every == 0:
                cutoff = sa.select(t.c.n).where(t.c.scope == self._scope).order_by(t.c.n.desc()).offset(self._max).limit(1)
                edge = conn.execute(cutoff).scalar()
                if edge is not None:
                    conn.execute(t.delete().where(t.c.scope == self._scope, t.c.n <= edge))

    def close(self) -> None:
        if self._owns_engine:
            self._engine.dispose()
