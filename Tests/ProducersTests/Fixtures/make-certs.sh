#!/usr/bin/env bash
# make-certs.sh DIR: a throw-away CA (ca.pem), a server certificate it signs for localhost and
# 127.0.0.1 (server.pem, server.key), and a second, unrelated CA (other-ca.pem) that must NOT be
# trusted for that server. Tests only; everything stays in DIR.
set -euo pipefail
d="$1"; mkdir -p "$d"; cd "$d"
ec=(-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes)
openssl req -x509 "${ec[@]}" -keyout ca.key -out ca.pem -days 2 -subj "/CN=cdcctl test CA" 2>/dev/null
openssl req -x509 "${ec[@]}" -keyout other-ca.key -out other-ca.pem -days 2 -subj "/CN=cdcctl other CA" 2>/dev/null
openssl req "${ec[@]}" -keyout server.key -out server.csr -subj "/CN=localhost" 2>/dev/null
printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n' >ext.cnf
openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out server.pem -days 2 -extfile ext.cnf 2>/dev/null
chmod 600 ./*.key
