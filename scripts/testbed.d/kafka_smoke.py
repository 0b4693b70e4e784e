#!/usr/bin/env python3
"""Testbed smoke test: through EACH Tansu listener on its own, create a topic,
produce (idempotent, acks=all) and consume it back with confluent-kafka
(librdkafka 2.16). Also checks that a message produced through one listener is
read through another (the three processes share one S3 store = one logical
broker). Exits non-zero on any failure. Uses assign() rather than subscribe():
a group subscribe() takes ~23 s to get an assignment on Tansu."""
import os
import sys
import time
import uuid

from confluent_kafka import Consumer, KafkaException, Producer, TopicPartition, libversion
from confluent_kafka.admin import AdminClient, NewTopic

bootstrap = os.environ.get("TESTBED_KAFKA_BOOTSTRAP", "127.0.0.1:19092,127.0.0.1:19093,127.0.0.1:19094")
listeners = bootstrap.split(",")
print("librdkafka", libversion()[0])
ok = True
run = uuid.uuid4().hex[:8]


def consume(addr, topic, n, timeout=20):
    c = Consumer({"bootstrap.servers": addr, "group.id": "smoke-" + run,
                  "enable.auto.commit": False, "auto.offset.reset": "earliest"})
    c.assign([TopicPartition(topic, 0, 0)])
    got, deadline = [], time.time() + timeout
    while len(got) < n and time.time() < deadline:
        m = c.poll(0.5)
        if m is None:
            continue
        if m.error():
            raise KafkaException(m.error())
        got.append(m.value().decode())
    c.close()
    return got


for i, addr in enumerate(listeners):
    t0 = time.time()
    topic = "testbed-smoke-%s-%d" % (run, i)
    try:
        admin = AdminClient({"bootstrap.servers": addr})
        md = admin.list_topics(timeout=10)
        brokers = sorted("%d@%s:%d" % (b.id, b.host, b.port) for b in md.brokers.values())
        fs = admin.create_topics([NewTopic(topic, num_partitions=1, replication_factor=1)])
        fs[topic].result(15)
        p = Producer({"bootstrap.servers": addr, "enable.idempotence": True, "acks": "all"})
        for k in range(10):
            p.produce(topic, key=str(k), value="m%d" % k)
        left = p.flush(15)
        assert left == 0, "%d messages not delivered" % left
        got = consume(addr, topic, 10)
        assert got == ["m%d" % k for k in range(10)], got
        other = listeners[(i + 1) % len(listeners)]
        got2 = consume(other, topic, 10)
        assert len(got2) == 10, "read via %s: %r" % (other, got2)
        print("OK   %s: metadata brokers %s, create+produce 10+consume 10, re-read via %s (%.2fs)"
              % (addr, brokers, other, time.time() - t0))
        admin.delete_topics([topic])[topic].result(15)
    except Exception as exc:  # noqa: BLE001
        ok = False
        print("FAIL %s: %r" % (addr, exc))

sys.exit(0 if ok else 1)
