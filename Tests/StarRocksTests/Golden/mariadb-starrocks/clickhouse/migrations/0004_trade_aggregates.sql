-- Per-symbol event-time windows written by the stream processor (window_minutes is
-- processor.windowMinutes, 5 by default): count, volume, notional, VWAP and OHLC, split by side.
-- A late event re-emits its window with a higher version; read with FINAL.

CREATE TABLE IF NOT EXISTS analytics.trade_aggregates
(
    window_start DateTime64(3),
    window_minutes UInt16,
    symbol LowCardinality(String),
    trade_count UInt64,
    volume Decimal(38, 12),
    notional Decimal(38, 12),
    vwap Float64,
    open Decimal(20, 8),
    high Decimal(20, 8),
    low Decimal(20, 8),
    close Decimal(20, 8),
    buy_volume Decimal(38, 12),
    sell_volume Decimal(38, 12),
    version UInt64
)
ENGINE = ReplacingMergeTree(version)
ORDER BY (symbol, window_minutes, window_start)
SETTINGS non_replicated_deduplication_window = 10000;
