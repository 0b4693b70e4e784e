-- The PostgreSQL sink's tables (docs/postgres.md). The processor's PostgreSQL loop writes every
-- one of them in one transaction per batch, together with the offsets it consumed.

-- Every change of shop.orders as Debezium sent it (c, u, d, r), once per Kafka position.
CREATE TABLE orders_history (
    id              bigserial   PRIMARY KEY,
    order_id        bigint      NOT NULL,
    op              char(1)     NOT NULL CHECK (op IN ('c', 'u', 'd', 'r')),
    before          jsonb,
    after           jsonb,
    source_ts       timestamptz NOT NULL,
    kafka_topic     text        NOT NULL,
    kafka_partition integer     NOT NULL,
    kafka_offset    bigint      NOT NULL,
    written_at      timestamptz NOT NULL DEFAULT now(),
    UNIQUE (kafka_topic, kafka_partition, kafka_offset)
);
CREATE INDEX orders_history_order_id ON orders_history (order_id);

-- The latest state of each order: upserted on c/u/r, deleted on d.
CREATE TABLE orders_current (
    order_id        bigint        PRIMARY KEY,
    customer_id     bigint        NOT NULL,
    symbol          text          NOT NULL,
    side            text          NOT NULL,
    order_type      text          NOT NULL,
    quantity        numeric(18,4) NOT NULL,
    price           numeric(18,4) NOT NULL,
    status          text          NOT NULL,
    created_at      timestamptz   NOT NULL,
    updated_at      timestamptz   NOT NULL,
    source_ts       timestamptz   NOT NULL,
    kafka_topic     text          NOT NULL,
    kafka_partition integer       NOT NULL,
    kafka_offset    bigint        NOT NULL
);
CREATE INDEX orders_current_customer_id ON orders_current (customer_id);

CREATE TABLE order_executions_history (
    id              bigserial   PRIMARY KEY,
    execution_id    bigint      NOT NULL,
    op              char(1)     NOT NULL CHECK (op IN ('c', 'u', 'd', 'r')),
    before          jsonb,
    after           jsonb,
    source_ts       timestamptz NOT NULL,
    kafka_topic     text        NOT NULL,
    kafka_partition integer     NOT NULL,
    kafka_offset    bigint      NOT NULL,
    written_at      timestamptz NOT NULL DEFAULT now(),
    UNIQUE (kafka_topic, kafka_partition, kafka_offset)
);
CREATE INDEX order_executions_history_execution_id ON order_executions_history (execution_id);

CREATE TABLE order_executions_current (
    execution_id    bigint        PRIMARY KEY,
    order_id        bigint        NOT NULL,
    symbol          text          NOT NULL,
    quantity        numeric(18,4) NOT NULL,
    price           numeric(18,4) NOT NULL,
    executed_at     timestamptz   NOT NULL,
    source_ts       timestamptz   NOT NULL,
    kafka_topic     text          NOT NULL,
    kafka_partition integer       NOT NULL,
    kafka_offset    bigint        NOT NULL
);
CREATE INDEX order_executions_current_order_id ON order_executions_current (order_id);

-- Per user (the order's customer_id), recomputed from orders_current for the users a batch
-- touched, in the batch's transaction; a user left with no orders has no row.
CREATE TABLE user_order_stats (
    user_id                bigint      PRIMARY KEY,
    order_count            bigint      NOT NULL,
    notional               numeric     NOT NULL,
    new_count              bigint      NOT NULL,
    partially_filled_count bigint      NOT NULL,
    filled_count           bigint      NOT NULL,
    cancelled_count        bigint      NOT NULL,
    rejected_count         bigint      NOT NULL,
    updated_at             timestamptz NOT NULL
);

-- Where each consumer group goes on: the next offset to read, written in the same transaction
-- as the rows of the records before it. A restart seeks here.
CREATE TABLE cdcctl_offsets (
    consumer_group text        NOT NULL,
    topic          text        NOT NULL,
    partition      integer     NOT NULL,
    next_offset    bigint      NOT NULL,
    updated_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (consumer_group, topic, partition)
);

-- Records that could not be decoded or that PostgreSQL refused as bad data: quarantined in
-- the batch's transaction, counted, and consumption goes on.
CREATE TABLE sink_rejects (
    id              bigserial   PRIMARY KEY,
    kafka_topic     text        NOT NULL,
    kafka_partition integer     NOT NULL,
    kafka_offset    bigint      NOT NULL,
    stage           text        NOT NULL,
    reason          text        NOT NULL,
    record_key      bytea,
    record_value    bytea,
    rejected_at     timestamptz NOT NULL DEFAULT now(),
    UNIQUE (kafka_topic, kafka_partition, kafka_offset)
);
