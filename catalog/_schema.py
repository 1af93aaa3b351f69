"""SQLAlchemy Core tables of the catalog (the live shape; migrations create it).

Keep in step with ``catalog/migrations/versions``: ``tests/catalog/test_migrations.py``
compares this metadata with a freshly migrated database.
"""
from __future__ import annotations

import sqlalchemy as sa

STAGES = ("candidate", "canary", "production", "retired")
_ID = sa.String(128)
_REF = sa.String(256)

metadata = sa.MetaData()


def _ts(name: str, nullable: bool = False) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


algorithms = sa.Table(
    "catalog_algorithms",
    metadata,
    sa.Column("id", _ID, primary_key=True),
    sa.Column("name", sa.String(256), nullable=False),
    sa.Column("kind", sa.String(32), nullable=False),
    sa.Column("owner", sa.String(128), nullable=False),
    sa.Column("spec", sa.JSON, nullable=False),
    _ts("created_at"),
)

algorithm_scene_tags = sa.Table(
    "catalog_algorithm_scene_tags",
    metadata,
    sa.Column("algorithm_id", _ID, sa.ForeignKey("catalog_algorithms.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("scene", sa.String(64), primary_key=True, index=True),
)

algorithm_event_types = sa.Table(
    "catalog_algorithm_event_types",
    metadata,
    sa.Column("algorithm_id", _ID, sa.ForeignKey("catalog_algorithms.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("event_type", sa.String(64), primary_key=True, index=True),
)

mining_jobs = sa.Table(
    "catalog_mining_jobs",
    metadata,
    sa.Column("id", _ID, primary_key=True),
    sa.Column("algorithm_id", _ID, sa.ForeignKey("catalog_algorithms.id"), nullable=False, index=True),
    sa.Column("strategy", sa.String(128), nullable=False),
    _ts("created_at"),
)

mining_job_miss_events = sa.Table(
    "catalog_mining_job_miss_events",
    metadata,
    sa.Column("mining_job_id", _ID, sa.ForeignKey("catalog_mining_jobs.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("position", sa.Integer, primary_key=True),
    sa.Column("miss_event_id", _REF, nullable=False),
)

mining_job_candidates = sa.Table(
    "catalog_mining_job_candidates",
    metadata,
    sa.Column("mining_job_id", _ID, sa.ForeignKey("catalog_mining_jobs.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("position", sa.Integer, primary_key=True),
    sa.Column("candidate_id", _REF, nullable=False),
)

dataset_versions = sa.Table(
    "catalog_dataset_versions",
    metadata,
    sa.Column("id", _ID, primary_key=True),
    sa.Column("algorithm_id", _ID, sa.ForeignKey("catalog_algorithms.id"), nullable=False, index=True),
    sa.Column("parent_id", _ID, sa.ForeignKey("catalog_dataset_versions.id"), nullable=True),
    sa.Column("mining_job_id", _ID, sa.ForeignKey("catalog_mining_jobs.id"), nullable=True),
    sa.Column("artifact_sha256", sa.String(64), nullable=True),
    sa.Column("stats", sa.JSON, nullable=False),
    _ts("created_at"),
)

dataset_samples = sa.Table(
    "catalog_dataset_samples",
    metadata,
    sa.Column("dataset_version_id", _ID, sa.ForeignKey("catalog_dataset_versions.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("position", sa.Integer, primary_key=True),
    sa.Column("sample_id", _REF, nullable=False),
)

training_runs = sa.Table(
    "catalog_training_runs",
    metadata,
    sa.Column("id", _ID, primary_key=True),
    sa.Column("algorithm_id", _ID, sa.ForeignKey("catalog_algorithms.id"), nullable=False, index=True),
    sa.Column("dataset_version_id", _ID, sa.ForeignKey("catalog_dataset_versions.id"), nullable=False),
    sa.Column("params", sa.JSON, nullable=False),
    sa.Column("metrics", sa.JSON, nullable=False),
    _ts("created_at"),
)

model_versions = sa.Table(
    "catalog_model_versions",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("algorithm_id", _ID, sa.ForeignKey("catalog_algorithms.id"), nullable=False),
    sa.Column("number", sa.Integer, nullable=False),
    sa.Column("stage", sa.String(16), nullable=False),
    sa.Column("artifact_sha256", sa.String(64), nullable=False),
    sa.Column("metrics", sa.JSON, nullable=False),
    sa.Column("cost_profile", sa.JSON, nullable=True),
    sa.Column("parent_version", sa.Integer, nullable=True),
    sa.Column("training_run_id", _ID, sa.ForeignKey("catalog_training_runs.id"), nullable=True),
    sa.Column("dataset_version_id", _ID, sa.ForeignKey("catalog_dataset_versions.id"), nullable=True),
    sa.Column("notes", sa.Text, nullable=False),
    _ts("created_at"),
    _ts("stage_changed_at"),
    sa.UniqueConstraint("algorithm_id", "number", name="uq_catalog_model_versions_number"),
    sa.CheckConstraint(f"stage IN {STAGES!r}", name="ck_catalog_model_versions_stage"),
    sa.CheckConstraint("number >= 1", name="ck_catalog_model_versions_number"),
)
# The database itself refuses a second production version of an algorithm (partial unique index).
sa.Index(
    "uq_catalog_model_versions_one_production",
    model_versions.c.algorithm_id,
    unique=True,
    sqlite_where=sa.text("stage = 'production'"),
    postgresql_where=sa.text("stage = 'production'"),
)

stage_transitions = sa.Table(
    "catalog_stage_transitions",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("algorithm_id", _ID, sa.ForeignKey("catalog_algorithms.id"), nullable=False, index=True),
    sa.Column("number", sa.Integer, nullable=False),
    sa.Column("from_stage", sa.String(16), nullable=True),
    sa.Column("to_stage", sa.String(16), nullable=False),
    _ts("at"),
)

# flywheel (migration 0002): what a version carries beyond its metrics, and event types added at run time
version_metadata = sa.Table(
    "catalog_version_metadata",
    metadata,
    sa.Column("algorithm_id", _ID, sa.ForeignKey("catalog_algorithms.id"), primary_key=True),
    sa.Column("number", sa.Integer, primary_key=True),
    sa.Column("key", sa.String(64), primary_key=True),
    sa.Column("value", sa.JSON, nullable=False),
    _ts("updated_at"),
)

event_types = sa.Table(
    "catalog_event_types",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("name", sa.String(256), nullable=False),
    sa.Column("scenes", sa.JSON, nullable=False),
    sa.Column("objects", sa.JSON, nullable=False),
    sa.Column("description", sa.Text, nullable=False),
    _ts("created_at"),
)
