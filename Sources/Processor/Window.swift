/// The first Kafka record a piece of engine state was built from, and the partition's
/// maximum event time before it: replaying from `offset` with that maximum restored rebuilds
/// the state exactly (docs/processor.md, "Restarts").
struct Origin: Equatable {
    var offset: Int64
    var maxEventTimeBefore: Int64
    /// A cheap fingerprint of that record's trade (time, price, volume): a restart checks that
    /// the record it replays from is still this one, not a recreated topic's record at the
    /// same offset. 0 for the synthetic "next offset" origin.
    var fingerprint: Int64 = 0
}

/// The trade of a window that sets its open or close price.
struct PriceMark: Equatable {
    var tsMs: Int64
    var tradeId: String
    var price: FixedDecimal

    /// Orders trades by event time, then by trade id: shorter ids first, so numeric ids of
    /// different lengths compare as numbers; equal lengths compare bytewise.
    static func precedes(_ ts: Int64, _ id: String, _ other: PriceMark) -> Bool {
        if ts != other.tsMs { return ts < other.tsMs }
        let a = id.utf8, b = other.tradeId.utf8
        if a.count != b.count { return a.count < b.count }
        return id < other.tradeId
    }
}

/// One symbol's trades in one event-time window [start, start + size).
struct WindowState {
    let start: Int64
    var tradeCount: UInt64 = 0
    var volume = FixedDecimal.zero
    var notional = FixedDecimal.zero
    var buyVolume = FixedDecimal.zero
    var sellVolume = FixedDecimal.zero
    var open: PriceMark
    var close: PriceMark
    var high: FixedDecimal
    var low: FixedDecimal
    /// Fired: the watermark reached the window's end.
    var fired = false
    /// The version (trade count) last written, by a firing or by the idle rule; 0: none.
    var emittedVersion: UInt64 = 0
    var origin: Origin

    init(start: Int64, first trade: TradeEvent, origin: Origin) {
        self.start = start
        let mark = PriceMark(tsMs: trade.tsMs, tradeId: trade.tradeId, price: trade.price)
        open = mark
        close = mark
        high = trade.price
        low = trade.price
        self.origin = origin
    }

    /// `trade_aggregates` columns: notional Decimal(38,20) (price scale 8 + volume scale 12),
    /// volume, buy_volume and sell_volume Decimal(38,12). A sum that would not fit them is
    /// refused here rather than by ClickHouse (where it would fail the whole batch).
    static let notionalIntegerDigits = 18
    static let volumeIntegerDigits = 26

    /// Adds a trade; false (and no change) when a sum would not fit its column.
    mutating func fold(_ t: TradeEvent, notional tradeNotional: FixedDecimal) -> Bool {
        guard let v = volume.adding(t.volume), let n = notional.adding(tradeNotional),
              v.fits(integerDigits: Self.volumeIntegerDigits), n.fits(integerDigits: Self.notionalIntegerDigits) else { return false }
        let sideVolume = t.side == .buy ? buyVolume.adding(t.volume) : sellVolume.adding(t.volume)
        guard let sideVolume else { return false }
        volume = v
        notional = n
        if t.side == .buy { buyVolume = sideVolume } else { sellVolume = sideVolume }
        tradeCount += 1
        if t.price > high { high = t.price }
        if t.price < low { low = t.price }
        if PriceMark.precedes(t.tsMs, t.tradeId, open) { open = PriceMark(tsMs: t.tsMs, tradeId: t.tradeId, price: t.price) }
        if !PriceMark.precedes(t.tsMs, t.tradeId, close) { close = PriceMark(tsMs: t.tsMs, tradeId: t.tradeId, price: t.price) }
        return true
    }

    func row(symbol: String, windowMinutes: Int) -> TradeAggregateRow {
        TradeAggregateRow(windowStartMs: start, windowMinutes: windowMinutes, symbol: symbol, tradeCount: tradeCount,
                          volume: volume, notional: notional, vwap: notional.doubleValue / volume.doubleValue,
                          open: open.price, high: high, low: low, close: close.price,
                          buyVolume: buyVolume, sellVolume: sellVolume, version: tradeCount)
    }
}
