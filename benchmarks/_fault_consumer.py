"""A consumer process for the fault suite and benchmark: one real consumer on the real bus, killed at will.

    python -m benchmarks._fault_consumer ROLE --bus kafka://127.0.0.1:PORT --prefix P --state DIR

ROLE is ``alert-sink`` (AlertSink into an OpsStore on DIR/ops.db), ``feedback-router``
(FeedbackRouter publishing miss events) or ``retraining`` (RetrainingService with a loop that
records each handled miss in DIR/effects.db). Processed ids are kept in a durable
SqlSeenStore (DIR/seen.db). The alert sink's live-stream hub and the retraining loop write
every effect to an append-only ledger, so a test counts effects applied twice. The
retraining ledger shares the seen store's database and marks the misses seen in the same
transaction: the exactly-once pattern for an effect that lives in a database.
Prints ``ready`` once the consumer is built and ``processed N`` after each non-empty round.
"""
from __future__ import annotations

import argparse
import logging
import os
import sqlite3
import sys
import time
from pathlib import Path

from warehouse.bus import SqlSeenStore, open_bus
from warehouse.consumers import AlertSink, FeedbackRouter, RetrainingService
from warehouse.ops_store import OpsStore


class LedgerHub:
    """The live stream's stand-in sink: appends each alert id it is handed to a file."""

    def __init__(self, path: Path) -> None:
        self._fh = open(path, "a", buffering=1)

    def publish(self, alert: dict) -> None:
        self._fh.write(alert["alert_id"] + "\n")


class LedgerLoop:
    """A retraining loop whose effect (one row per handled miss) commits with the seen marks."""

    def __init__(self, path: Path, scope: str) -> None:
        self._conn = sqlite3.connect(str(path), timeout=30, isolation_level=None)
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("CREATE TABLE IF NOT EXISTS effects(miss_id TEXT NOT NULL, pid INTEGER NOT NULL)")
        self._conn.execute(
            "CREATE TABLE IF NOT EXISTS bus_seen_events(scope VARCHAR(200) NOT NULL, event_id VARCHAR(200) NOT NULL, "
            "n BIGINT NOT NULL, PRIMARY KEY (scope, event_id))"
        )
        self._scope = scope

    def handle(self, misses: list[dict]) -> int:
        with self._conn:  # one transaction: the effect and the "processed" marks
            self._conn.execute("BEGIN IMMEDIATE")
            self._conn.executemany("INSERT INTO effects(miss_id, pid) VALUES (?, ?)", [(m["event_id"], os.getpid()) for m in misses])
            self._conn.executemany(
                "INSERT OR IGNORE INTO bus_seen_events(scope, event_id, n) VALUES (?, ?, ?)",
                [(self._scope, m["event_id"], time.time_ns()) for m in misses],
            )
        return len(misses)


def build(role: str, bus, state: Path):
    seen = SqlSeenStore(f"sqlite:///{state / 'seen.db'}", scope=role)
    if role == "alert-sink":
        return AlertSink(bus, OpsStore(f"sqlite:///{state / 'ops.db'}"), hub=LedgerHub(state / "hub.ledger"), seen=seen)
    if role == "feedback-router":
        return FeedbackRouter(bus, seen=seen)
    if role == "retraining":
        loop = LedgerLoop(state / "seen.db", scope=role)
        return RetrainingService(bus, loop_for=lambda algorithm_id: loop, seen=seen)
    raise SystemExit(f"unknown role {role!r}; use alert-sink, feedback-router or retraining")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("role")
    parser.add_argument("--bus", required=True)
    parser.add_argument("--prefix", default="")
    parser.add_argument("--state", type=Path, required=True)
    parser.add_argument("--no-transactions", action="store_true", help="the router without Kafka transactions")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr, format="%(asctime)s %(name)s %(message)s")
    args.state.mkdir(parents=True, exist_ok=True)
    if args.bus.startswith("kafka://"):
        from warehouse.bus import KafkaBus

        # static membership: a restarted process takes its partitions back at once
        # the router's outputs (miss events) and its offsets commit in one Kafka transaction
        transactional = args.role == "feedback-router" and not args.no_transactions
        bus = KafkaBus(args.bus.split("://", 1)[1], topic_prefix=args.prefix, client_id=f"fault-{args.role}",
                       group_instance_id=f"fault-{args.role}",
                       transactional_id=f"fault-{args.role}" if transactional else None)  # fmt: skip
    else:
        bus = open_bus(args.bus, topic_prefix=args.prefix)
    consumer = build(args.role, bus, args.state)
    print("ready", flush=True)
    while True:
        try:
            stats = consumer.run_once(timeout_s=0.5)
        except Exception as exc:  # an outage: the consumer retries by itself
            print(f"retry {type(exc).__name__}: {exc}", file=sys.stderr, flush=True)
            time.sleep(0.2)
            continue
        n = len(stats) if isinstance(stats, list) else stats.handled
        if n:
            print(f"processed {n}", flush=True)


if __name__ == "__main__":
    sys.exit(main())
