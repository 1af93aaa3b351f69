"""One place for configuration: environment variables prefixed ``WAREHOUSE_``, embedded defaults.

The defaults run everything on one machine with nothing to install beyond the package:
the catalog in SQLite, the event bus as an embedded durable log, local Ray.

Every value is checked when ``Settings()`` is built; a bad one raises
:class:`~warehouse.errors.SettingsError` (a ``ValueError``) whose one-line message names
the variable, the value and the fix, e.g.::

    WAREHOUSE_ARTIFACT_URL='garbage://x': unknown storage protocol 'garbage'; use a folder path
    or an fsspec URL such as file:///srv/artifacts, s3://bucket/artifacts, memory://name

>>> Settings(home="var").resolved_bus_url.startswith("sqlite:///")
True
>>> Settings(artifact_url="garbage://x")
Traceback (most recent call last):
...
warehouse.errors.SettingsError: WAREHOUSE_ARTIFACT_URL='garbage://x': unknown storage protocol 'garbage'; ...
"""
from __future__ import annotations

import ipaddress
import math
import re
import socket
from collections import Counter
from pathlib import Path
from typing import Any

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from warehouse.errors import SettingsError

__all__ = ["Settings", "SettingsError", "check_bind_address", "secret_weakness", "ENVIRONMENTS"]

ENVIRONMENTS = ("development", "test", "staging", "production")
# Linux virtual filesystems: nothing the warehouse writes may live there
_VIRTUAL_ROOTS = (Path("/proc"), Path("/sys"), Path("/dev"))
_PLACEHOLDERS = {"", "changeme", "change-me", "admin", "password", "secret", "test", "default"}
MIN_SECRET_CHARS = 32
MIN_SECRET_BITS_PER_CHAR = 3.0
SECRET_RULE = (
    f"at least {MIN_SECRET_CHARS} characters and at least {MIN_SECRET_BITS_PER_CHAR:.0f} bits of entropy per character "
    "(Shannon entropy of its characters; repeated or sequential keys fail); generate one with "
    "`python -c 'import secrets; print(secrets.token_urlsafe(32))'`"
)


def _env(field: str) -> str:
    return f"WAREHOUSE_{field.upper()}"


def check_folder(path: Path, what: str) -> Path:
    """``path`` may be created and written as a folder: not under /proc, /sys or /dev, not a file,
    not below a file. Raises ``ValueError`` naming the path and the fix."""
    resolved = Path(path).expanduser().resolve()
    for root in _VIRTUAL_ROOTS:
        if resolved == root or root in resolved.parents:
            raise ValueError(
                f"{str(path)!r} is under {root}, a virtual filesystem; point {what} at a writable folder such as ./var"
            )
    probe = resolved
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    if probe.exists() and not probe.is_dir():
        where = "is a file" if probe == resolved else f"is below the file {str(probe)!r}"
        raise ValueError(f"{str(path)!r} {where}; {what} must be a folder: point it at a folder (it is created if missing)")
    return Path(path).expanduser()


def secret_weakness(secret: str) -> str | None:
    """Why ``secret`` is too weak for production, or None. The rule is :data:`SECRET_RULE`."""
    if secret.strip().lower() in _PLACEHOLDERS:
        return "it is a placeholder"
    if len(secret) < MIN_SECRET_CHARS:
        return f"it has {len(secret)} characters"
    counts = Counter(secret)
    bits = max(0.0, -sum(c / len(secret) * math.log2(c / len(secret)) for c in counts.values()))
    if bits < MIN_SECRET_BITS_PER_CHAR:
        return f"its characters carry {bits:.1f} bits of entropy each"
    steps = Counter(ord(b) - ord(a) for a, b in zip(secret, secret[1:]))
    if steps.most_common(1)[0][1] > (len(secret) - 1) // 2:
        return "it is mostly a sequence or a repeated pattern"
    return None


class Settings(BaseSettings):
    """The warehouse's configuration (``WAREHOUSE_*`` environment variables); checked when built."""

    model_config = SettingsConfigDict(env_prefix="WAREHOUSE_", extra="ignore")

    home: Path = Field(default=Path("var"), description="Root folder for state: catalog DB, artifacts, bus log, caches.")
    catalog_url: str | None = Field(default=None, description="SQLAlchemy URL; default sqlite under home.")
    bus_url: str | None = Field(default=None, description="sqlite:///path or kafka://host:port; default sqlite under home.")
    artifact_url: str | None = Field(default=None, description="Artifact store root (path or fsspec URL); default under home.")
    ray_address: str | None = Field(default=None, description="Ray cluster address; None starts local Ray.")
    cache_dir: Path | None = Field(default=None, description="Caches (backbone ONNX, embeddings); default home/cache.")
    environment: str = Field(default="development", description="development | test | staging | production")
    bootstrap_admin_key: str | None = Field(
        default=None, description="If set, an admin API key with this value is created at start (never logged)."
    )

    def __init__(self, **values: Any) -> None:
        try:
            super().__init__(**values)
        except ValidationError as exc:
            err = exc.errors()[0]
            field = str(err["loc"][0]) if err.get("loc") else "?"
            value = err.get("input")
            shown = "<hidden>" if field == "bootstrap_admin_key" else repr(value)
            msg = str(err.get("msg", "invalid")).removeprefix("Value error, ")
            raise SettingsError(f"{_env(field)}={shown}: {msg}", field=field, value=value) from None

    @field_validator("home")
    @classmethod
    def _home(cls, v: Path) -> Path:
        return check_folder(v, "WAREHOUSE_HOME")

    @field_validator("cache_dir")
    @classmethod
    def _cache(cls, v: Path | None) -> Path | None:
        return None if v is None else check_folder(v, "WAREHOUSE_CACHE_DIR")

    @field_validator("catalog_url")
    @classmethod
    def _catalog_url(cls, v: str | None) -> str | None:
        if v is None:
            return v
        import sqlalchemy as sa

        try:
            backend = sa.engine.make_url(v).get_backend_name()
        except sa.exc.ArgumentError:
            raise ValueError(
                "not a SQLAlchemy URL; use e.g. sqlite:///var/catalog.db or postgresql+psycopg://user:pw@host:5432/db"
            ) from None
        if backend not in ("sqlite", "postgresql"):
            raise ValueError(f"backend {backend!r} is not supported; the catalog runs on sqlite or postgresql")
        return v

    @field_validator("bus_url")
    @classmethod
    def _bus_url(cls, v: str | None) -> str | None:
        if v is None:
            return v
        scheme = v.split("://", 1)[0].lower() if "://" in v else ""
        if scheme not in ("sqlite", "kafka") or not v.split("://", 1)[1].strip("/"):
            raise ValueError("expected sqlite:///path/to/bus.db or kafka://host:port")
        return v

    @field_validator("artifact_url")
    @classmethod
    def _artifact_url(cls, v: str | None) -> str | None:
        if v is None:
            return v
        if "://" not in v:
            check_folder(Path(v), "WAREHOUSE_ARTIFACT_URL")
            return v
        import fsspec

        scheme = v.split("://", 1)[0].lower()
        try:
            fsspec.get_filesystem_class(scheme)
        except ValueError:
            raise ValueError(
                f"unknown storage protocol {scheme!r}; use a folder path or an fsspec URL such as "
                "file:///srv/artifacts, s3://bucket/artifacts, memory://name"
            ) from None
        except ImportError as exc:
            raise ValueError(f"protocol {scheme!r} needs a package that is not installed ({exc}); install it") from None
        if scheme == "file":
            check_folder(Path(v.split("://", 1)[1]), "WAREHOUSE_ARTIFACT_URL")
        return v

    @field_validator("environment")
    @classmethod
    def _environment(cls, v: str) -> str:
        if v.strip().lower() not in ENVIRONMENTS:
            raise ValueError(f"unknown environment; use one of {', '.join(ENVIRONMENTS)}")
        return v.strip().lower()

    @property
    def resolved_catalog_url(self) -> str:
        return self.catalog_url or f"sqlite:///{(self.home / 'catalog.db').resolve()}"

    @property
    def resolved_bus_url(self) -> str:
        return self.bus_url or f"sqlite:///{(self.home / 'bus.db').resolve()}"

    @property
    def resolved_artifact_root(self) -> str:
        return self.artifact_url or str((self.home / "artifacts").resolve())

    @property
    def resolved_cache_dir(self) -> Path:
        return self.cache_dir or self.home / "cache"

    def check_production(self) -> None:
        """Outside development, refuse a missing, placeholder or weak bootstrap admin key (:data:`SECRET_RULE`)."""
        if self.environment in ("development", "test"):
            return
        key = self.bootstrap_admin_key
        why = "it is not set" if key is None else secret_weakness(key)
        if why is not None:
            raise SettingsError(
                f"WAREHOUSE_BOOTSTRAP_ADMIN_KEY is too weak for environment {self.environment!r}: {why}. "
                f"A key needs {SECRET_RULE}",
                field="bootstrap_admin_key",
                value=None,  # never keep the secret in the error
            )


_DOTTED_NUMBERS = re.compile(r"^[0-9.]+$")


def check_bind_address(host: str, port: int) -> None:
    """``host:port`` can be listened on now; else :class:`SettingsError` naming the value and the fix."""
    fix = "use 127.0.0.1 (this machine only), 0.0.0.0 (every interface) or a local address"
    try:
        ipaddress.ip_address(host)
    except ValueError:
        if _DOTTED_NUMBERS.match(host) or not host or len(host) > 253:
            raise SettingsError(f"--host {host!r} is not an IP address; {fix}", field="host", value=host) from None
        try:
            socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except OSError as exc:
            raise SettingsError(f"--host {host!r} does not resolve ({exc}); {fix}", field="host", value=host) from None
    if not isinstance(port, int) or not 0 < port < 65536:
        raise SettingsError(f"--port {port!r} is not a port number; use 1-65535", field="port", value=port)
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    try:
        with socket.socket(family, socket.SOCK_STREAM) as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind((host, port))
    except OSError as exc:
        fix_port = "choose another --port or stop what listens there" if exc.errno == 98 else fix
        raise SettingsError(
            f"cannot listen on {host}:{port}: {exc.strerror or exc}; {fix_port}", field="host", value=f"{host}:{port}"
        ) from None
