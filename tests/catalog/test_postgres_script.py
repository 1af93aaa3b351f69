"""scripts/postgres.sh: idempotent start, url of the running cluster, usage errors."""
from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "postgres.sh"


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(SCRIPT), *args], capture_output=True, text=True, timeout=180)


@pytest.mark.postgres
def test_start_is_idempotent_and_url_matches(postgres_url: str) -> None:
    if os.environ.get("WAREHOUSE_TEST_POSTGRES_URL"):
        pytest.skip("the server comes from WAREHOUSE_TEST_POSTGRES_URL, not from the script")
    again = _run("start")
    assert again.returncode == 0, again.stderr
    assert again.stdout.strip() == postgres_url  # same cluster, same port, no second server
    assert _run("url").stdout.strip() == postgres_url
    assert postgres_url.startswith("postgresql+psycopg://warehouse:") and "@127.0.0.1:" in postgres_url
    assert _run("status").returncode == 0


def test_usage_error() -> None:
    result = _run("restart-everything")
    assert result.returncode == 2 and "usage:" in result.stderr
