"""Alembic migrations of the catalog schema, applied by :meth:`catalog.Catalog.open`.

New revision (from the repository root)::

    .venv/bin/python -m catalog.migrate revision -m "add column x"
"""
