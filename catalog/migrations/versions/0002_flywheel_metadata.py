"""Flywheel: per-version metadata (canary cameras, gate numbers) and event types added at run time.

Revision ID: 0002_flywheel_metadata
Revises: 0001_initial
Create Date: 2026-12-01
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002_flywheel_metadata"
down_revision = "0001_initial"
branch_labels = None
depends_on = None

_ID = sa.String(128)


def upgrade() -> None:
    op.create_table(
        "catalog_version_metadata",
        sa.Column("algorithm_id", _ID, sa.ForeignKey("catalog_algorithms.id"), primary_key=True),
        sa.Column("number", sa.Integer, primary_key=True),
        sa.Column("key", sa.String(64), primary_key=True),
        sa.Column("value", sa.JSON, nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "catalog_event_types",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("name", sa.String(256), nullable=False),
        sa.Column("scenes", sa.JSON, nullable=False),
        sa.Column("objects", sa.JSON, nullable=False),
        sa.Column("description", sa.Text, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("catalog_event_types")
    op.drop_table("catalog_version_metadata")
