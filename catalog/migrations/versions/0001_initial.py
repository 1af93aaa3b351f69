"""Initial catalog schema: algorithms, versions, lifecycle, lineage.

Revision ID: 0001_initial
Revises:
Create Date: 2025-01-01
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001_initial"
down_revision = None
branch_labels = None
depends_on = None

_ID = sa.String(128)
_REF = sa.String(256)
_STAGES = ("candidate", "canary", "production", "retired")


def _ts(name: str) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=False)


def upgrade() -> None:
    op.create_table(
        "catalog_algorithms",
        sa.Column("id", _ID, primary_key=True),
        sa.Column("name", sa.String(256), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("owner", sa.String(128), nullable=False),
        sa.Column("spec", sa.JSON, nullable=False),
        _ts("created_at"),
    )
    op.create_table(
        "catalog_algorithm_scene_tags",
        sa.Column("algorithm_id", _ID, sa.ForeignKey("catalog_algorithms.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("scene", sa.String(64), primary_key=True),
    )
    op.create_index("ix_catalog_algorithm_scene_tags_scene", "catalog_algorithm_scene_tags", ["scene"])
    op.create_table(
        "catalog_algorithm_event_types",
        sa.Column("algorithm_id", _ID, sa.ForeignKey("catalog_algorithms.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("event_type", sa.String(64), primary_key=True),
    )
    op.create_index("ix_catalog_algorithm_event_types_event_type", "catalog_algorithm_event_types", ["event_type"])
    op.create_table(
        "catalog_mining_jobs",
        sa.Column("id", _ID, primary_key=True),
        sa.Column("algorithm_id", _ID, sa.ForeignKey("catalog_algorithms.id"), nullable=False),
        sa.Column("strategy", sa.String(128), nullable=False),
        _ts("created_at"),
    )
    op.create_index("ix_catalog_mining_jobs_algorithm_id", "catalog_mining_jobs", ["algorithm_id"])
    op.create_table(
        "catalog_mining_job_miss_events",
        sa.Column("mining_job_id", _ID, sa.ForeignKey("catalog_mining_jobs.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("position", sa.Integer, primary_key=True),
        sa.Column("miss_event_id", _REF, nullable=False),
    )
    op.create_table(
        "catalog_mining_job_candidates",
        sa.Column("mining_job_id", _ID, sa.ForeignKey("catalog_mining_jobs.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("position", sa.Integer, primary_key=True),
        sa.Column("candidate_id", _REF, nullable=False),
    )
    op.create_table(
        "catalog_dataset_versions",
        sa.Column("id", _ID, primary_key=True),
        sa.Column("algorithm_id", _ID, sa.ForeignKey("catalog_algorithms.id"), nullable=False),
        sa.Column("parent_id", _ID, sa.ForeignKey("catalog_dataset_versions.id"), nullable=True),
        sa.Column("mining_job_id", _ID, sa.ForeignKey("catalog_mining_jobs.id"), nullable=True),
        sa.Column("artifact_sha256", sa.String(64), nullable=True),
        sa.Column("stats", sa.JSON, nullable=False),
        _ts("created_at"),
    )
    op.create_index("ix_catalog_dataset_versions_algorithm_id", "catalog_dataset_versions", ["algorithm_id"])
    op.create_table(
        "catalog_dataset_samples",
        sa.Column(
            "dataset_version_id", _ID, sa.ForeignKey("catalog_dataset_versions.id", ondelete="CASCADE"), primary_key=True
        ),
        sa.Column("position", sa.Integer, primary_key=True),
        sa.Column("sample_id", _REF, nullable=False),
    )
    op.create_table(
        "catalog_training_runs",
        sa.Column("id", _ID, primary_key=True),
        sa.Column("algorithm_id", _ID, sa.ForeignKey("catalog_algorithms.id"), nullable=False),
        sa.Column("dataset_version_id", _ID, sa.ForeignKey("catalog_dataset_versions.id"), nullable=False),
        sa.Column("params", sa.JSON, nullable=False),
        sa.Column("metrics", sa.JSON, nullable=False),
        _ts("created_at"),
    )
    op.create_index("ix_catalog_training_runs_algorithm_id", "catalog_training_runs", ["algorithm_id"])
    op.create_table(
        "catalog_model_versions",
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
        sa.CheckConstraint(f"stage IN {_STAGES!r}", name="ck_catalog_model_versions_stage"),
        sa.CheckConstraint("number >= 1", name="ck_catalog_model_versions_number"),
    )
    # At most one production version per algorithm, enforced by the database.
    op.create_index(
        "uq_catalog_model_versions_one_production",
        "catalog_model_versions",
        ["algorithm_id"],
        unique=True,
        sqlite_where=sa.text("stage = 'production'"),
        postgresql_where=sa.text("stage = 'production'"),
    )
    op.create_table(
        "catalog_stage_transitions",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("algorithm_id", _ID, sa.ForeignKey("catalog_algorithms.id"), nullable=False),
        sa.Column("number", sa.Integer, nullable=False),
        sa.Column("from_stage", sa.String(16), nullable=True),
        sa.Column("to_stage", sa.String(16), nullable=False),
        _ts("at"),
    )
    op.create_index("ix_catalog_stage_transitions_algorithm_id", "catalog_stage_transitions", ["algorithm_id"])


def downgrade() -> None:
    for index, table in (
        ("ix_catalog_stage_transitions_algorithm_id", "catalog_stage_transitions"),
        ("uq_catalog_model_versions_one_production", "catalog_model_versions"),
    ):
        op.drop_index(index, table_name=table)
    for table in (
        "catalog_stage_transitions",
        "catalog_model_versions",
        "catalog_training_runs",
        "catalog_dataset_samples",
        "catalog_dataset_versions",
        "catalog_mining_job_candidates",
        "catalog_mining_job_miss_events",
        "catalog_mining_jobs",
        "catalog_algorithm_event_types",
        "catalog_algorithm_scene_tags",
        "catalog_algorithms",
    ):
        op.drop_table(table)
