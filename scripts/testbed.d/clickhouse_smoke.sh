#!/usr/bin/env bash
# Testbed smoke test for the chdb HTTP fixture (TEST FIXTURE, not ClickHouse server):
# /ping, query via GET/POST, ?database=, settings as URL params, error code header, and
# insert deduplication by insert_deduplication_token on a non-replicated MergeTree.
set -uo pipefail
U="${TESTBED_CLICKHOUSE_URL:-http://127.0.0.1:18123}"
fail=0
check() { if [[ "$2" == "$3" ]]; then echo "OK   $1"; else echo "FAIL $1: got '$2', want '$3'"; fail=1; fi; }
q() { curl -sS --data-binary "$1" "$U/?${2:-}"; }

check "/ping" "$(curl -sS "$U/ping")" "Ok."
check "GET ?query=" "$(curl -sS "$U/?query=SELECT%201%2B1")" "2"
db="tb_smoke_$$"
q "CREATE DATABASE $db" >/dev/null
for win in 0 100; do
  t="t_w$win"
  q "CREATE TABLE $t (id UInt32, v String) ENGINE = MergeTree ORDER BY id SETTINGS non_replicated_deduplication_window = $win" "database=$db"
  for i in 1 2; do
    printf '{"id":1,"v":"a"}\n{"id":2,"v":"b"}\n' | curl -sS --data-binary @- \
      "$U/?database=$db&insert_deduplication_token=tok-1&query=INSERT%20INTO%20$t%20FORMAT%20JSONEachRow"
  done
  n="$(q "SELECT count() FROM $t" "database=$db")"
  want=2; [[ $win == 0 ]] && want=4
  check "same insert_deduplication_token twice, non_replicated_deduplication_window=$win -> $want rows" "$n" "$want"
done
hdr="$(curl -sS -o /dev/null -D - "$U/?query=SELECT%20*%20FROM%20no_such_table" | tr -d '\r' | awk -F': ' 'tolower($1)=="x-clickhouse-exception-code"{print $2}')"
check "error -> X-ClickHouse-Exception-Code" "$hdr" "60"
code="$(curl -sS -o /dev/null -w '%{http_code}' "$U/?query=SELECT%20sleep(1)&max_execution_time=0.1")"
check "max_execution_time as URL setting -> 408 TIMEOUT_EXCEEDED" "$code" "408"
q "DROP DATABASE $db" >/dev/null
exit $fail
