"""`warehouse keys` and `warehouse audit`: the key shown once, never listed; the last admin kept."""
from __future__ import annotations

import json

from typer.testing import CliRunner

from warehouse.cli import app


def _run(*args: str):
    return CliRunner().invoke(app, list(args))


def test_keys_create_list_revoke_and_audit(tmp_path):
    db = ["--db-url", f"sqlite:///{tmp_path / 'ops.db'}"]
    r = _run("keys", "create", "--role", "admin", "--name", "ops-lead", "--json", *db)
    assert r.exit_code == 0, r.output
    admin = json.loads(r.stdout)
    assert len(admin["api_key"]) >= 32
    r = _run("keys", "create", "--role", "viewer", "--name", "wall-screen", *db)
    assert r.exit_code == 0 and "shown once" in r.stdout
    listed = _run("keys", "list", "--json", *db)
    assert admin["api_key"] not in listed.stdout  # never listed again
    keys = {k["name"]: k for k in json.loads(listed.stdout)}
    assert keys["ops-lead"]["role"] == "admin" and not keys["wall-screen"]["revoked"]

    dup = _run("keys", "create", "--role", "viewer", "--name", "wall-screen", *db)
    assert dup.exit_code == 2 and "exists already" in dup.output  # names are unique
    last = _run("keys", "revoke", admin["key_id"], *db)
    assert last.exit_code == 2 and "last active admin" in last.output
    assert _run("keys", "revoke", keys["wall-screen"]["key_id"], *db).exit_code == 0
    unknown = _run("keys", "revoke", "key-000000000000", *db)
    assert unknown.exit_code == 2 and "unknown API key" in unknown.output

    audit = json.loads(_run("audit", "list", "--json", *db).stdout)
    assert [a["action"] for a in audit] == ["key.revoke", "key.create", "key.create"]
    assert all(a["actor"].startswith("cli:") for a in audit)
