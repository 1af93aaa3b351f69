"""What only the embedded bus has to prove: several processes on one file, stored partitions."""
from __future__ import annotations

import base64

import multiprocessing
import sqlite3

import pytest

from tests.warehouse.bus._helpers import drain
from warehouse.bus import TOPIC_ALERTS, TOPIC_FEEDBACK, BusError, IdempotentConsumer, SqliteBus, SqliteSeenStore, open_bus


def _publish_many(path: str, writer: int, count: int) -> None:
    bus = SqliteBus(path)
    for seq in range(count):
        bus.publish(TOPIC_ALERTS, {"event_id": f"w{writer}-{seq}", "writer": writer, "seq": seq}, key="cam-shared")
    bus.close()


def test_processes_appending_to_one_file_get_dense_offsets_and_keep_order(tmp_path) -> None:
    path = str(tmp_path / "bus.db")
    SqliteBus(path).close()  # create the schema once, as a service would
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_publish_many, args=(path, w, 60)) for w in range(3)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
    assert [p.exitcode for p in procs] == [0, 0, 0]

    bus = SqliteBus(path)
    records = drain(bus.consumer(TOPIC_ALERTS, group="check"), 180, deadline_s=5)
    assert [r.offset for r in records] == list(range(180))  # one key: one partition, no gaps, no repeats
    for writer in range(3):
        assert [r.value["seq"] for r in records if r.value["writer"] == writer] == list(range(60))


def test_a_second_process_sees_commits_of_the_first(tmp_path) -> None:
    path = tmp_path / "bus.db"
    a, b = SqliteBus(path), SqliteBus(path)
    for i in range(5):
        a.publish(TOPIC_FEEDBACK, {"event_id": f"e{i}"}, key="algo-1")
    consumer = a.consumer(TOPIC_FEEDBACK, group="loop")
    assert len(drain(consumer, 5, deadline_s=2)) == 5
    consumer.commit()
    a.publish(TOPIC_FEEDBACK, {"event_id": "e5"}, key="algo-1")
    assert [r.value["event_id"] for r in drain(b.consumer(TOPIC_FEEDBACK, group="loop"), 1, deadline_s=2)] == ["e5"]


@pytest.mark.parametrize(
    "first, second, match",
    [
        (4, 8, "created with 4 partitions, got partitions=8"),  # a different explicit count
        (2, 0, "expected an int >= 1"),  # nonsense count
    ],
)
def test_partition_count_is_fixed_when_the_file_is_created(tmp_path, first: int, second: int, match: str) -> None:
    SqliteBus(tmp_path / "bus.db", partitions=first).close()
    with pytest.raises(BusError, match=match):
        SqliteBus(tmp_path / "bus.db", partitions=second)


def test_partition_count_is_read_back(tmp_path) -> None:
    SqliteBus(tmp_path / "bus.db", partitions=7).close()
    assert SqliteBus(tmp_path / "bus.db").partitions == 7


@pytest.mark.parametrize(
    "url_path, expected_relative_to_cwd",
    [
        ("sqlite:///rel/bus.db", True),  # three slashes: relative, as in SQLAlchemy
        ("sqlite:////ABS/bus.db", False),  # four slashes: absolute
    ],
)
def test_sqlite_url_paths_follow_sqlalchemy(tmp_path, monkeypatch, url_path: str, expected_relative_to_cwd: bool) -> None:
    monkeypatch.chdir(tmp_path)
    url = url_path.replace("/ABS", str(tmp_path / "abs"))
    bus = open_bus(url)
    assert bus.path.is_absolute() is not expected_relative_to_cwd
    bus.close()


def test_undecodable_rows_are_dead_lettered_not_fatal(tmp_path) -> None:
    path = tmp_path / "bus.db"
    bus = SqliteBus(path, partitions=1)
    bus.publish(TOPIC_FEEDBACK, {"event_id": "ok-1"}, key="a")
    with sqlite3.connect(path) as raw:  # a foreign writer stores garbage at the next offset
        raw.execute("INSERT INTO records VALUES (?, 0, 1, 'a', '{not json', 0)", (TOPIC_FEEDBACK,))
    handled = []
    worker = IdempotentConsumer(bus, TOPIC_FEEDBACK, group="g", handler=lambda r: handled.append(r.value["event_id"]),
                                validate=False)
    stats = worker.run_once(timeout_s=1)
    assert (stats.handled, stats.dead_lettered, handled) == (1, 1, ["ok-1"])
    dead = drain(bus.consumer("dead-letter", group="inspect"), 1, deadline_s=2)
    assert "undecodable payload: record is not valid JSON" in dead[0].value["reason"]
    assert base64.b64decode(dead[0].value["original_b64"]) == b"{not json"


def test_sqlite_seen_store_survives_reopen(tmp_path) -> None:
    store = SqliteSeenStore(tmp_path / "seen.db", scope="loop")
    store.add("e1")
    store.close()
    reopened = SqliteSeenStore(tmp_path / "seen.db", scope="loop")
    other_scope = SqliteSeenStore(tmp_path / "seen.db", scope="other")
    assert (reopened.seen("e1"), reopened.seen("e2"), other_scope.seen("e1")) == (True, False, False)


def test_sqlite_seen_store_forgets_the_oldest_beyond_max_ids(tmp_path) -> None:
    store = SqliteSeenStore(tmp_path / "seen.db", max_ids=10)
    for i in range(1000):  # pruning runs every 1000 adds
        store.add(f"e{i}")
    assert (store.seen("e0"), store.seen("e989"), store.seen("e999")) == (False, True, True)
