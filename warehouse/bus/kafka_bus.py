"""The Apache Kafka event bus (kafka-python >= 3.0), behind the same contract as SqliteBus.

JSON values, utf-8 keys, ``acks='all'`` with the idempotent producer, manual commits only.
Topics are created on demand through the admin client with the bus's partition count.
kafka-python is imported when a KafkaBus is built, so a worker on the embedded bus never
pays for it.
"""
from __future__ import annotations

import logging
import socket
import threading
import time
from typing import Any

from warehouse.bus._codec import check_group, check_topic, decode_value, encode_value, topic_list
from warehouse.bus.api import DEFAULT_PARTITIONS, Record
from warehouse.bus.errors import BusError, BusUnavailableError

__all__ = ["KafkaBus", "KafkaConsumerAdapter"]

log = logging.getLogger(__name__)

_FIX = "start one with `python scripts/kafka_broker.py start` (prints bootstrap=HOST:PORT) or use WAREHOUSE_BUS_URL=sqlite:///var/bus.db"
_TOPIC_ALREADY_EXISTS = 36


def _parse_bootstrap(bootstrap: str) -> list[tuple[str, int]]:
    addrs = []
    for part in str(bootstrap).split(","):
        host, sep, port = part.strip().rpartition(":")
        if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise BusError(f"kafka bootstrap {bootstrap!r} is not HOST:PORT[,HOST:PORT...]; e.g. 127.0.0.1:9092")
        addrs.append((host.strip("[]"), int(port)))
    return addrs


def _probe(bootstrap: str, addrs: list[tuple[str, int]], timeout_s: float) -> None:
    """Fail in seconds, not after kafka-python's 30 s bootstrap, when nothing listens."""
    errors = []
    for host, port in addrs:
        try:
            with socket.create_connection((host, port), timeout=timeout_s):
                return
        except OSError as exc:
            errors.append(f"{host}:{port}: {exc.strerror or exc}")
    raise BusUnavailableError(f"kafka broker at {bootstrap} is unreachable ({'; '.join(errors)}); {_FIX}")


class KafkaBus:
    """Event bus on a Kafka cluster (see :class:`~warehouse.bus.EventBus`).

    Example::

        bus = KafkaBus("127.0.0.1:9092", client_id="runtime-worker-3")
        bus.publish("alerts", {"event_id": "e1", "type": "alert", "ts_ms": 0}, key="cam-1")
        bus.flush()

    Raises :class:`BusUnavailableError` within about ``connect_timeout_s`` when the broker
    cannot be reached.
    """

    def __init__(
        self,
        bootstrap: str,
        *,
        client_id: str = "city-warehouse",
        topic_prefix: str = "",
        partitions: int = DEFAULT_PARTITIONS,
        connect_timeout_s: float = 5.0,
        linger_ms: int = 5,
    ) -> None:
        from kafka import KafkaAdminClient, KafkaProducer
        from kafka import errors as kerrors

        if not isinstance(partitions, int) or partitions < 1:
            raise BusError(f"partitions={partitions!r}; expected an int >= 1")
        self.bootstrap = bootstrap
        self.client_id = client_id
        self.topic_prefix = topic_prefix
        self.partitions = partitions
        self._timeout_ms = int(connect_timeout_s * 1000)
        _probe(bootstrap, _parse_bootstrap(bootstrap), connect_timeout_s)
        common = {
            "bootstrap_servers": bootstrap,
            "client_id": client_id,
            "bootstrap_timeout_ms": self._timeout_ms,
        }
        self._common = common
        try:
            self._admin = KafkaAdminClient(request_timeout_ms=max(self._timeout_ms, 10000), **common)
            self._producer = KafkaProducer(
                acks="all",
                enable_idempotence=True,
                linger_ms=linger_ms,
                max_block_ms=max(self._timeout_ms, 10000),
                key_serializer=lambda k: None if k is None else k.encode("utf-8"),
                value_serializer=lambda v: v.encode("utf-8"),
                **common,
            )
        except kerrors.KafkaError as exc:
            raise BusUnavailableError(f"kafka broker at {bootstrap} did not answer as Kafka ({exc!r}); {_FIX}") from exc
        self._kerrors = kerrors
        self._known_topics: set[str] = set()
        self._topic_lock = threading.Lock()
        self._send_errors: list[BaseException] = []
        self._closed = False
        log.debug("kafka bus %s open (client_id=%s, prefix=%r)", bootstrap, client_id, topic_prefix)

    def __repr__(self) -> str:
        return f"KafkaBus({self.bootstrap!r}, client_id={self.client_id!r}, topic_prefix={self.topic_prefix!r})"

    def _check_open(self) -> None:
        if self._closed:
            raise BusError(f"{self!r} is closed; open a new KafkaBus")

    def ensure_topics(self, topics: list[str]) -> None:
        """Create the (prefixed) topics that do not exist yet, with ``self.partitions``."""
        missing = [self.topic_prefix + check_topic(t) for t in topics]
        with self._topic_lock:
            missing = [t for t in missing if t not in self._known_topics]
            if not missing:
                return
            spec = {t: {"num_partitions": self.partitions, "replication_factor": -1} for t in missing}
            try:
                result = self._admin.create_topics(spec, raise_errors=False)
                failed = [
                    f"{t['name']}: error {t['error_code']} {t.get('error_message') or ''}".strip()
                    for t in result["topics"]
                    if t["error_code"] not in (0, _TOPIC_ALREADY_EXISTS)
                ]
                if failed:
                    raise BusError(f"kafka at {self.bootstrap} refused to create topics: {'; '.join(failed)}")
                self._admin.wait_for_topics(missing, timeout_ms=max(self._timeout_ms, 10000))
            except self._kerrors.KafkaError as exc:
                raise BusUnavailableError(f"creating topics {missing} on kafka at {self.bootstrap} failed: {exc!r}; {_FIX}") from exc
            self._known_topics.update(missing)

    def publish(self, topic: str, value: dict[str, Any], *, key: str | None = None) -> None:
        """Queue ``value`` for ``topic`` (sent within ``linger_ms``); :meth:`flush` waits for acks."""
        self._check_open()
        if key is not None and not isinstance(key, str):
            raise BusError(f"key must be a str or None, got {type(key).__name__}: {key!r}")
        text = encode_value(value)
        self.ensure_topics([topic])
        try:
            future = self._producer.send(self.topic_prefix + topic, value=text, key=key)
        except self._kerrors.KafkaError as exc:
            raise BusUnavailableError(f"publishing to {topic!r} on kafka at {self.bootstrap} failed: {exc!r}; {_FIX}") from exc
        # errbacks keep memory bounded (no list of every future); flush() reports them.
        future.add_errback(self._send_errors.append)

    def flush(self, timeout_s: float = 10) -> None:
        """Wait until every published record is acknowledged by all in-sync replicas."""
        self._check_open()
        try:
            self._producer.flush(timeout=timeout_s)
        except self._kerrors.KafkaError as exc:
            raise BusUnavailableError(f"kafka at {self.bootstrap} did not acknowledge within {timeout_s}s: {exc!r}") from exc
        errors, self._send_errors = self._send_errors, []
        if errors:
            raise BusError(f"{len(errors)} records were not written to kafka at {self.bootstrap}: {errors[0]!r}")

    def consumer(self, topics: list[str] | str, *, group: str, from_beginning: bool = True) -> "KafkaConsumerAdapter":
        self._check_open()
        names = topic_list(topics)
        self.ensure_topics(names)
        return KafkaConsumerAdapter(self, names, check_group(group), from_beginning)

    def close(self) -> None:
        if self._closed:
            return
        try:
            self.flush()
        finally:
            self._closed = True
            self._producer.close(timeout=5)
            self._admin.close()

    def __enter__(self) -> "KafkaBus":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class KafkaConsumerAdapter:
    """A kafka-python ``KafkaConsumer`` in a group, behind :class:`~warehouse.bus.BusConsumer`."""

    def __init__(self, bus: KafkaBus, topics: list[str], group: str, from_beginning: bool) -> None:
        from kafka import KafkaConsumer
        from kafka.structs import OffsetAndMetadata

        self.group = group
        self._bus = bus
        self._prefix = bus.topic_prefix
        self._oam = OffsetAndMetadata
        self._kerrors = bus._kerrors
        try:
            self._consumer = KafkaConsumer(
                group_id=self._prefix + group,  # the prefix namespaces groups too
                enable_auto_commit=False,
                auto_offset_reset="earliest" if from_beginning else "latest",
                key_deserializer=lambda k: None if k is None else k.decode("utf-8", errors="replace"),
                value_deserializer=decode_value,
                session_timeout_ms=10000,
                heartbeat_interval_ms=1000,
                # A member that joined before it knew a new topic's partitions gets an empty
                # assignment until its next metadata refresh (default 5 min): refresh often.
                metadata_max_age_ms=5000,
                **bus._common,
            )
            self._prime_metadata([self._prefix + t for t in topics], bus.partitions)
        except self._kerrors.KafkaError as exc:
            raise BusUnavailableError(f"kafka consumer for group {group!r} could not reach {bus.bootstrap}: {exc!r}; {_FIX}") from exc
        self._consumer.subscribe([self._prefix + t for t in topics])
        self._pending: dict[Any, int] = {}
        self._closed = False

    def _prime_metadata(self, topics: list[str], partitions: int, timeout_s: float = 10.0) -> None:
        # Know every partition before joining, so the group's first assignment is complete.
        deadline = time.monotonic() + timeout_s
        for topic in topics:
            while len(self._consumer.partitions_for_topic(topic)) < partitions and time.monotonic() < deadline:
                time.sleep(0.05)

    def poll(self, timeout_s: float = 1.0, max_records: int = 500) -> list[Record]:
        if self._closed:
            raise BusError(f"consumer of group {self.group!r} is closed; open a new one with bus.consumer()")
        if max_records < 1:
            raise BusError(f"max_records={max_records}; expected >= 1")
        try:
            batches = self._consumer.poll(timeout_ms=int(timeout_s * 1000), max_records=max_records)
        except self._kerrors.KafkaError as exc:
            raise BusUnavailableError(f"polling kafka at {self._bus.bootstrap} for group {self.group!r} failed: {exc!r}") from exc
        out: list[Record] = []
        for tp, messages in batches.items():
            for m in messages:
                out.append(Record(m.topic[len(self._prefix):], m.partition, m.offset, m.key, m.value, m.timestamp))
            if messages:
                self._pending[tp] = messages[-1].offset + 1
        return out

    def commit(self) -> None:
        if self._closed:
            raise BusError(f"consumer of group {self.group!r} is closed; commit before close()")
        if not self._pending:
            return
        offsets = {tp: self._oam(off, "", -1) for tp, off in self._pending.items()}
        try:
            self._consumer.commit(offsets=offsets)
        except self._kerrors.KafkaError as exc:
            raise BusError(
                f"commit of {len(offsets)} partitions for group {self.group!r} failed ({exc!r}); "
                "the records will be delivered again (a rebalance moved them to another member)"
            ) from exc
        self._pending.clear()

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._consumer.close(autocommit=False)
