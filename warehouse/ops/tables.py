"""The operations store's tables (SQLAlchemy Core) and the one-step upgrade of older files."""
from __future__ import annotations

import logging

import sqlalchemy as sa

log = logging.getLogger(__name__)

meta = sa.MetaData()
_BigSerial = sa.BigInteger().with_variant(sa.Integer, "sqlite")  # SQLite autoincrements INTEGER PRIMARY KEY only

cameras = sa.Table(
    "ops_cameras", meta,
    sa.Column("camera_id", sa.String(128), primary_key=True),
    sa.Column("region", sa.String(128), nullable=False),
    sa.Column("stream_url", sa.Text, nullable=False),  # never holds credentials
    sa.Column("stream_credentials", sa.Text, nullable=True),  # the URL's user:password, apart
    sa.Column("hints", sa.Text, nullable=False, default="{}"),
    sa.Column("zones", sa.Text, nullable=False, default="[]"),
    sa.Column("created_ms", sa.BigInteger, nullable=False),
    sa.Column("updated_ms", sa.BigInteger, nullable=False, default=0),
)
counters = sa.Table(
    "ops_counters", meta,
    sa.Column("name", sa.String(64), primary_key=True),
    sa.Column("value", sa.BigInteger, nullable=False),
)
alerts = sa.Table(
    "ops_alerts", meta,
    sa.Column("seq", _BigSerial, primary_key=True, autoincrement=True),  # arrival order (stream replay, cursors)
    sa.Column("alert_id", sa.String(200), nullable=False, unique=True),
    sa.Column("camera_id", sa.String(128), nullable=False),
    sa.Column("region", sa.String(128), nullable=False, default=""),
    sa.Column("algorithm_id", sa.String(200), nullable=False),
    sa.Column("payload", sa.Text, nullable=False),
    sa.Column("ts_ms", sa.BigInteger, nullable=False),
    sa.Column("status", sa.String(16), nullable=False, default="open"),
    sa.Index("ix_ops_alerts_ts", "ts_ms", "seq"),
    sa.Index("ix_ops_alerts_camera_ts", "camera_id", "ts_ms", "seq"),
    sa.Index("ix_ops_alerts_region_ts", "region", "ts_ms", "seq"),
    sa.Index("ix_ops_alerts_algorithm_ts", "algorithm_id", "ts_ms", "seq"),
    sa.Index("ix_ops_alerts_status_ts", "status", "ts_ms", "seq"),
)
feedback = sa.Table(
    "ops_feedback", meta,
    sa.Column("feedback_id", sa.String(64), primary_key=True),
    sa.Column("alert_id", sa.String(200), nullable=False),
    sa.Column("verdict", sa.String(16), nullable=False),
    sa.Column("operator", sa.String(128), nullable=False),
    sa.Column("note", sa.Text, nullable=False, default=""),
    sa.Column("ts_ms", sa.BigInteger, nullable=False),
    sa.Column("event_id", sa.String(200), nullable=True),
    sa.UniqueConstraint("alert_id", "operator", name="uq_ops_feedback_alert_operator"),
)
misses = sa.Table(
    "ops_misses", meta,
    sa.Column("event_id", sa.String(200), primary_key=True),
    sa.Column("camera_id", sa.String(128), nullable=False),
    sa.Column("event_type", sa.String(128), nullable=False),
    sa.Column("algorithm_id", sa.String(200), nullable=True),
    sa.Column("reporter", sa.String(128), nullable=False),
    sa.Column("ts_ms", sa.BigInteger, nullable=False),
    sa.Column("created_ms", sa.BigInteger, nullable=False),
)
outbox = sa.Table(
    "ops_outbox", meta,
    sa.Column("id", _BigSerial, primary_key=True, autoincrement=True),
    sa.Column("topic", sa.String(128), nullable=False),
    sa.Column("key", sa.String(256), nullable=True),
    sa.Column("event_id", sa.String(200), nullable=False, unique=True),
    sa.Column("payload", sa.Text, nullable=False),
    sa.Column("created_ms", sa.BigInteger, nullable=False),
    sa.Column("published_ms", sa.BigInteger, nullable=True),
    sa.Column("attempts", sa.Integer, nullable=False, default=0),
    sa.Column("last_error", sa.Text, nullable=True),
    sa.Index("ix_ops_outbox_pending", "published_ms", "id"),
)
api_keys = sa.Table(
    "ops_api_keys", meta,
    sa.Column("key_id", sa.String(32), primary_key=True),
    sa.Column("key_sha256", sa.String(64), nullable=False, unique=True),
    sa.Column("role", sa.String(16), nullable=False),
    sa.Column("name", sa.String(128), nullable=False),
    sa.Column("created_ms", sa.BigInteger, nullable=False),
    sa.Column("revoked", sa.Boolean, nullable=False, default=False),
    sa.Column("revoked_ms", sa.BigInteger, nullable=True),
    sa.Column("last_used_ms", sa.BigInteger, nullable=True),
)
audit = sa.Table(
    "ops_audit", meta,
    sa.Column("id", _BigSerial, primary_key=True, autoincrement=True),
    sa.Column("ts_ms", sa.BigInteger, nullable=False, index=True),
    sa.Column("actor", sa.String(200), nullable=False),
    sa.Column("action", sa.String(64), nullable=False, index=True),
    sa.Column("target", sa.String(300), nullable=False),
    sa.Column("detail", sa.Text, nullable=False, default="{}"),
)


def _upgrade(engine: sa.Engine) -> None:
    """Bring a store written by an older version up to these tables (additive only)."""
    insp = sa.inspect(engine)
    names = set(insp.get_table_names())
    with engine.begin() as c:
        if "ops_alerts" in names and "seq" not in {col["name"] for col in insp.get_columns("ops_alerts")}:
            log.warning("ops store: upgrading ops_alerts to the sequenced layout (one-time copy)")
            c.execute(sa.text("ALTER TABLE ops_alerts RENAME TO ops_alerts_old"))
            for ix in insp.get_indexes("ops_alerts"):
                c.execute(sa.text(f"DROP INDEX IF EXISTS {ix['name']}"))
            names.discard("ops_alerts")
            alerts.create(c)
            c.execute(sa.text(
                "INSERT INTO ops_alerts (alert_id, camera_id, region, algorithm_id, payload, ts_ms, status) "
                "SELECT alert_id, camera_id, '', algorithm_id, payload, ts_ms, status FROM ops_alerts_old ORDER BY ts_ms"))
            c.execute(sa.text("DROP TABLE ops_alerts_old"))
        for table in (cameras, feedback, api_keys):
            if table.name not in names:
                continue
            have = {col["name"] for col in insp.get_columns(table.name)}
            for col in table.columns:
                if col.name not in have:
                    default = "'[]'" if col.name == "zones" else "0" if col.name == "updated_ms" else "NULL"
                    null = "" if default == "NULL" else f" NOT NULL DEFAULT {default}"
                    c.execute(sa.text(f"ALTER TABLE {table.name} ADD COLUMN {col.name} {col.type.compile(engine.dialect)}{null}"))


def create_tables(engine: sa.Engine) -> None:
    _upgrade(engine)
    meta.create_all(engine)
