"""The operations store: cameras, alerts, operator feedback, reported misses, the outbox,
API keys and the audit log, in one database (SQLite by default, PostgreSQL in production).

Every write is one transaction; alert ingest is idempotent by id; every bus event a write
announces is written to the outbox in that same transaction (see :mod:`warehouse.ops.outbox`).

>>> ops = OpsStore("sqlite://")
>>> ops.add_camera(CameraRecord("cam-1", region="harbour", stream_url="synthetic://seafront"))
True
>>> ops.get_camera("cam-1").region, ops.cameras_version()
('harbour', 1)
"""
from __future__ import annotations

import sqlalchemy as sa

from warehouse._db import make_engine
from warehouse.ops.alerts import AlertStoreMixin
from warehouse.ops.cameras import CameraRecord, CameraStoreMixin
from warehouse.ops.keys import KeyStoreMixin
from warehouse.ops.streams import StreamPolicy
from warehouse.ops.tables import create_tables

__all__ = ["CameraRecord", "OpsStore"]


def _sqlite_wal(dbapi_conn, _record) -> None:
    # one alert per transaction at 1,000/s: WAL with synchronous=NORMAL commits without an
    # fsync per transaction and survives process crashes (power loss may drop the last few)
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.close()


class OpsStore(CameraStoreMixin, AlertStoreMixin, KeyStoreMixin):
    """``stream_policy`` decides which camera stream URLs are accepted (default: from the
    environment, see :class:`~warehouse.ops.StreamPolicy`)."""

    def __init__(self, url: str, *, stream_policy: StreamPolicy | None = None) -> None:
        self.url = url
        self.engine = make_engine(url)
        if self.engine.dialect.name == "sqlite" and url not in ("sqlite://", "sqlite:///:memory:"):
            sa.event.listen(self.engine, "connect", _sqlite_wal)
        self.stream_policy = stream_policy or StreamPolicy.from_env()
        create_tables(self.engine)

    def ping(self) -> None:
        """Raise if the database cannot be reached (``/healthz``)."""
        with self.engine.connect() as c:
            c.execute(sa.text("SELECT 1"))

    def close(self) -> None:
        self.engine.dispose()

    def __repr__(self) -> str:
        return f"OpsStore({self.engine.url.render_as_string(hide_password=True)!r})"
