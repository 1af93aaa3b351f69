"""Which stream URLs a camera may have, and credentials kept apart from the URL (pure).

The default policy allows ``rtsp``, ``rtsps``, ``http``, ``https`` and ``synthetic`` URLs to
any host except link-local addresses (169.254.0.0/16, fe80::/10) and cloud metadata hosts.
Local files (``file:`` URLs or plain paths) and image folders are refused unless they lie
under a root the admin configured (``WAREHOUSE_ALLOWED_STREAM_ROOTS``, ``os.pathsep`` or
comma separated). ``WAREHOUSE_ALLOWED_STREAM_SCHEMES`` replaces the scheme list.

>>> policy = StreamPolicy()
>>> policy.check("rtsp://10.0.0.5/stream1")
'rtsp://10.0.0.5/stream1'
>>> split_credentials("rtsp://admin:s3cret@10.0.0.5:554/live")
('rtsp://10.0.0.5:554/live', 'admin:s3cret')
"""
from __future__ import annotations

import ipaddress
import os
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from warehouse.ops.errors import StreamUrlRefusedError

__all__ = ["DEFAULT_SCHEMES", "METADATA_HOSTS", "StreamPolicy", "join_credentials", "redact", "split_credentials"]

DEFAULT_SCHEMES = ("rtsp", "rtsps", "http", "https", "synthetic")
METADATA_HOSTS = frozenset({
    "metadata", "metadata.google.internal", "metadata.goog", "169.254.169.254", "169.254.170.2",
    "fd00:ec2::254", "100.100.100.200", "metadata.azure.com", "instance-data", "instance-data.ec2.internal",
})
_LINK_LOCAL = (ipaddress.ip_network("169.254.0.0/16"), ipaddress.ip_network("fe80::/10"))
MAX_URL_CHARS = 2048


def split_credentials(url: str) -> tuple[str, str | None]:
    """``(url without user:password, the user:password part or None)``."""
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url, None
    userinfo, _, hostport = parts.netloc.rpartition("@")
    return urlunsplit((parts.scheme, hostport, parts.path, parts.query, parts.fragment)), userinfo


def join_credentials(url: str, userinfo: str | None) -> str:
    if not userinfo:
        return url
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, f"{userinfo}@{parts.netloc}", parts.path, parts.query, parts.fragment))


def redact(url: str, userinfo: str | None) -> str:
    """The URL as shown below admin: ``rtsp://***@host/path`` when it has credentials."""
    return join_credentials(url, "***") if userinfo else url


def _roots_from_env() -> tuple[Path, ...]:
    raw = os.environ.get("WAREHOUSE_ALLOWED_STREAM_ROOTS", "")
    parts = [p for chunk in raw.split(",") for p in chunk.split(os.pathsep)]
    return tuple(Path(p).expanduser().resolve() for p in parts if p.strip())


@dataclass(frozen=True, slots=True)
class StreamPolicy:
    """What the admin allows as a camera's stream URL.

    ``allowed_roots``: folders whose files and sub-folders may be streams (videos, image
    folders); empty means no local files at all. ``denied_hosts`` adds to the built-in
    metadata hosts. Link-local targets are always refused.
    """

    schemes: tuple[str, ...] = DEFAULT_SCHEMES
    allowed_roots: tuple[Path, ...] = ()
    denied_hosts: frozenset[str] = field(default_factory=frozenset)

    @classmethod
    def from_env(cls, *, extra_roots: tuple[str | Path, ...] = ()) -> StreamPolicy:
        raw = os.environ.get("WAREHOUSE_ALLOWED_STREAM_SCHEMES", "")
        schemes = tuple(s.strip().lower() for s in raw.split(",") if s.strip()) or DEFAULT_SCHEMES
        denied = frozenset(h.strip().lower() for h in os.environ.get("WAREHOUSE_DENIED_STREAM_HOSTS", "").split(",") if h.strip())
        roots = _roots_from_env() + tuple(Path(r).expanduser().resolve() for r in extra_roots)
        return cls(schemes=schemes, allowed_roots=roots, denied_hosts=denied)

    def allowing_root(self, root: str | Path) -> StreamPolicy:
        return StreamPolicy(self.schemes, self.allowed_roots + (Path(root).expanduser().resolve(),), self.denied_hosts)

    def check(self, url: str) -> str:
        """Return ``url`` if allowed, else raise :class:`StreamUrlRefusedError` saying why and what to do."""
        if not isinstance(url, str) or not url.strip():
            raise StreamUrlRefusedError("stream_url is empty; give an rtsp://, http(s):// or synthetic:// URL")
        if len(url) > MAX_URL_CHARS or any(ord(ch) < 32 for ch in url):
            raise StreamUrlRefusedError(f"stream_url is longer than {MAX_URL_CHARS} characters or holds control characters")
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        if scheme in ("", "file") or (len(scheme) == 1 and url[1:3] in (":\\", ":/")):  # plain path, file:, C:\...
            return self._check_path(url, parts)
        if scheme not in self.schemes:
            raise StreamUrlRefusedError(
                f"stream_url scheme {scheme!r} is not allowed ({url!r}); allowed: {', '.join(self.schemes)}. "
                "An admin can change the list with WAREHOUSE_ALLOWED_STREAM_SCHEMES"
            )
        if scheme == "synthetic":
            return url
        try:
            host = (parts.hostname or "").lower()
            parts.port  # noqa: B018 - raises ValueError on a bad port
        except ValueError as exc:
            raise StreamUrlRefusedError(f"stream_url {redact(*split_credentials(url))!r} has a bad host or port: {exc}") from exc
        if not host:
            raise StreamUrlRefusedError(f"stream_url {redact(*split_credentials(url))!r} has no host; e.g. rtsp://10.0.0.5/stream1")
        self.check_host(host)
        return url

    def check_host(self, host: str) -> None:
        """Refuse link-local and metadata targets. Registration checks the URL's host; the workers
        call this again at every connect with each address the host resolves to then
        (``WorkerFactories.host_guard``), so a name re-pointed after registration is refused too."""
        host = host.strip("[]").lower().rstrip(".")
        if host in METADATA_HOSTS or host in self.denied_hosts:
            raise StreamUrlRefusedError(f"stream_url host {host!r} is a cloud metadata or denied host; cameras may not point at it")
        try:
            ip = ipaddress.ip_address(host.split("%")[0])
        except ValueError:
            return
        mapped = getattr(ip, "ipv4_mapped", None)
        for candidate in (ip, mapped):
            if candidate is not None and any(candidate in net for net in _LINK_LOCAL if candidate.version == net.version):
                raise StreamUrlRefusedError(f"stream_url host {host!r} is link-local (169.254.0.0/16, fe80::/10); cameras may not point at it")

    def _check_path(self, url: str, parts) -> str:
        raw = parts.path if parts.scheme.lower() == "file" else url
        if parts.scheme.lower() == "file" and parts.netloc not in ("", "localhost"):
            raise StreamUrlRefusedError(f"stream_url {url!r} names a remote file host; use a local path under an allowed root")
        if not self.allowed_roots:
            raise StreamUrlRefusedError(
                f"stream_url {url!r} is a local file or folder, and no local stream roots are configured; "
                "an admin can allow folders with WAREHOUSE_ALLOWED_STREAM_ROOTS=/srv/videos"
            )
        path = Path(raw).expanduser().resolve()  # resolves '..' and symlinks before the check
        if not any(path == root or root in path.parents for root in self.allowed_roots):
            raise StreamUrlRefusedError(
                f"stream_url {url!r} resolves to {str(path)!r}, outside the allowed stream roots "
                f"({', '.join(map(str, self.allowed_roots))}); move the file there or ask an admin to allow its folder"
            )
        return url
