"""One way to open the application's SQLAlchemy engines (SQLite or PostgreSQL)."""
from __future__ import annotations

import sqlalchemy as sa


def make_engine(url: str) -> sa.Engine:
    kwargs: dict = {}
    if url.startswith("sqlite"):
        # threads of one process share the engine; writers wait up to 30 s for the file lock
        kwargs["connect_args"] = {"check_same_thread": False, "timeout": 30}
        if url in ("sqlite://", "sqlite:///:memory:"):
            kwargs["poolclass"] = sa.pool.StaticPool  # one in-memory database, not one per connection
    else:
        kwargs["pool_pre_ping"] = True
    return sa.create_engine(url, future=True, **kwargs)
