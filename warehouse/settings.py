"""One place for configuration: environment variables prefixed ``WAREHOUSE_``, embedded defaults.

The defaults run everything on one machine with nothing to install beyond the package:
the catalog in SQLite, the event bus as an embedded durable log, local Ray.
"""
from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="WAREHOUSE_", extra="ignore")

    home: Path = Field(default=Path("var"), description="Root folder for state: catalog DB, artifacts, bus log, caches.")
    catalog_url: str | None = Field(default=None, description="SQLAlchemy URL; default sqlite under home.")
    bus_url: str | None = Field(default=None, description="sqlite:///path or kafka://host:port; default sqlite under home.")
    artifact_url: str | None = Field(default=None, description="Artifact store root (path or fsspec URL); default under home.")
    ray_address: str | None = Field(default=None, description="Ray cluster address; None starts local Ray.")
    cache_dir: Path | None = Field(default=None, description="Caches (backbone ONNX, embeddings); default home/cache.")
    environment: str = Field(default="development", description="development | production")
    bootstrap_admin_key: str | None = Field(
        default=None, description="If set, an admin API key with this value is created at start (never logged)."
    )

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
        """Refuse placeholder secrets outside development."""
        if self.environment != "development" and self.bootstrap_admin_key in {None, "", "changeme", "admin"}:
            raise ValueError(
                f"WAREHOUSE_BOOTSTRAP_ADMIN_KEY is {self.bootstrap_admin_key!r} in environment {self.environment!r}; "
                "set a long random key (e.g. `python -c 'import secrets;print(secrets.token_urlsafe(32))'`)"
            )
