#!/usr/bin/env bash
# `scripts/testbed verify`: smoke tests against the running testbed (needs `up` first).
# Expects the TESTBED_* environment from `scripts/testbed env`.
set -uo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
PY="$TESTBED_PYTHON"
rc=0
step() { echo; echo "== $*"; }

step "Kafka (Tansu x3) through each listener, confluent-kafka/librdkafka 2.16"
"$PY" "$HERE/kafka_smoke.py" || rc=1

step "C program built with .testbed/pkgconfig/rdkafka.pc (Debian headers + librdkafka 2.16)"
out="$(mktemp -d)"
# It needs librdkafka-<hash>.so.1, found only through LD_LIBRARY_PATH (nothing is registered
# with the machine's dynamic loader).
# shellcheck disable=SC2046  # pkg-config prints several words on purpose
if cc -o "$out/rdkafka_smoke" "$HERE/rdkafka_smoke.c" \
     $(PKG_CONFIG_PATH="$TESTBED_RDKAFKA_PKG_CONFIG_PATH" pkg-config --cflags --libs rdkafka); then
  for b in ${TESTBED_KAFKA_BOOTSTRAP//,/ }; do
    LD_LIBRARY_PATH="$TESTBED_RDKAFKA_LIB_DIR${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" "$out/rdkafka_smoke" "$b" || rc=1
  done
else
  rc=1
fi
rm -rf "$out"

step "ClickHouse HTTP fixture over chdb: errors, settings, insert deduplication"
bash "$HERE/clickhouse_smoke.sh" || rc=1

step "PostgreSQL and Prometheus"
if PGPASSWORD="$TESTBED_POSTGRES_PASSWORD" psql "$TESTBED_POSTGRES_URL" -tAc 'select version()' | grep -q PostgreSQL; then
  echo "OK   postgres: $(PGPASSWORD="$TESTBED_POSTGRES_PASSWORD" psql "$TESTBED_POSTGRES_URL" -tAc 'show server_version')"
else echo "FAIL postgres"; rc=1; fi
if curl -sf "$TESTBED_PROMETHEUS_URL/api/v1/query?query=up" | grep -q '"status":"success"'; then
  echo "OK   prometheus /api/v1/query"
else echo "FAIL prometheus"; rc=1; fi

step "MariaDB -> Debezium MySQL connector (Kafka Connect) -> Tansu: snapshot, c/u/d, restart+resume"
"$PY" "$HERE/debezium_smoke.py" || rc=1

echo
if ((rc)); then echo "verify: FAILED"; else echo "verify: all smoke tests passed"; fi
exit $rc
