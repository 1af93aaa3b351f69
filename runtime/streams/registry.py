"""Turning a camera's URL into a source: a registry of factories by URL scheme.

A registry is an object you pass around (tests and deployments can add schemes), not a
global; ``default_source_registry()`` returns a fresh one with the built-in kinds.

>>> reg = default_source_registry()
>>> reg.schemes()
('file', 'folder', 'rtsp', 'rtsps', 'synthetic')
>>> src = open_source("synthetic://road?seed=2&fps=5&n=10", "cam-7")
>>> type(src).__name__, src.fps, src.n_frames
('SyntheticSource', 5.0, 10)
"""
from __future__ import annotations

import re
from typing import Any, Callable
from urllib.parse import parse_qsl, urlsplit

from runtime.streams.base import StreamConfigError, StreamSource
from runtime.streams.files import ImageFolderSource, VideoFileSource
from runtime.streams.rtsp import RtspSource
from runtime.streams.synthetic import SyntheticSource, parse_schedule

# (url, camera_id, **options) -> source
SourceFactory = Callable[..., StreamSource]

_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*)://")
_TRUE = {"1", "true", "yes", "on"}


def _query(url: str) -> tuple[str, dict[str, str]]:
    parts = urlsplit(url)
    return parts.netloc + parts.path, dict(parse_qsl(parts.query, keep_blank_values=True))


def _number(q: dict[str, str], key: str, cast, url: str, default=None):
    if key not in q:
        return default
    try:
        return cast(q[key])
    except ValueError:
        raise StreamConfigError(f"{key}={q[key]!r} in {url!r} is not a {cast.__name__}; e.g. {key}=10") from None


def _file(url: str, camera_id: str, **opts: Any) -> StreamSource:
    path = url[len("file://"):] if url.startswith("file://") else url
    return VideoFileSource(path, camera_id=camera_id, **opts)


def _folder(url: str, camera_id: str, **opts: Any) -> StreamSource:
    path, q = _query(url)
    kw: dict[str, Any] = {"fps": _number(q, "fps", float, url, 1.0), "loop": q.get("loop", "0").lower() in _TRUE}
    return ImageFolderSource(path, camera_id=camera_id, **(kw | opts))


def _rtsp(url: str, camera_id: str, **opts: Any) -> StreamSource:
    return RtspSource(url, camera_id=camera_id, **opts)


def _synthetic(url: str, camera_id: str, **opts: Any) -> StreamSource:
    scene, q = _query(url)
    kw: dict[str, Any] = {
        "seed": _number(q, "seed", int, url, 0),
        "fps": _number(q, "fps", float, url, 10.0),
        "n_frames": _number(q, "n", int, url, None),
        "event_schedule": parse_schedule(q.get("events", "")),
        "realtime": q.get("realtime", "0").lower() in _TRUE,
    }
    if "condition" in q:
        kw["condition"] = q["condition"]
    return SyntheticSource(scene.strip("/"), camera_id=camera_id, **(kw | opts))


class SourceRegistry:
    """Factories by URL scheme. A URL without ``scheme://`` is a video file path."""

    def __init__(self) -> None:
        self._factories: dict[str, SourceFactory] = {}
        self._network: set[str] = set()

    def register(self, scheme: str, factory: SourceFactory, *, network: bool = False) -> None:
        """``network``: the factory connects to a host and takes a ``host_guard`` (see :meth:`open`)."""
        if not re.fullmatch(r"[a-z][a-z0-9+.-]*", scheme):
            raise StreamConfigError(f"scheme {scheme!r} is not a lowercase URL scheme like 'rtsp' or 'folder'")
        self._factories[scheme] = factory
        if network:
            self._network.add(scheme)
        else:
            self._network.discard(scheme)

    def schemes(self) -> tuple[str, ...]:
        return tuple(sorted(self._factories))

    def open(self, url: str, camera_id: str, *, host_guard: Callable[[str], None] | None = None,
             **options: Any) -> StreamSource:
        """``host_guard``: called with the host and its addresses before each connect of a network
        source (it raises to refuse); local and synthetic sources have no host and ignore it."""
        if not isinstance(url, str) or not url.strip():
            raise StreamConfigError(f"stream URL {url!r} for camera {camera_id!r} is empty; "
                                    "pass a video file path, rtsp://..., folder://... or synthetic://<scene>")
        if not camera_id:
            raise StreamConfigError(f"camera_id {camera_id!r} for {url!r} is empty; pass the camera's id")
        m = _SCHEME.match(url)
        scheme = m.group(1).lower() if m else "file"
        factory = self._factories.get(scheme)
        if factory is None:
            raise StreamConfigError(
                f"unknown stream URL scheme {scheme!r} in {url!r} for camera {camera_id!r}; expected a video file path "
                f"or one of {', '.join(s + '://' for s in self.schemes())}; register a factory with "
                f"SourceRegistry.register({scheme!r}, factory) to add it"
            )
        if host_guard is not None and scheme in self._network:
            options["host_guard"] = host_guard
        return factory(url, camera_id, **options)


def default_source_registry() -> SourceRegistry:
    """A new registry with file, folder://, rtsp://, rtsps:// and synthetic:// sources."""
    reg = SourceRegistry()
    reg.register("file", _file)
    reg.register("folder", _folder)
    reg.register("rtsp", _rtsp, network=True)
    reg.register("rtsps", _rtsp, network=True)
    reg.register("synthetic", _synthetic)
    return reg


def open_source(url: str, camera_id: str, *, registry: SourceRegistry | None = None,
                host_guard: Callable[[str], None] | None = None, **options: Any) -> StreamSource:
    """Open ``url`` as camera ``camera_id`` (``options`` go to the source's constructor;
    ``host_guard`` to network sources, see :meth:`SourceRegistry.open`)."""
    return (registry or default_source_registry()).open(url, camera_id, host_guard=host_guard, **options)
