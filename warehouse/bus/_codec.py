"""Shared encoding and validation for every backend (private)."""
from __future__ import annotations

import json
import re
import time
import zlib
from typing import Any

from catalog import Limits, UnsafeInputError, load_json_text
from warehouse.bus.errors import BusError, MalformedEvent

# A record is one event: small, shallow. Kafka's own default limit is 1 MB per record.
RECORD_LIMITS = Limits(max_bytes=1 << 20, max_depth=32, max_nodes=100_000, max_aliases=0)

# Kafka's legal topic characters; the embedded bus accepts the same so URLs can switch.
_TOPIC_RE = re.compile(r"^[A-Za-z0-9._-]{1,200}$")
DECODE_ERROR_FIELD = "_decode_error"


def now_ms() -> int:
    return int(time.time() * 1000)


def check_topic(topic: str) -> str:
    if not isinstance(topic, str) or not _TOPIC_RE.match(topic):
        raise BusError(f"topic {topic!r} is not a valid name; expected 1-200 characters of [A-Za-z0-9._-]")
    return topic


def topic_list(topics: list[str] | str) -> list[str]:
    names = [topics] if isinstance(topics, str) else list(topics)
    if not names:
        raise BusError("consumer() got no topics; pass a topic name or a non-empty list of names")
    return [check_topic(t) for t in names]


def check_group(group: str) -> str:
    if not isinstance(group, str) or not group.strip():
        raise BusError(f"consumer group {group!r} is empty; pass group='<service-name>'")
    return group


def encode_value(value: dict[str, Any]) -> str:
    """JSON text of ``value``; refuses what could not be consumed back as a dict."""
    if not isinstance(value, dict):
        raise MalformedEvent(f"event value must be a dict (JSON object), got {type(value).__name__}: {value!r:.80}")
    try:
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise MalformedEvent(f"event value is not JSON-serialisable ({exc}); convert numpy/datetime fields to str/int/float first") from exc


def decode_value(raw: bytes | str | None) -> dict[str, Any]:
    """The dict back; an undecodable payload becomes ``{"_decode_error": why}``.

    Never raises (not even on a 1 MB ``[[[[...`` that would overflow ``json.loads``'s
    recursion, nor on NaN literals), so one bad record written by a foreign producer cannot
    wedge a consumer; :class:`~warehouse.bus.IdempotentConsumer` dead-letters such records
    with their original bytes.
    """
    if raw is None:
        return {DECODE_ERROR_FIELD: "null value (tombstone)"}
    if isinstance(raw, (bytes, bytearray)):
        try:
            raw = bytes(raw).decode("utf-8")  # JSON on the wire is UTF-8 (RFC 8259): no UTF-16 guessing
        except UnicodeDecodeError as exc:
            return {DECODE_ERROR_FIELD: f"record is not UTF-8 text ({exc})"}
    try:
        value = load_json_text(raw, source="record", limits=RECORD_LIMITS)
    except UnsafeInputError as exc:
        return {DECODE_ERROR_FIELD: str(exc)}
    if not isinstance(value, dict):
        return {DECODE_ERROR_FIELD: f"JSON {type(value).__name__}, expected an object"}
    return value


def raw_bytes(raw: bytes | str | None) -> bytes | None:
    """The stored form of a record's value as bytes (the dead-letter topic keeps them)."""
    return raw.encode("utf-8", errors="surrogateescape") if isinstance(raw, str) else raw


def partition_for(key: str, partitions: int) -> int:
    """Stable across processes and Python runs (unlike ``hash()``)."""
    return zlib.crc32(key.encode("utf-8")) % partitions
