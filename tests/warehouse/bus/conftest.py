"""The ``harness`` fixture: each contract test runs on the embedded bus and on real Kafka."""
from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.warehouse.bus._helpers import BusHarness
from warehouse.bus import KafkaBus, SqliteBus


@pytest.fixture(params=["sqlite", pytest.param("kafka", marks=pytest.mark.kafka)])
def harness(request: pytest.FixtureRequest, tmp_path, kafka_topic_prefix: str) -> Iterator[BusHarness]:
    """The same contract test runs on the embedded bus and on a real Kafka broker."""
    if request.param == "sqlite":
        path = tmp_path / "bus.db"
        factory = lambda: SqliteBus(path, topic_prefix=kafka_topic_prefix)  # noqa: E731
    else:
        bootstrap = request.getfixturevalue("kafka_bootstrap")
        factory = lambda: KafkaBus(bootstrap, topic_prefix=kafka_topic_prefix, client_id="contract-test")  # noqa: E731
    h = BusHarness(factory, request.param)
    yield h
    h.close_all()
