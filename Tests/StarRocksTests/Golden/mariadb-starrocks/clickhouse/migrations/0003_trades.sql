-- Trades from the market feeds (Upbit, KIS, replay, synthetic). A trade seen twice (a feed
-- reconnect, a replay) collapses to one row by (symbol, traded_at, trade_id).

CREATE TABLE IF NOT EXISTS analytics.trades
(
    symbol LowCardinality(String),
    trade_id String,
    price Decimal(20, 8),
    volume Decimal(28, 12),
    side LowCardinality(String),
    traded_at DateTime64(3),
    source LowCardinality(String),
    ingested_at DateTime64(3) DEFAULT now64(3)
)
ENGINE = ReplacingMergeTree
ORDER BY (symbol, traded_at, trade_id)
SETTINGS non_replicated_deduplication_window = 10000;
