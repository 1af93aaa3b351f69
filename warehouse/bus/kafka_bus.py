"""The Apache Kafka event bus (kafka-python >= 3.0), behind the same contract as SqliteBus.

JSON values, utf-8 keys, ``acks='all'`` with the idempotent producer, manual commits only.
Topics are created on demand through the admin client with the bus's partition count.
kafka-python is imported when a KafkaBus is built, so a worker on the embedded bus never
pays for it.
"""
from __future__ import annotations

import contextlib
import logging
import socket
import threading
import time
from typing import Any

from warehouse.bus._codec import check_group, check_topic, decode_value, encode_value, topic_list
from warehouse.bus.api import DEFAULT_PARTITIONS, Record
from warehouse.bus.errors import BusError, BusUnavailableError, MalformedEvent, PublishError

__all__ = ["KafkaBus", "KafkaConsumerAdapter"]

log = logging.getLogger(__name__)

_FIX = "start one with `python scripts/kafka_broker.py start` (prints bootstrap=HOST:PORT) or use WAREHOUSE_BUS_URL=sqlite:///var/bus.db"
_TOPIC_ALREADY_EXISTS = 36


def _key_serdes():
    """UTF-8 record keys, as kafka-python 3's (de)serializer classes; kafka-python is imported
    only when a KafkaBus is built."""
    from kafka.serializer import Deserializer, Serializer

    class KeySerializer(Serializer):
        def serialize(self, topic, headers, data):  # kafka-python's signature
            return None if data is None else data.encode("utf-8")

    class KeyDeserializer(Deserializer):
        def deserialize(self, topic, headers, data):
            return None if data is None else data.decode("utf-8", errors="replace")

    return KeySerializer(), KeyDeserializer()


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
        group_instance_id: str | None = None,
        transactional_id: str | None = None,
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
            # after a broker restart every client reconnects by itself within about a second
            # (kafka-python's default backs off up to 30 s between attempts)
            "reconnect_backoff_ms": 50,
            "reconnect_backoff_max_ms": 1000,
        }
        self._common = common
        self._lag_probe = None
        self._lag_lock = threading.Lock()
        # static group membership (KIP-345): a restarted member with the same id takes its
        # partitions back at once instead of waiting out the dead member's session
        self.group_instance_id = group_instance_id
        try:
            self._admin = KafkaAdminClient(request_timeout_ms=max(self._timeout_ms, 10000), **common)
            # Idempotent producer, acks from every in-sync replica: a retried batch is written
            # once (the broker drops the duplicate by producer id and sequence number), and a
            # record is acknowledged only once it is durable on the leader and all replicas.
            self._producer_config = {
                "acks": "all",
                "enable_idempotence": True,
                "max_in_flight_requests_per_connection": 5,  # the most idempotence allows, order kept
                "linger_ms": linger_ms,
                "max_block_ms": max(self._timeout_ms, 10000),
                "key_serializer": _key_serdes()[0],
                **common,
            }
            if transactional_id:
                # exactly-once consume-transform-produce: a consumer's outputs and its offsets
                # commit in one transaction (IdempotentConsumer uses it when the bus has one);
                # a restarted process with the same id aborts its predecessor's open one
                self._producer_config.update(transactional_id=self.topic_prefix + transactional_id,
                                             transaction_timeout_ms=15000)  # fmt: skip
            self._producer_class = KafkaProducer
            self._producer = KafkaProducer(**self._producer_config)
            if transactional_id:
                self._producer.init_transactions()
        except kerrors.KafkaError as exc:
            raise BusUnavailableError(f"kafka broker at {bootstrap} did not answer as Kafka ({exc!r}); {_FIX}") from exc
        self._kerrors = kerrors
        self._known_topics: set[str] = set()
        self._topic_lock = threading.Lock()
        self._outcome_lock = threading.Lock()
        self._acked = 0
        self._failed: list[tuple[str, str | None, str | None, str]] = []
        self._closed = False
        log.debug("kafka bus %s open (client_id=%s, prefix=%r)", bootstrap, client_id, topic_prefix)

    @property
    def transactional(self) -> bool:
        """True when built with ``transactional_id``: see :meth:`begin` and :meth:`commit_transaction`."""
        return "transactional_id" in self._producer_config

    def begin(self) -> None:
        """Start a transaction: what is published until :meth:`commit_transaction` is visible
        to ``read_committed`` readers (every consumer of this bus) all at once, or never."""
        self._check_open()
        try:
            self._producer.begin_transaction()
        except self._kerrors.KafkaError as exc:
            raise BusUnavailableError(f"kafka at {self.bootstrap} could not begin a transaction: {exc!r}") from exc

    def commit_transaction(self, offsets: dict[tuple[str, int], int], group: str) -> None:
        """Commit the open transaction together with ``group``'s offsets ``{(topic, partition): next}``."""
        from kafka.structs import OffsetAndMetadata, TopicPartition

        request = {TopicPartition(self.topic_prefix + t, p): OffsetAndMetadata(off, "", -1) for (t, p), off in offsets.items()}
        try:
            if request:
                self._producer.send_offsets_to_transaction(request, self.topic_prefix + group)
            self._producer.commit_transaction()
        except self._kerrors.KafkaError as exc:
            self.abort()
            raise BusUnavailableError(
                f"kafka at {self.bootstrap} did not commit the transaction of group {group!r} ({exc!r}); "
                "nothing of it is visible: the records are processed again"
            ) from exc
        with self._outcome_lock:
            self._acked, self._failed = 0, []

    def abort(self) -> None:
        """Abort the open transaction (its records are never visible to ``read_committed`` readers)."""
        with contextlib.suppress(Exception):
            self._producer.abort_transaction()
        with self._outcome_lock:
            self._acked, self._failed = 0, []

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
        """Queue ``value`` for ``topic`` (sent within ``linger_ms``); :meth:`flush` waits for the acks
        and reports every record that was not written."""
        event_id = value.get("event_id") if isinstance(value, dict) else None
        self._send(topic, encode_value(value).encode("utf-8"), key, event_id if isinstance(event_id, str) else None)

    def publish_raw(self, topic: str, data: bytes, *, key: str | None = None) -> None:
        """Queue ``data`` as is (a dead-letter replay republishes the original bytes)."""
        if not isinstance(data, (bytes, bytearray)):
            raise BusError(f"publish_raw needs bytes, got {type(data).__name__}; use publish() for a dict")
        self._send(topic, bytes(data), key, None)

    def _renew_producer_if_fatal(self) -> None:
        """An idempotent producer that hit a fatal error (e.g. the broker refused a batch as
        too large) fails every later record; replace it (a new producer id) so one bad record
        does not stop the rest."""
        manager = getattr(self._producer, "_transaction_manager", None)
        if manager is not None and manager.has_fatal_error():
            log.warning("kafka producer %s hit a fatal error; starting a new one", self.client_id)
            with contextlib.suppress(Exception):
                self._producer.close(timeout=1)
            self._producer = self._producer_class(**self._producer_config)
            if self.transactional:
                self._producer.init_transactions()

    def _send(self, topic: str, data: bytes, key: str | None, event_id: str | None) -> None:
        self._check_open()
        self._renew_producer_if_fatal()
        if key is not None and not isinstance(key, str):
            raise BusError(f"key must be a str or None, got {type(key).__name__}: {key!r}")
        self.ensure_topics([topic])
        try:
            future = self._producer.send(self.topic_prefix + topic, value=data, key=key)
        except self._kerrors.MessageSizeTooLargeError as exc:
            raise MalformedEvent(
                f"record {event_id or '(raw)'} for {topic!r} is {len(data)} bytes, over the producer's limit "
                f"({exc}); keep events small: put large payloads in the artifact store and send their sha256"
            ) from exc
        except self._kerrors.KafkaError as exc:
            raise BusUnavailableError(f"publishing to {topic!r} on kafka at {self.bootstrap} failed: {exc!r}; {_FIX}") from exc
        # callbacks keep memory bounded (no list of every future); flush() reports them
        future.add_callback(self._on_ack)
        future.add_errback(self._on_error, topic, key, event_id)

    def _on_ack(self, _metadata: Any) -> None:
        with self._outcome_lock:
            self._acked += 1

    def _on_error(self, topic: str, key: str | None, event_id: str | None, exc: BaseException) -> None:
        with self._outcome_lock:
            self._failed.append((topic, key, event_id, repr(exc)))

    def flush(self, timeout_s: float = 10) -> int:
        """Wait until every published record is acknowledged by all in-sync replicas.

        Returns how many records were written since the last flush; raises
        :class:`~warehouse.bus.PublishError` listing exactly the ones that were not (the
        others were written, once: the producer is idempotent).
        """
        self._check_open()
        try:
            self._producer.flush(timeout=timeout_s)
        except self._kerrors.KafkaError as exc:
            raise BusUnavailableError(
                f"kafka at {self.bootstrap} did not acknowledge within {timeout_s}s: {exc!r}; the unacknowledged "
                "records stay queued and are retried (a later flush reports them)"
            ) from exc
        with self._outcome_lock:
            written, failed = self._acked, self._failed
            self._acked, self._failed = 0, []
        self._renew_producer_if_fatal()
        if failed:
            topic, key, event_id, err = failed[0]
            raise PublishError(
                f"{len(failed)} record(s) were not written to kafka at {self.bootstrap} ({written} were), first: "
                f"topic={topic!r} key={key!r} event_id={event_id!r}: {err}; publish them again (same event ids)",
                failed=failed,
                written=written,
            )
        return written

    def lag(self, group: str, topics: list[str] | str) -> int:
        """Records of ``topics`` that ``group`` has not committed yet (end offsets - committed offsets)."""
        from kafka import KafkaConsumer, TopicPartition

        names = [topics] if isinstance(topics, str) else list(topics)
        physical = [self.topic_prefix + check_topic(t) for t in names]
        from kafka.errors import CoordinatorNotAvailableError

        gid = self.topic_prefix + group
        for attempt in range(20):  # a fresh broker creates its offsets topic on first use: wait for it
            try:
                committed = self._admin.list_group_offsets(gid).get(gid, {})
                break
            except CoordinatorNotAvailableError:
                if attempt == 19:
                    raise
                time.sleep(0.5)
        with self._lag_lock:
            if self._lag_probe is None:  # one metadata consumer for every lag query, closed with the bus
                self._lag_probe = KafkaConsumer(**self._common)
            probe = self._lag_probe
            tps = [TopicPartition(t, p) for t in physical for p in (probe.partitions_for_topic(t) or ())]
            ends = probe.end_offsets(tps) if tps else {}
        return int(sum(max(0, end - (committed[tp].offset if tp in committed and committed[tp].offset >= 0 else 0))
                       for tp, end in ends.items()))

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
            if self._lag_probe is not None:
                self._lag_probe.close()

    def __enter__(self) -> "KafkaBus":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class KafkaConsumerAdapter:
    """A kafka-python ``KafkaConsumer`` in a group, behind :class:`~warehouse.bus.BusConsumer`."""

    def __init__(self, bus: KafkaBus, topics: list[str], group: str, from_beginning: bool) -> None:
        from kafka import KafkaConsumer
        from kafka.structs import OffsetAndMetadata, TopicPartition

        self.group = group
        self._bus = bus
        self._prefix = bus.topic_prefix
        self._oam = OffsetAndMetadata
        self._tp = TopicPartition
        self._kerrors = bus._kerrors
        try:
            self._consumer = KafkaConsumer(
                group_id=self._prefix + group,  # the prefix namespaces groups too
                enable_auto_commit=False,
                auto_offset_reset="earliest" if from_beginning else "latest",
                # never see records of an aborted transaction (a consumer killed mid-batch)
                isolation_level="read_committed",
                key_deserializer=_key_serdes()[1],
                # values stay bytes here: decoding never raises inside kafka-python's fetcher,
                # and the raw bytes are kept for the dead-letter topic
                session_timeout_ms=10000,
                heartbeat_interval_ms=1000,
                # A member that joined before it knew a new topic's partitions gets an empty
                # assignment until its next metadata refresh (default 5 min): refresh often.
                metadata_max_age_ms=5000,
                **bus._common,
                **({"group_instance_id": bus.group_instance_id} if bus.group_instance_id else {}),
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
                out.append(Record(m.topic[len(self._prefix):], m.partition, m.offset, m.key, decode_value(m.value),
                                  m.timestamp, raw=m.value))
            if messages:
                self._pending[tp] = messages[-1].offset + 1
        return out

    def commit(self, offsets: dict[tuple[str, int], int] | None = None) -> None:
        if self._closed:
            raise BusError(f"consumer of group {self.group!r} is closed; commit before close()")
        if offsets is None:
            target = dict(self._pending)
        else:
            target = {self._tp(self._prefix + t, p): int(off) for (t, p), off in offsets.items()}
        if not target:
            return
        request = {tp: self._oam(off, "", -1) for tp, off in target.items()}
        try:
            self._consumer.commit(offsets=request)
        except self._kerrors.KafkaError as exc:
            raise BusError(
                f"commit of {len(request)} partitions for group {self.group!r} failed ({exc!r}); "
                "the records will be delivered again (a rebalance moved them, or the broker is restarting)"
            ) from exc
        for tp in target:
            if self._pending.get(tp) == target[tp]:
                del self._pending[tp]

    def seek(self, topic: str, partition: int, offset: int) -> None:
        if self._closed:
            raise BusError(f"consumer of group {self.group!r} is closed")
        tp = self._tp(self._prefix + topic, partition)
        try:
            self._consumer.seek(tp, max(0, int(offset)))
        except (self._kerrors.KafkaError, AssertionError, ValueError) as exc:
            # not assigned any more (a rebalance took it): the new owner reads it from the commit
            log.info("group=%s cannot seek %s[%d] to %d (%s); it is read again from its commit", self.group, topic, partition, offset, exc)
        self._pending.pop(tp, None)

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._consumer.close(autocommit=False)
