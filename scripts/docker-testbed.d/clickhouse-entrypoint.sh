#!/bin/bash
# STAND-IN for clickhouse/clickhouse-server's /entrypoint.sh: the ClickHouse 26.9 SQL engine
# in-process (PyPI chdb==4.4.0) behind the project's test-only HTTP front
# (scripts/testbed.d/chdb_http.py) on :8123. Built by scripts/docker-testbed; see
# docs/docker-testbed.md. Honoured: CLICKHOUSE_UID/GID, CLICKHOUSE_DO_NOT_CHOWN,
# CLICKHOUSE_SKIP_USER_SETUP, CLICKHOUSE_PASSWORD (for user default only). NOT honoured:
# config.d/users.d XML (the front has one user and no server settings), initdb scripts,
# the native protocol (:9000) and the Prometheus endpoint (:9363).
set -o pipefail
DATA_DIR=/var/lib/clickhouse
USER_ID="${CLICKHOUSE_UID:-$(id -u clickhouse)}"
GROUP_ID="${CLICKHOUSE_GID:-$(id -g clickhouse)}"
for f in /etc/clickhouse-server/config.d/*.xml /etc/clickhouse-server/users.d/*.xml; do
  [ -e "$f" ] && echo "standin: $f is not applied (chdb HTTP front)"
done
if [ "$(id -u)" = 0 ]; then
  mkdir -p "$DATA_DIR/chdb" /var/log/clickhouse-server
  [ -n "${CLICKHOUSE_DO_NOT_CHOWN:-}" ] || chown -R "$USER_ID:$GROUP_ID" "$DATA_DIR" /var/log/clickhouse-server
  exec setpriv --reuid="$USER_ID" --regid="$GROUP_ID" --clear-groups -- "$0" "$@"
fi
if [ $# -gt 0 ] && [ "${1:0:1}" != - ]; then exec "$@"; fi
# The fixture binds loopback only (its own safety rule); socat publishes it on the container's
# network as :8123, where the real server listens.
env TZ="${TZ:-UTC}" python3 /opt/chdb-http/chdb_http.py --host 127.0.0.1 --port 18123 --path "$DATA_DIR/chdb" \
  ${CLICKHOUSE_PASSWORD:+--password "$CLICKHOUSE_PASSWORD"} "$@" &
front=$!
socat TCP-LISTEN:8123,fork,reuseaddr TCP:127.0.0.1:18123 &
relay=$!
trap 'kill -TERM $front $relay 2>/dev/null; wait; exit 0' TERM INT
wait -n
rc=$?
kill -TERM $front $relay 2>/dev/null
wait
exit $rc
