"""Root of the test suite. Fixtures for real services live in ``tests/fixtures/*.py``.

Service fixtures (Kafka, PostgreSQL, RTSP) skip when the service cannot be started on a
developer machine, and fail instead when ``WAREHOUSE_REQUIRE_SERVICES=1`` (set by
``.ci/run``), so CI never passes by skipping.
"""
from __future__ import annotations

import pkgutil
from pathlib import Path

_FIXTURES = Path(__file__).parent / "fixtures"
pytest_plugins = [f"tests.fixtures.{m.name}" for m in pkgutil.iter_modules([str(_FIXTURES)]) if not m.name.startswith("_")]


import pytest  # noqa: E402


@pytest.fixture(autouse=True)
def _taxonomy_is_per_test():
    """Event types a test defines at run time (``Catalog.add_event_type`` teaches the process-wide
    cached taxonomy) are forgotten after it, so no later test renders or counts them."""
    from catalog import load_taxonomy

    events = load_taxonomy().events
    before = set(events)
    yield
    for extra in set(events) - before:
        events.pop(extra, None)
