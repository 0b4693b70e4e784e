-- cdcctl render (do not edit: change the manifest and render again)
-- The seed schema the order generator writes and Debezium captures.
-- Runs once, on an empty data directory, in database shop.
CREATE TABLE IF NOT EXISTS orders (
    order_id     BIGINT        NOT NULL AUTO_INCREMENT,
    customer_id  BIGINT        NOT NULL,
    symbol       VARCHAR(16)   NOT NULL,
    side         ENUM('BUY', 'SELL') NOT NULL,
    order_type   ENUM('MARKET', 'LIMIT') NOT NULL DEFAULT 'LIMIT',
    quantity     DECIMAL(18, 4) NOT NULL,
    price        DECIMAL(18, 4) NOT NULL,
    status       ENUM('NEW', 'PARTIALLY_FILLED', 'FILLED', 'CANCELLED', 'REJECTED') NOT NULL DEFAULT 'NEW',
    created_at   DATETIME(3)   NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
    updated_at   DATETIME(3)   NOT NULL DEFAULT CURRENT_TIMESTAMP(3) ON UPDATE CURRENT_TIMESTAMP(3),
    PRIMARY KEY (order_id),
    KEY idx_orders_symbol_created (symbol, created_at),
    KEY idx_orders_status (status)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4;

CREATE TABLE IF NOT EXISTS order_executions (
    execution_id BIGINT        NOT NULL AUTO_INCREMENT,
    order_id     BIGINT        NOT NULL,
    symbol       VARCHAR(16)   NOT NULL,
    quantity     DECIMAL(18, 4) NOT NULL,
    price        DECIMAL(18, 4) NOT NULL,
    executed_at  DATETIME(3)   NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
    PRIMARY KEY (execution_id),
    KEY idx_executions_order (order_id),
    CONSTRAINT fk_executions_order FOREIGN KEY (order_id) REFERENCES orders (order_id)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4;
