#!/usr/bin/env bash
# Set up (idempotent), start the real services the tests need (Kafka KRaft broker from
# Maven Central, PostgreSQL, RTSP via GStreamer), run the test suite, stop the services.
# Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
WAREHOUSE_SETUP_SERVICES=1 bash scripts/setup.sh

svc_home=$(mktemp -d /tmp/warehouse-test-services.XXXXXX)
chmod 755 "$svc_home"  # the PostgreSQL server runs as an unprivileged user and must reach its folder
cleanup() {
  .venv/bin/python scripts/kafka_broker.py stop --home "$svc_home/kafka" >/dev/null 2>&1 || true
  WAREHOUSE_PG_DIR="$svc_home/pg" bash scripts/postgres.sh purge >/dev/null 2>&1 || true
  rm -rf "$svc_home"
}
trap cleanup EXIT

kafka_out=$(.venv/bin/python scripts/kafka_broker.py start --home "$svc_home/kafka")
export WAREHOUSE_TEST_KAFKA=$(echo "$kafka_out" | tail -n1 | sed 's/^bootstrap=//')
export WAREHOUSE_TEST_POSTGRES_URL=$(WAREHOUSE_PG_DIR="$svc_home/pg" bash scripts/postgres.sh start | tail -n1)
export WAREHOUSE_REQUIRE_SERVICES=${WAREHOUSE_REQUIRE_SERVICES:-1}
echo "test: kafka=$WAREHOUSE_TEST_KAFKA postgres=${WAREHOUSE_TEST_POSTGRES_URL%%@*}@..."

set +e
.venv/bin/python -m pytest -q -p no:cacheprovider "$@"
rc=$?
set -e
if [[ $rc -eq 5 ]]; then
  echo "test: pytest collected no tests: that is a broken suite, not a pass" >&2
  exit 1
fi
exit $rc
