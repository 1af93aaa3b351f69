"""The embedded event bus: a durable, partitioned log in one SQLite file (WAL mode).

The single-machine default (``sqlite:///var/bus.db``). Several processes may open the same
file: every append runs in its own ``BEGIN IMMEDIATE`` transaction, so offsets stay dense
and increasing per partition, and committed group offsets live in the same file.
"""
from __future__ import annotations

import itertools
import logging
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

from warehouse.bus._codec import (
    check_group,
    check_topic,
    decode_value,
    encode_value,
    now_ms,
    partition_for,
    raw_bytes,
    topic_list,
)
from warehouse.bus.api import DEFAULT_PARTITIONS, Record
from warehouse.bus.errors import BusError, BusUnavailableError

__all__ = ["SqliteBus", "SqliteConsumer"]

log = logging.getLogger(__name__)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta(k TEXT PRIMARY KEY, v TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS records(
    topic TEXT NOT NULL, part INTEGER NOT NULL, off INTEGER NOT NULL,
    key TEXT, value TEXT NOT NULL, ts_ms INTEGER NOT NULL,
    PRIMARY KEY (topic, part, off)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS commits(
    grp TEXT NOT NULL, topic TEXT NOT NULL, part INTEGER NOT NULL,
    next_off INTEGER NOT NULL, updated_ms INTEGER NOT NULL,
    PRIMARY KEY (grp, topic, part)) WITHOUT ROWID;
"""
_SYNCHRONOUS = ("OFF", "NORMAL", "FULL", "EXTRA")


def _connect(path: Path, synchronous: str, busy_timeout_s: float) -> sqlite3.Connection:
    try:
        conn = sqlite3.connect(str(path), timeout=busy_timeout_s, isolation_level=None, check_same_thread=False)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute(f"PRAGMA synchronous={synchronous}")
    except sqlite3.Error as exc:
        raise BusUnavailableError(
            f"cannot open the embedded bus at {path}: {exc}; check the folder exists and is writable, "
            "or point WAREHOUSE_BUS_URL at another sqlite:///path"
        ) from exc
    return conn


class SqliteBus:
    """Durable event log in SQLite, behind the :class:`~warehouse.bus.EventBus` protocol.

    Example::

        bus = SqliteBus("var/bus.db")
        bus.publish("alerts", {"event_id": "e1", "type": "alert", "ts_ms": 0}, key="cam-1")
        consumer = bus.consumer("alerts", group="console")
        records = consumer.poll(timeout_s=0.1)
        consumer.commit()

    ``partitions`` is fixed when the file is created (default 4) and read back afterwards.
    ``synchronous="NORMAL"`` survives process crashes; use ``"FULL"`` to survive power loss too.
    """

    def __init__(
        self,
        path: str | Path,
        *,
        partitions: int | None = None,
        topic_prefix: str = "",
        synchronous: str = "NORMAL",
        busy_timeout_s: float = 30.0,
    ) -> None:
        if synchronous.upper() not in _SYNCHRONOUS:
            raise BusError(f"synchronous={synchronous!r} is not a SQLite mode; expected one of {_SYNCHRONOUS}")
        if partitions is not None and (not isinstance(partitions, int) or partitions < 1):
            raise BusError(f"partitions={partitions!r}; expected an int >= 1")
        self.path = Path(path)
        self.topic_prefix = topic_prefix
        self._sync = synchronous.upper()
        self._busy_timeout_s = busy_timeout_s
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise BusUnavailableError(f"cannot create the folder of the embedded bus {self.path}: {exc}") from exc
        self._conn = _connect(self.path, self._sync, busy_timeout_s)
        self._lock = threading.Lock()
        self._round_robin = itertools.count()
        self._written = 0
        self._closed = False
        self.partitions = self._init_schema(partitions)
        log.debug("sqlite bus %s open (partitions=%d, prefix=%r)", self.path, self.partitions, topic_prefix)

    def _init_schema(self, partitions: int | None) -> int:
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                for stmt in filter(str.strip, _SCHEMA.split(";")):
                    self._conn.execute(stmt)
                row = self._conn.execute("SELECT v FROM meta WHERE k='partitions'").fetchone()
                if row is None:
                    stored = partitions or DEFAULT_PARTITIONS
                    self._conn.execute("INSERT INTO meta(k, v) VALUES ('partitions', ?)", (str(stored),))
                else:
                    stored = int(row[0])
                self._conn.execute("COMMIT")
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
        if partitions is not None and partitions != stored:
            raise BusError(
                f"{self.path} was created with {stored} partitions, got partitions={partitions}; "
                "omit partitions= to use the stored count or use a new file"
            )
        return stored

    def __repr__(self) -> str:
        return f"SqliteBus({str(self.path)!r}, partitions={self.partitions}, topic_prefix={self.topic_prefix!r})"

    def _check_open(self) -> None:
        if self._closed:
            raise BusError(f"{self!r} is closed; open a new SqliteBus")

    def publish(self, topic: str, value: dict[str, Any], *, key: str | None = None) -> None:
        """Append ``value`` to ``topic``; the write is committed when this returns."""
        self._append(topic, encode_value(value), key)

    def publish_raw(self, topic: str, data: bytes, *, key: str | None = None) -> None:
        """Append ``data`` as is (stored as a BLOB; consumers see exactly these bytes)."""
        if not isinstance(data, (bytes, bytearray)):
            raise BusError(f"publish_raw needs bytes, got {type(data).__name__}; use publish() for a dict")
        self._append(topic, bytes(data), key)

    def _append(self, topic: str, stored: str | bytes, key: str | None) -> None:
        self._check_open()
        physical = self.topic_prefix + check_topic(topic)
        if key is not None and not isinstance(key, str):
            raise BusError(f"key must be a str or None, got {type(key).__name__}: {key!r}")
        part = partition_for(key, self.partitions) if key is not None else next(self._round_robin) % self.partitions
        with self._lock:
            conn = self._conn
            try:
                conn.execute("BEGIN IMMEDIATE")
            except sqlite3.Error as exc:
                raise BusUnavailableError(f"cannot write to the embedded bus {self.path}: {exc}") from exc
            try:
                (off,) = conn.execute(
                    "SELECT COALESCE(MAX(off) + 1, 0) FROM records WHERE topic=? AND part=?", (physical, part)
                ).fetchone()
                conn.execute(
                    "INSERT INTO records(topic, part, off, key, value, ts_ms) VALUES (?, ?, ?, ?, ?, ?)",
                    (physical, part, off, key, stored, now_ms()),
                )
                conn.execute("COMMIT")
            except BaseException as exc:
                conn.execute("ROLLBACK")
                if isinstance(exc, sqlite3.OperationalError):
                    raise BusUnavailableError(f"cannot write to the embedded bus {self.path}: {exc}") from exc
                raise
            self._written += 1

    def flush(self, timeout_s: float = 10) -> int:
        """Nothing to wait for: each publish is already committed. Returns the records written since the last flush."""
        self._check_open()
        with self._lock:
            written, self._written = self._written, 0
        return written

    def lag(self, group: str, topics: list[str] | str) -> int:
        """Records of ``topics`` that ``group`` has not committed yet (all partitions)."""
        names = [topics] if isinstance(topics, str) else list(topics)
        physical = [self.topic_prefix + check_topic(t) for t in names]
        marks = ",".join("?" * len(physical))
        with self._lock:
            ends = self._conn.execute(f"SELECT topic, part, MAX(off) + 1 FROM records WHERE topic IN ({marks}) GROUP BY topic, part",
                                      physical).fetchall()
            done = {(t, p): o for t, p, o in self._conn.execute(
                f"SELECT topic, part, next_off FROM commits WHERE grp=? AND topic IN ({marks})",
                [self.topic_prefix + group, *physical])}
        return int(sum(max(0, end - done.get((t, p), 0)) for t, p, end in ends))

    def consumer(self, topics: list[str] | str, *, group: str, from_beginning: bool = True) -> "SqliteConsumer":
        self._check_open()
        return SqliteConsumer(self, topic_list(topics), check_group(group), from_beginning)

    def close(self) -> None:
        with self._lock:
            if not self._closed:
                self._closed = True
                self._conn.close()

    def __enter__(self) -> "SqliteBus":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class SqliteConsumer:
    """A consumer of :class:`SqliteBus` (see :class:`~warehouse.bus.BusConsumer`).

    Every consumer of a group reads all partitions from the group's committed offsets;
    there is no partition balancing between members, so run one member per group (a second
    one would see the same records: still at-least-once, deduplicate with IdempotentConsumer).
    """

    def __init__(self, bus: SqliteBus, topics: list[str], group: str, from_beginning: bool) -> None:
        self.group = group
        self._prefix = bus.topic_prefix
        self._group_id = bus.topic_prefix + group  # the prefix namespaces groups too
        self._conn = _connect(bus.path, bus._sync, bus._busy_timeout_s)
        self._lock = threading.Lock()
        self._closed = False
        self._rotation = 0
        physical = [self._prefix + t for t in topics]
        self._tps = [(t, p) for t in physical for p in range(bus.partitions)]
        committed = {
            (t, p): off
            for t, p, off in self._conn.execute(
                f"SELECT topic, part, next_off FROM commits WHERE grp=? AND topic IN ({','.join('?' * len(physical))})",
                (self._group_id, *physical),
            )
        }
        self._positions: dict[tuple[str, int], int] = {}
        for tp in self._tps:
            if tp in committed:
                self._positions[tp] = committed[tp]
            elif from_beginning:
                self._positions[tp] = 0
            else:
                (end,) = self._conn.execute(
                    "SELECT COALESCE(MAX(off) + 1, 0) FROM records WHERE topic=? AND part=?", tp
                ).fetchone()
                self._positions[tp] = end
        self._committed = dict(committed)
        log.debug("sqlite consumer group=%s topics=%s positions=%s", group, topics, self._positions)

    def _fetch(self, max_records: int) -> list[Record]:
        out: list[Record] = []
        n = len(self._tps)
        start = self._rotation % n
        self._rotation += 1
        for i in range(n):
            if len(out) >= max_records:
                break
            topic, part = self._tps[(start + i) % n]
            rows = self._conn.execute(
                "SELECT off, key, value, ts_ms FROM records WHERE topic=? AND part=? AND off>=? ORDER BY off LIMIT ?",
                (topic, part, self._positions[(topic, part)], max_records - len(out)),
            ).fetchall()
            for off, key, value, ts_ms in rows:
                out.append(Record(topic[len(self._prefix):], part, off, key, decode_value(value), ts_ms, raw=raw_bytes(value)))
            if rows:
                self._positions[(topic, part)] = rows[-1][0] + 1
        return out

    def poll(self, timeout_s: float = 1.0, max_records: int = 500) -> list[Record]:
        if max_records < 1:
            raise BusError(f"max_records={max_records}; expected >= 1")
        deadline = time.monotonic() + max(timeout_s, 0.0)
        sleep_s = 0.01
        while True:
            with self._lock:
                if self._closed:
                    raise BusError(f"consumer of group {self.group!r} is closed; open a new one with bus.consumer()")
                records = self._fetch(max_records)
            remaining = deadline - time.monotonic()
            if records or remaining <= 0:
                return records
            time.sleep(min(sleep_s, remaining))
            sleep_s = min(sleep_s * 2, 0.1)

    def commit(self, offsets: dict[tuple[str, int], int] | None = None) -> None:
        with self._lock:
            if self._closed:
                raise BusError(f"consumer of group {self.group!r} is closed; commit before close()")
            if offsets is None:
                target = dict(self._positions)
            else:
                target = {}
                for (topic, part), off in offsets.items():
                    tp = (self._prefix + topic, part)
                    if tp not in self._positions:
                        raise BusError(f"commit of {topic}[{part}]: this consumer does not read it")
                    target[tp] = int(off)
            changed = [(tp, off) for tp, off in target.items() if self._committed.get(tp) != off]
            if not changed:
                return
            ts = now_ms()
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                self._conn.executemany(
                    "INSERT INTO commits(grp, topic, part, next_off, updated_ms) VALUES (?, ?, ?, ?, ?) "
                    "ON CONFLICT(grp, topic, part) DO UPDATE SET next_off=excluded.next_off, updated_ms=excluded.updated_ms",
                    [(self._group_id, t, p, off, ts) for (t, p), off in changed],
                )
                self._conn.execute("COMMIT")
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._committed.update(changed)

    def seek(self, topic: str, partition: int, offset: int) -> None:
        with self._lock:
            tp = (self._prefix + topic, partition)
            if tp not in self._positions:
                raise BusError(f"seek on {topic}[{partition}]: this consumer does not read it")
            self._positions[tp] = max(0, int(offset))

    def close(self) -> None:
        with self._lock:
            if not self._closed:
                self._closed = True
                self._conn.close()
