-- cdcctl render (do not edit: change the manifest and render again)
-- Primary-key tables for the captured tables: a change upserts its row, a delete removes it.
-- One BE on the 16 GB box, hence replication_num 1 and one bucket.

CREATE TABLE IF NOT EXISTS orders (
    order_id BIGINT NOT NULL,
    customer_id BIGINT,
    symbol VARCHAR(16),
    side VARCHAR(8),
    order_type VARCHAR(8),
    quantity DECIMAL(18, 4),
    price DECIMAL(18, 4),
    status VARCHAR(24),
    created_at DATETIME,
    updated_at DATETIME
)
PRIMARY KEY (order_id)
DISTRIBUTED BY HASH (order_id) BUCKETS 1
PROPERTIES (
    "replication_num" = "1",
    "enable_persistent_index" = "true"
);

CREATE TABLE IF NOT EXISTS order_executions (
    execution_id BIGINT NOT NULL,
    order_id BIGINT,
    symbol VARCHAR(16),
    quantity DECIMAL(18, 4),
    price DECIMAL(18, 4),
    executed_at DATETIME
)
PRIMARY KEY (execution_id)
DISTRIBUTED BY HASH (execution_id) BUCKETS 1
PROPERTIES (
    "replication_num" = "1",
    "enable_persistent_index" = "true"
);
