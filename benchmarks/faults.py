"""Faults on the event path, against the real parts: consumer SIGKILLs, a broker restart, poison.

    python -m benchmarks.faults            # small: 3 kills per consumer, >= 120 events each
    python -m benchmarks.faults --full     # 10 kills per consumer, >= 1,000 events each

Starts its own Kafka broker (scripts/kafka_broker.py in a temporary home; never the shared
one), so it can restart it. Prints one JSON object as the last line:

- ``kills``, ``lost``, ``duplicated``: SIGKILLs of the alert sink, feedback router and
  retraining service processes at random points under load; ``lost`` = acknowledged input
  events without their effect, ``duplicated`` = effects applied more than once (alert-sink
  live-stream deliveries, retraining loop runs per miss). ``router_redelivered_copies``:
  miss events the router published twice after a kill (same event id, absorbed by the
  retraining service's seen store);
- ``broker_restarts``, ``acknowledged_lost``: records the producer saw acknowledged that
  never reached the consumer across broker restarts; ``restart_to_first_processed_s``: from
  the restarted broker being ready to the consumer's next processed record;
- ``poison_records``, ``wedged``: malformed records of every shape through every consumer;
  ``wedged`` counts good records behind a poison one that were not processed.
"""
from __future__ import annotations

import argparse
import contextlib
import importlib.util
import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

from benchmarks._poison import make_event, malformed_values
from warehouse.bus import BusUnavailableError, KafkaBus, PublishError

REPO = Path(__file__).resolve().parents[1]
ROLES = {"alert-sink": "alerts", "feedback-router": "feedback", "retraining": "miss-events"}


# ---------------------------------------------------------------------------- events


class AckingProducer:
    """Publishes, flushes every ``batch`` records and keeps exactly the ids the broker acknowledged.

    On a :class:`PublishError` the records it names are published again (same ids); on an
    outage (flush timed out) the queued records stay pending and the flush is retried.
    """

    def __init__(self, bus: KafkaBus, topic: str, *, batch: int = 10) -> None:
        self.bus, self.topic, self.batch = bus, topic, batch
        self.acked: list[str] = []
        self.errors = 0
        self._pending: list[tuple[str, dict, str]] = []

    def send(self, event_id: str, value: dict, key: str) -> None:
        self._pending.append((event_id, value, key))
        while True:
            try:
                self.bus.publish(self.topic, value, key=key)
                break
            except BusUnavailableError:
                self.errors += 1
                time.sleep(0.2)
        if len(self._pending) >= self.batch:
            self.flush()

    def flush(self, deadline_s: float = 120.0) -> None:
        end = time.monotonic() + deadline_s
        while self._pending and time.monotonic() < end:
            try:
                self.bus.flush(timeout_s=5)
            except PublishError as exc:  # exactly these were not written: send them again
                self.errors += 1
                failed = {f[2] for f in exc.failed}
                for event_id, value, key in self._pending:
                    if event_id in failed:
                        self.bus.publish(self.topic, value, key=key)
                self.acked.extend(e for e, _, _ in self._pending if e not in failed)
                self._pending = [p for p in self._pending if p[0] in failed]
                continue
            except BusUnavailableError:
                self.errors += 1
                time.sleep(0.2)
                continue
            self.acked.extend(e for e, _, _ in self._pending)
            self._pending = []


# ---------------------------------------------------------------------------- processes


class ConsumerProcess:
    """``python -m benchmarks._fault_consumer ROLE`` with its stdout lines timestamped."""

    def __init__(self, role: str, bootstrap: str, prefix: str, state: Path) -> None:
        self.role, self.bootstrap, self.prefix, self.state = role, bootstrap, prefix, state
        self.proc: subprocess.Popen | None = None
        self.processed_at: list[float] = []
        self.log = state / f"{role}.stderr"
        state.mkdir(parents=True, exist_ok=True)

    def start(self, ready_timeout_s: float = 60.0) -> None:
        env = {**os.environ, "PYTHONPATH": str(REPO)}
        with open(self.log, "ab") as err:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "benchmarks._fault_consumer", self.role, "--bus", f"kafka://{self.bootstrap}",
                 "--prefix", self.prefix, "--state", str(self.state)],
                stdout=subprocess.PIPE, stderr=err, text=True, cwd=str(REPO), env=env,
            )  # fmt: skip
        ready = threading.Event()

        def read(proc: subprocess.Popen) -> None:
            for line in proc.stdout:
                if line.startswith("ready"):
                    ready.set()
                elif line.startswith("processed"):
                    self.processed_at.append(time.monotonic())

        threading.Thread(target=read, args=(self.proc,), daemon=True).start()
        if not ready.wait(ready_timeout_s):
            raise RuntimeError(f"{self.role} consumer did not start in {ready_timeout_s}s; see {self.log}")

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)

    def stop(self) -> None:
        self.kill()


def load_broker_script():
    name = "_warehouse_kafka_broker_script"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, REPO / "scripts" / "kafka_broker.py")
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


# ---------------------------------------------------------------------------- effects


def _effects(role: str, state: Path) -> Counter:
    """How many times each input event's effect was applied."""
    if role == "alert-sink":
        ledger = state / "hub.ledger"
        hub = Counter(ledger.read_text().split()) if ledger.exists() else Counter()
        with contextlib.closing(sqlite3.connect(state / "ops.db")) as conn:
            stored = [r[0] for r in conn.execute("SELECT alert_id FROM ops_alerts")] if _has_table(conn, "ops_alerts") else []
        # a stored alert is the effect; the live-stream delivery must not repeat
        return Counter({a: max(1, hub.get(a, 0)) for a in stored})
    if role == "retraining":
        with contextlib.closing(sqlite3.connect(state / "seen.db")) as conn:
            if not _has_table(conn, "effects"):
                return Counter()
            return Counter(r[0] for r in conn.execute("SELECT miss_id FROM effects"))
    raise ValueError(role)


def _has_table(conn: sqlite3.Connection, name: str) -> bool:
    return conn.execute("SELECT 1 FROM sqlite_master WHERE type='table' AND name=?", (name,)).fetchone() is not None


def _read_all(bootstrap: str, prefix: str, topic: str, expected: int, deadline_s: float = 30.0) -> list[dict]:
    bus = KafkaBus(bootstrap, topic_prefix=prefix, client_id="fault-verify")
    consumer = bus.consumer(topic, group=f"verify-{uuid.uuid4().hex[:8]}")
    out: list[dict] = []
    end, idle = time.monotonic() + deadline_s, time.monotonic()
    while time.monotonic() < end:
        batch = consumer.poll(timeout_s=0.3)
        out.extend(r.value for r in batch)
        if batch:
            idle = time.monotonic()
        elif len(out) >= expected and time.monotonic() - idle > 1.5:
            break
    consumer.close()
    bus.close()
    return out


def kill_scenario(role: str, bootstrap: str, *, events: int, kills: int, work: Path, seed: int = 0) -> dict[str, Any]:
    """Publish ``events`` while SIGKILLing the ``role`` consumer ``kills`` times; count lost and duplicated."""
    rng = random.Random(seed)
    topic, run, prefix = ROLES[role], uuid.uuid4().hex[:6], f"f{uuid.uuid4().hex[:8]}."
    state = work / f"{role}-{run}"
    bus = KafkaBus(bootstrap, topic_prefix=prefix, client_id=f"fault-producer-{role}")
    bus.ensure_topics([topic, "miss-events", "dead-letter"])
    producer = AckingProducer(bus, topic)
    consumer = ConsumerProcess(role, bootstrap, prefix, state)
    consumer.start()
    done = threading.Event()

    kills_done = threading.Event()
    sent = [0]

    def produce() -> None:  # at least ``events``, and on until the last kill: every kill is under load
        i = 0
        while i < events or not kills_done.is_set():
            value, key = make_event(topic, i, run)
            producer.send(value["event_id"], value, key)
            i += 1
            time.sleep(0.01)
        producer.flush()
        sent[0] = i
        done.set()

    threading.Thread(target=produce, daemon=True).start()
    mid_stream = 0
    for _ in range(kills):
        # kill at a random moment after the consumer has processed something since it (re)started
        before, end = len(consumer.processed_at), time.monotonic() + 30
        while len(consumer.processed_at) == before and time.monotonic() < end:
            time.sleep(0.01)
        time.sleep(rng.uniform(0.0, 0.4))
        mid_stream += len(consumer.processed_at) > before and not done.is_set()
        consumer.kill()
        consumer.start()
    kills_done.set()
    done.wait(180)
    acked = set(producer.acked)
    deadline = time.monotonic() + 90
    effects: Counter = Counter()
    copies = 0
    while time.monotonic() < deadline:
        if role == "feedback-router":
            misses = _read_all(bootstrap, prefix, "miss-events", len(acked), deadline_s=10)
            by_source = Counter(m["source_event_id"] for m in misses)
            effects = Counter({k: 1 for k in by_source})  # the effect: a miss exists for the feedback
            copies = sum(by_source.values()) - len(by_source)
        else:
            effects = _effects(role, state)
        if acked <= set(effects):
            break
        time.sleep(1.0)
    consumer.stop()
    bus.close()
    lost = len(acked - set(effects))
    return {
        "role": role, "events": sent[0], "acknowledged": len(acked), "kills": kills, "kills_mid_stream": mid_stream, "lost": lost,
        "duplicated": sum(n - 1 for n in effects.values() if n > 1), "router_redelivered_copies": copies,
        "producer_errors": producer.errors,
    }  # fmt: skip


def restart_scenario(broker, home: Path, bootstrap: str, *, events: int, restarts: int, work: Path) -> dict[str, Any]:
    """A producer and the alert-sink process run while the broker restarts ``restarts`` times."""
    run, prefix = uuid.uuid4().hex[:6], f"r{uuid.uuid4().hex[:8]}."
    state = work / f"restart-{run}"
    bus = KafkaBus(bootstrap, topic_prefix=prefix, client_id="fault-restart-producer")
    bus.ensure_topics(["alerts", "dead-letter"])
    producer = AckingProducer(bus, "alerts")
    consumer = ConsumerProcess("alert-sink", bootstrap, prefix, state)
    consumer.start()
    done = threading.Event()

    def produce() -> None:
        for i in range(events):
            value, key = make_event("alerts", i, run)
            producer.send(value["event_id"], value, key)
            time.sleep(0.01)
        producer.flush()
        done.set()

    threading.Thread(target=produce, daemon=True).start()
    recoveries: list[float] = []
    for _ in range(restarts):
        time.sleep(1.0)
        broker.stop(home)
        time.sleep(0.5)
        info = broker.start(home, die_with_parent=True, heap="256m")
        if info.bootstrap != bootstrap:
            raise RuntimeError(f"broker came back on {info.bootstrap}, not {bootstrap}: ports must stay fixed")
        ready = time.monotonic()
        seen_before = len([t for t in consumer.processed_at if t > ready])
        end = ready + 120
        while time.monotonic() < end and len([t for t in consumer.processed_at if t > ready]) <= seen_before:
            time.sleep(0.05)
        after = [t for t in consumer.processed_at if t > ready]
        recoveries.append(round(after[0] - ready, 2) if after else float("inf"))
    done.wait(240)
    acked = set(producer.acked)
    deadline, effects = time.monotonic() + 90, Counter()
    while time.monotonic() < deadline:
        effects = _effects("alert-sink", state)
        if acked <= set(effects):
            break
        time.sleep(1.0)
    consumer.stop()
    bus.close()
    return {
        "broker_restarts": restarts, "events": events, "acknowledged": len(acked),
        "acknowledged_lost": len(acked - set(effects)), "restart_to_first_processed_s": max(recoveries) if recoveries else None,
        "producer_errors": producer.errors,
    }  # fmt: skip


# ---------------------------------------------------------------------------- poison


def poison_scenario(bus_factory, *, per_topic: int = 8, seed: int = 0) -> dict[str, Any]:
    """Malformed records of every topic through every consumer, each followed by a good one.

    Returns ``poison_records`` (sent), ``dead_lettered`` and ``wedged`` (good records not
    processed within the deadline behind a poison one).
    """
    from warehouse.bus import MemorySeenStore
    from warehouse.consumers import AlertSink, FeedbackRouter, RetrainingService
    from warehouse.ops_store import OpsStore

    rng = random.Random(seed)
    bus = bus_factory()
    ops = OpsStore("sqlite://")
    handled: list[str] = []

    class _Loop:
        def handle(self, misses):
            handled.extend(m["event_id"] for m in misses)
            return len(misses)

    consumers = {
        "alerts": AlertSink(bus, ops, seen=MemorySeenStore()),
        "feedback": FeedbackRouter(bus, seen=MemorySeenStore()),
        "miss-events": RetrainingService(bus, loop_for=lambda a: _Loop(), seen=MemorySeenStore()),
    }
    sent, goods = 0, {}
    for topic in consumers:
        for j, raw in enumerate(malformed_values(topic, rng, per_topic)):
            bus.publish_raw(topic, raw, key="poison")
            sent += 1
            value, key = make_event(topic, j, f"good{seed}")
            bus.publish(topic, value, key="poison")  # same partition, right behind the poison
            goods.setdefault(topic, set()).add(value["event_id"])
    bus.flush()
    deadline = time.monotonic() + 60
    router_misses: set[str] = set()
    verify = bus.consumer("miss-events", group=f"poison-verify-{uuid.uuid4().hex[:6]}")

    def processed() -> set[str]:
        stored = {a["alert_id"] for a in ops.list_alerts(limit=100_000)}
        return stored | set(handled) | router_misses

    while time.monotonic() < deadline:
        for c in consumers.values():
            c.run_once(timeout_s=0.2)
        for r in verify.poll(timeout_s=0.1):
            if isinstance(r.value, dict) and r.value.get("source_event_id"):
                router_misses.add(r.value["source_event_id"])
        if all(goods[t] <= processed() for t in goods):
            break
    final = processed()
    letters = bus.consumer("dead-letter", group=f"poison-dl-{uuid.uuid4().hex[:6]}")
    reasons: dict[str, str] = {}
    end = time.monotonic() + 20
    while len(reasons) < sent and time.monotonic() < end:
        for r in letters.poll(timeout_s=0.3):
            if r.value.get("reason"):
                reasons[r.value["event_id"]] = r.value["reason"]
    letters.close()
    wedged = sum(len(goods[t] - final) for t in goods)
    for c in consumers.values():
        c.close()
    verify.close()
    bus.close()
    return {"poison_records": sent, "dead_lettered_with_reason": len(reasons), "wedged": wedged}


# ---------------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--full", action="store_true", help="1,000 events and 10 kills per consumer")
    args = parser.parse_args(argv)
    events, kills = (1000, 10) if args.full else (120, 3)
    broker = load_broker_script()
    with tempfile.TemporaryDirectory(prefix="faults-") as td:
        work, home = Path(td), Path(td) / "kafka"
        t0 = time.monotonic()
        info = broker.start(home, die_with_parent=True, heap="256m")
        try:
            per_role = [kill_scenario(role, info.bootstrap, events=events, kills=kills, work=work, seed=i)
                        for i, role in enumerate(ROLES)]  # fmt: skip
            restart = restart_scenario(broker, home, info.bootstrap, events=events, restarts=2 if args.full else 1, work=work)
            from warehouse.bus import SqliteBus

            poison_sqlite = poison_scenario(lambda: SqliteBus(work / "poison.db"), per_topic=40 if args.full else 10)
            prefix = f"p{uuid.uuid4().hex[:8]}."
            poison_kafka = poison_scenario(lambda: KafkaBus(info.bootstrap, topic_prefix=prefix, client_id="poison"),
                                           per_topic=40 if args.full else 10)  # fmt: skip
        finally:
            broker.stop(home)
    out = {
        "engine": "kafka 4.x (scripts/kafka_broker.py, single node) + sqlite",
        "kills": sum(r["kills"] for r in per_role),
        "lost": sum(r["lost"] for r in per_role),
        "duplicated": sum(r["duplicated"] for r in per_role),
        "router_redelivered_copies": sum(r["router_redelivered_copies"] for r in per_role),
        "broker_restarts": restart["broker_restarts"],
        "acknowledged_lost": restart["acknowledged_lost"],
        "restart_to_first_processed_s": restart["restart_to_first_processed_s"],
        "poison_records": poison_sqlite["poison_records"] + poison_kafka["poison_records"],
        "dead_lettered_with_reason": poison_sqlite["dead_lettered_with_reason"] + poison_kafka["dead_lettered_with_reason"],
        "wedged": poison_sqlite["wedged"] + poison_kafka["wedged"],
        "per_consumer": per_role,
        "restart": restart,
        "wall_s": round(time.monotonic() - t0, 1),
    }
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
