"""``open_bus(url)``: pick a backend by URL scheme."""
from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

from warehouse.bus.api import EventBus
from warehouse.bus.errors import BusError

__all__ = ["open_bus", "BUS_SCHEMES"]

BUS_SCHEMES = ("sqlite", "kafka")


def open_bus(url: str, *, topic_prefix: str = "", client_id: str = "city-warehouse") -> EventBus:
    """Open the bus named by ``url``.

    - ``sqlite:///abs/path/bus.db`` or ``sqlite:///relative/bus.db`` (like SQLAlchemy:
      three slashes then the path; four for an absolute path also work) -> :class:`SqliteBus`
    - ``kafka://host:port[,host:port]`` -> :class:`KafkaBus`

    Example::

        bus = open_bus("sqlite:///var/bus.db")
        bus = open_bus("kafka://127.0.0.1:9092", topic_prefix="staging.")
    """
    if not isinstance(url, str) or "://" not in url:
        raise BusError(f"bus URL {url!r} has no scheme; expected one of {', '.join(s + '://' for s in BUS_SCHEMES)} (e.g. sqlite:///var/bus.db)")
    scheme = url.split("://", 1)[0].lower()
    if scheme == "sqlite":
        from warehouse.bus.sqlite_bus import SqliteBus

        path = url.split("://", 1)[1]
        # sqlite:///var/bus.db -> "/var/bus.db" by URL rules; SQLAlchemy reads it as relative
        # "var/bus.db" and sqlite:////abs as absolute. Follow SQLAlchemy, the catalog's convention.
        path = path[1:] if path.startswith("/") else path
        if not path:
            raise BusError(f"bus URL {url!r} has no file path; expected sqlite:///path/to/bus.db")
        return SqliteBus(Path(path), topic_prefix=topic_prefix)
    if scheme == "kafka":
        from warehouse.bus.kafka_bus import KafkaBus

        netloc = urlsplit(url).netloc or url.split("://", 1)[1].strip("/")
        if not netloc:
            raise BusError(f"bus URL {url!r} has no broker address; expected kafka://host:port")
        return KafkaBus(netloc, topic_prefix=topic_prefix, client_id=client_id)
    raise BusError(f"bus URL {url!r} has unknown scheme {scheme!r}; valid schemes: {', '.join(BUS_SCHEMES)} (sqlite:///path/bus.db, kafka://host:port)")
