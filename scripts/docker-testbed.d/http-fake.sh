#!/bin/sh
# FAKE (scripts/docker-testbed): NOT Grafana, NOT kafka-ui. No stand-in for them runs here, so
# this only answers the healthcheck path the rendered compose file probes, with a fixed body,
# from busybox httpd: http-fake.sh PORT PATH BODY.
set -e
port="$1"; path="$2"; body="$3"
root=/tmp/www
mkdir -p "$root$(dirname "$path")"
printf '%s\n' "$body" >"$root$path"
echo "FAKE service on :$port answering $path (no real server here)"
exec busybox httpd -f -p "$port" -h "$root"
