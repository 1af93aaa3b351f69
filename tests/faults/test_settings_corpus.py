"""Bad settings and options: one line naming the value and the fix, exit 2, no traceback, nothing written."""
from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from warehouse.cli import app
from warehouse.errors import SettingsError
from warehouse.settings import Settings, check_bind_address, secret_weakness
from tests.faults.conftest import refused_within_budget

# (case, WAREHOUSE_* overrides, message pattern); "{tmp}" is the test's folder
SETTINGS_CORPUS = [
    ("garbage artifact URL", {"artifact_url": "garbage://x"}, r"WAREHOUSE_ARTIFACT_URL='garbage://x': unknown storage protocol 'garbage'"),
    ("garbage catalog URL", {"catalog_url": "garbage"}, r"WAREHOUSE_CATALOG_URL='garbage': not a SQLAlchemy URL; use e\.g\. sqlite:///"),
    ("unsupported catalog backend", {"catalog_url": "mysql://u@h/db"}, r"backend 'mysql' is not supported"),
    ("garbage bus URL", {"bus_url": "redis://x"}, r"WAREHOUSE_BUS_URL='redis://x': expected sqlite:///"),
    ("home under /proc", {"home": "/proc/warehouse"}, r"under /proc, a virtual filesystem; point WAREHOUSE_HOME at a writable folder"),
    ("home under /sys", {"home": "/sys/x"}, r"under /sys"),
    ("home is a file", {"home": "{tmp}/afile"}, r"is a file; WAREHOUSE_HOME must be a folder"),
    ("home below a file", {"home": "{tmp}/afile/sub"}, r"is below the file"),
    ("cache under /dev", {"cache_dir": "/dev/shm/../null"}, r"WAREHOUSE_CACHE_DIR=.*virtual filesystem"),
    ("unknown environment", {"environment": "prod"}, r"unknown environment; use one of development, test, staging, production"),
]  # fmt: skip


def _values(overrides: dict[str, str], tmp: Path) -> dict[str, str]:
    (tmp / "afile").write_text("not a folder")
    return {k: v.replace("{tmp}", str(tmp)) for k, v in overrides.items()}


@pytest.mark.parametrize(("case", "overrides", "match"), SETTINGS_CORPUS, ids=[c[0] for c in SETTINGS_CORPUS])
def test_bad_setting_refused_fast_with_the_value_and_fix(case, overrides, match, tmp_path):
    values = _values(overrides, tmp_path)
    exc = refused_within_budget(case, lambda: Settings(**values), SettingsError, match)
    assert isinstance(exc, ValueError) and exc.field == next(iter(values))


@pytest.mark.parametrize(("case", "overrides", "match"), SETTINGS_CORPUS[:8], ids=[c[0] for c in SETTINGS_CORPUS[:8]])
def test_cli_answers_one_line_exit_2_and_writes_nothing(case, overrides, match, tmp_path):
    values = _values(overrides, tmp_path)
    env = {"WAREHOUSE_HOME": str(tmp_path / "home")} | {f"WAREHOUSE_{k.upper()}": v for k, v in values.items()}
    result = CliRunner().invoke(app, ["catalog", "list"], env=env)
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: WAREHOUSE_"), result.output
    assert "Traceback" not in result.output
    assert not (tmp_path / "home").exists()  # refused before anything was created


@pytest.mark.parametrize(
    ("argv", "env", "match"),
    [
        (["serve", "--host", "999.1.1.1", "--port", "1"], {}, r"--host '999\.1\.1\.1' is not an IP address; use 127\.0\.0\.1"),
        (["serve"], {"WAREHOUSE_CATALOG_URL": "garbage"}, r"WAREHOUSE_CATALOG_URL='garbage'"),
        (["serve"], {"WAREHOUSE_ENVIRONMENT": "production", "WAREHOUSE_BOOTSTRAP_ADMIN_KEY": "x"},
         r"too weak for environment 'production': it has 1 characters\. A key needs at least 32 characters"),
        (["serve"], {"WAREHOUSE_ENVIRONMENT": "production"}, r"BOOTSTRAP_ADMIN_KEY is too weak .*it is not set"),
    ],
    ids=["bad host", "garbage catalog URL", "one-character key", "no key"],
)
def test_serve_refuses_before_serving(argv, env, match, tmp_path):
    result = CliRunner().invoke(app, argv, env={"WAREHOUSE_HOME": str(tmp_path / "home"), **env})
    assert result.exit_code == 2, result.output
    assert len(result.output.strip().splitlines()) == 1
    assert re.search(match, result.output), result.output


def test_serve_names_a_port_in_use(tmp_path):
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        with pytest.raises(SettingsError, match=rf"cannot listen on 127\.0\.0\.1:{port}: Address already in use; choose another --port"):
            check_bind_address("127.0.0.1", port)


@pytest.mark.parametrize(
    ("secret", "why"),
    [
        ("a", r"1 characters"),
        ("changeme", r"placeholder"),
        ("x" * 64, r"0\.0 bits"),
        ("ab" * 20, r"1\.0 bits"),
        ("abcdefghijklmnopqrstuvwxyzABCDEFGHIJ", r"sequence"),
        ("0123456789" * 4, r"sequence|pattern"),
    ],
)
def test_weak_secrets_refused_with_the_rule(secret, why):
    assert re.search(why, secret_weakness(secret) or ""), secret_weakness(secret)
    s = Settings(environment="production", bootstrap_admin_key=secret)
    with pytest.raises(SettingsError, match=r"at least 32 characters and at least 3 bits of entropy per character") as info:
        s.check_production()
    assert len(secret) < 8 or secret not in str(info.value)  # the secret itself is never echoed


def test_strong_generated_secrets_pass():
    import secrets

    for _ in range(200):
        Settings(environment="production", bootstrap_admin_key=secrets.token_urlsafe(32)).check_production()
        Settings(environment="production", bootstrap_admin_key=secrets.token_hex(16)).check_production()


def test_the_installed_command_exits_2_without_traceback(tmp_path):
    # the real entry point (run_cli), as a user types it
    env = {**os.environ, "WAREHOUSE_HOME": str(tmp_path / "h"), "WAREHOUSE_ARTIFACT_URL": "garbage://x"}
    proc = subprocess.run([sys.executable, "-c", "from warehouse.cli import main; main()", "catalog", "list"],
                          capture_output=True, text=True, env=env, timeout=120)  # fmt: skip
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.strip().splitlines() == [
        "error: WAREHOUSE_ARTIFACT_URL='garbage://x': unknown storage protocol 'garbage'; use a folder path or an "
        "fsspec URL such as file:///srv/artifacts, s3://bucket/artifacts, memory://name"
    ]
