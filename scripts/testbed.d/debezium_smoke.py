#!/usr/bin/env python3
"""Testbed smoke test, end to end: MariaDB -> Debezium MySQL connector in the Kafka
Connect worker -> Tansu -> confluent-kafka consumer.

Creates shop.testbed_smoke_<run> with one row, registers a Debezium MySQL connector
by REST (the credentials come from the worker's FileConfigProvider, ${file:...}),
waits for RUNNING, reads the snapshot event ('r'), then INSERT/UPDATE/DELETE and
reads the c/u/d events, printing time-to-RUNNING and insert-to-consumer latency.
Deletes the connector, its topics and the table at the end. Exit 0 = all seen.
Set SMOKE_KEEP=1 to keep the connector, SMOKE_SHOW_CONFIG=1 to print the config,
SMOKE_EXTRA_CONFIG='{"key":"value"}' to add/override connector settings."""
import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid

from confluent_kafka import Consumer, TopicPartition
from confluent_kafka.admin import AdminClient

E = os.environ
CONNECT = E["TESTBED_CONNECT_URL"]
BOOT = E.get("SMOKE_BOOTSTRAP", E["TESTBED_KAFKA_BOOTSTRAP_SINGLE"])
run = uuid.uuid4().hex[:6]
table = "testbed_smoke_" + run
db = E.get("TESTBED_MYSQL_DATABASE", "shop")
name = "testbed-smoke-" + run
prefix = "tbsmoke" + run
topic = "%s.%s.%s" % (prefix, db, table)
secrets = E["TESTBED_CONNECT_SECRETS_FILE"]


def sql(stmt):
    subprocess.run(["mariadb", "-h", "127.0.0.1", "-P", E["TESTBED_MYSQL_PORT"],
                    "-u", E["TESTBED_MYSQL_USER"], "-p" + E["TESTBED_MYSQL_PASSWORD"], db, "-e", stmt],
                   check=True)


def rest(method, path, body=None):
    req = urllib.request.Request(CONNECT + path, method=method,
                                 data=None if body is None else json.dumps(body).encode(),
                                 headers={"Content-Type": "application/json", "Accept": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            data = r.read()
            return r.status, (json.loads(data) if data else None)
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


CONFIG = {
    "connector.class": "io.debezium.connector.mysql.MySqlConnector",
    "tasks.max": "1",
    "database.hostname": "127.0.0.1",
    "database.port": E["TESTBED_MYSQL_PORT"],
    "database.user": "${file:%s:user}" % secrets,
    "database.password": "${file:%s:password}" % secrets,
    "database.server.id": str(5400 + int(run, 16) % 1000),
    "database.ssl.mode": "disabled",
    "topic.prefix": prefix,
    "database.include.list": db,
    "table.include.list": "%s.%s" % (db, table),
    "schema.history.internal.kafka.bootstrap.servers": E.get("TESTBED_CONNECT_BOOTSTRAP", BOOT),
    "schema.history.internal.kafka.topic": "_schema_history_" + prefix,
    "include.schema.changes": "false",
    "decimal.handling.mode": "string",
    "snapshot.mode": "initial",
    "topic.creation.default.replication.factor": "1",
    "topic.creation.default.partitions": "1",
}
CONFIG.update(json.loads(E.get("SMOKE_EXTRA_CONFIG", "{}")))


def wait_running(t0, what):
    st = None
    deadline = time.time() + 90
    while time.time() < deadline:
        code, st = rest("GET", "/connectors/%s/status" % name)
        if code == 200 and any(t["state"] == "FAILED" for t in st.get("tasks", [])):
            raise RuntimeError("task FAILED: " + st["tasks"][0].get("trace", "")[:3000])
        if code == 200 and st["connector"]["state"] == "RUNNING" and st["tasks"] \
                and all(t["state"] == "RUNNING" for t in st["tasks"]):
            print("RUNNING after %.2fs %s" % (time.time() - t0, what))
            return
        time.sleep(0.2)
    raise TimeoutError("connector not RUNNING after 90s: %s" % (st,))


def main():
    sql("CREATE TABLE %s (id INT PRIMARY KEY, status VARCHAR(20), amount DECIMAL(10,2))" % table)
    sql("INSERT INTO %s VALUES (1, 'new', 10.50)" % table)
    if E.get("SMOKE_SHOW_CONFIG"):
        print("connector config:\n" + json.dumps({"name": name, "config": CONFIG}, indent=2))
    t0 = time.time()
    code, body = rest("POST", "/connectors", {"name": name, "config": CONFIG})
    assert code == 201, (code, body)
    wait_running(t0, "(POST -> connector and task RUNNING)")

    c = Consumer({"bootstrap.servers": BOOT, "group.id": "smoke-" + run,
                  "enable.auto.commit": False, "auto.offset.reset": "earliest"})
    admin = AdminClient({"bootstrap.servers": BOOT})
    deadline = time.time() + 60
    while topic not in admin.list_topics(timeout=10).topics and time.time() < deadline:
        time.sleep(0.2)
    c.assign([TopicPartition(topic, 0, 0)])

    def next_event(timeout=30):
        end = time.time() + timeout
        while time.time() < end:
            m = c.poll(0.05)
            if m is None or m.error():
                continue
            if m.value() is None:
                continue  # tombstone after a delete
            return json.loads(m.value()), time.time()
        raise TimeoutError("no event on %s within %ss" % (topic, timeout))

    ev, t_snap = next_event(60)
    assert ev["op"] == "r" and ev["after"]["id"] == 1, ev
    print("snapshot event  op=r after=%s  (%.2fs after POST)" % (json.dumps(ev["after"]), t_snap - t0))

    lat = []
    for stmt, op in [("INSERT INTO %s VALUES (2, 'new', 99.99)" % table, "c"),
                     ("UPDATE %s SET status='paid' WHERE id=2" % table, "u"),
                     ("DELETE FROM %s WHERE id=2" % table, "d")]:
        ts = time.time()
        sql(stmt)
        ev, tr = next_event()
        assert ev["op"] == op, ev
        lat.append(tr - ts)
        print("event op=%s before=%s after=%s  latency %.0f ms"
              % (op, json.dumps(ev["before"]), json.dumps(ev["after"]), (tr - ts) * 1000))
    print("statement-to-consumer latency: min %.0f ms, max %.0f ms" % (min(lat) * 1000, max(lat) * 1000))

    # restart connector + task: it must resume from its stored binlog offset
    t1 = time.time()
    code, body = rest("POST", "/connectors/%s/restart?includeTasks=true&onlyFailed=false" % name)
    assert code in (202, 204), (code, body)
    time.sleep(1)
    wait_running(t1, "after restart")
    sql("INSERT INTO %s VALUES (3, 'after-restart', 1.00)" % table)
    ev, _ = next_event()
    assert ev["op"] == "c" and ev["after"]["id"] == 3, ev
    print("after restart (resumed from stored offsets): op=c after=%s" % json.dumps(ev["after"]))
    c.close()
    return 0
    print("statement-to-consumer latency: min %.0f ms, max %.0f ms" % (min(lat) * 1000, max(lat) * 1000))
    return 0


try:
    rc = main()
finally:
    if not E.get("SMOKE_KEEP"):
        rest("DELETE", "/connectors/" + name)
        try:
            a = AdminClient({"bootstrap.servers": BOOT})
            a.delete_topics([topic, "_schema_history_" + prefix])
        except Exception:
            pass
        try:
            sql("DROP TABLE IF EXISTS " + table)
        except Exception:
            pass
sys.exit(rc)
