-- cdcctl render (do not edit: change the manifest and render again)
-- Routine Load jobs: StarRocks reads the Debezium topics (JSON, schemas off) itself.

CREATE ROUTINE LOAD orders_from_kafka ON orders
COLUMNS (
    after_order_id, after_customer_id, after_symbol, after_side, after_order_type, after_quantity, after_price, after_status, after_created_at, after_updated_at, before_order_id, before_customer_id, before_symbol, before_side, before_order_type, before_quantity, before_price, before_status, before_created_at, before_updated_at, dbz_op,
    order_id = if(dbz_op = 'd', before_order_id, after_order_id),
    customer_id = if(dbz_op = 'd', before_customer_id, after_customer_id),
    symbol = if(dbz_op = 'd', before_symbol, after_symbol),
    side = if(dbz_op = 'd', before_side, after_side),
    order_type = if(dbz_op = 'd', before_order_type, after_order_type),
    quantity = if(dbz_op = 'd', before_quantity, after_quantity),
    price = if(dbz_op = 'd', before_price, after_price),
    status = if(dbz_op = 'd', before_status, after_status),
    created_at = from_unixtime(cast(if(dbz_op = 'd', before_created_at, after_created_at) / 1000 AS BIGINT)),
    updated_at = from_unixtime(cast(if(dbz_op = 'd', before_updated_at, after_updated_at) / 1000 AS BIGINT)),
    __op = if(dbz_op = 'd', 1, 0)
),
WHERE dbz_op IN ('c', 'u', 'd', 'r')
PROPERTIES (
    "format" = "json",
    "jsonpaths" = '["$.after.order_id", "$.after.customer_id", "$.after.symbol", "$.after.side", "$.after.order_type", "$.after.quantity", "$.after.price", "$.after.status", "$.after.created_at", "$.after.updated_at", "$.before.order_id", "$.before.customer_id", "$.before.symbol", "$.before.side", "$.before.order_type", "$.before.quantity", "$.before.price", "$.before.status", "$.before.created_at", "$.before.updated_at", "$.op"]',
    "strip_outer_array" = "false",
    "timezone" = "UTC",
    "desired_concurrent_number" = "1",
    "max_batch_interval" = "10",
    "max_error_number" = "0"
)
FROM KAFKA (
    "kafka_broker_list" = "kafka-1:19092,kafka-2:19092,kafka-3:19092",
    "kafka_topic" = "cdc.shop.orders",
    "property.group.id" = "starrocks-variants-orders",
    "property.kafka_default_offsets" = "OFFSET_BEGINNING"
);

CREATE ROUTINE LOAD order_executions_from_kafka ON order_executions
COLUMNS (
    after_execution_id, after_order_id, after_symbol, after_quantity, after_price, after_executed_at, before_execution_id, before_order_id, before_symbol, before_quantity, before_price, before_executed_at, dbz_op,
    execution_id = if(dbz_op = 'd', before_execution_id, after_execution_id),
    order_id = if(dbz_op = 'd', before_order_id, after_order_id),
    symbol = if(dbz_op = 'd', before_symbol, after_symbol),
    quantity = if(dbz_op = 'd', before_quantity, after_quantity),
    price = if(dbz_op = 'd', before_price, after_price),
    executed_at = from_unixtime(cast(if(dbz_op = 'd', before_executed_at, after_executed_at) / 1000 AS BIGINT)),
    __op = if(dbz_op = 'd', 1, 0)
),
WHERE dbz_op IN ('c', 'u', 'd', 'r')
PROPERTIES (
    "format" = "json",
    "jsonpaths" = '["$.after.execution_id", "$.after.order_id", "$.after.symbol", "$.after.quantity", "$.after.price", "$.after.executed_at", "$.before.execution_id", "$.before.order_id", "$.before.symbol", "$.before.quantity", "$.before.price", "$.before.executed_at", "$.op"]',
    "strip_outer_array" = "false",
    "timezone" = "UTC",
    "desired_concurrent_number" = "1",
    "max_batch_interval" = "10",
    "max_error_number" = "0"
)
FROM KAFKA (
    "kafka_broker_list" = "kafka-1:19092,kafka-2:19092,kafka-3:19092",
    "kafka_topic" = "cdc.shop.order_executions",
    "property.group.id" = "starrocks-variants-order_executions",
    "property.kafka_default_offsets" = "OFFSET_BEGINNING"
);
