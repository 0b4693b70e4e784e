public enum TradeSide: String, Sendable, Equatable {
    case buy, sell
}

/// A trade on topic `trades.raw` (keyed by symbol), as our producers write it:
///
///     {"symbol":"KRW-BTC","trade_id":"…","price":"97000000.0","volume":"0.0123","side":"buy",
///      "ts_ms":1700000000123,"source":"upbit"}
///
/// Prices and volumes are decimal strings, read exactly. The same type is a row of the
/// ClickHouse table `trades`.
public struct TradeEvent: Sendable, Equatable {
    public var symbol: String
    public var tradeId: String
    public var price: FixedDecimal
    public var volume: FixedDecimal
    public var side: TradeSide
    /// Event time: when the trade happened at the exchange (epoch milliseconds).
    public var tsMs: Int64
    /// `upbit`, `kis`, `replay`, `synthetic`.
    public var source: String

    public init(symbol: String, tradeId: String, price: FixedDecimal, volume: FixedDecimal, side: TradeSide, tsMs: Int64, source: String) {
        self.symbol = symbol
        self.tradeId = tradeId
        self.price = price
        self.volume = volume
        self.side = side
        self.tsMs = tsMs
        self.source = source
    }

    /// `price × volume`, exact; nil if it does not fit 38 digits (the trade is then left out of its window).
    public var notional: FixedDecimal? { price.multiplied(by: volume) }
}

public enum TradeCodec {
    /// The `trades` columns: price Decimal(20,8), volume Decimal(28,12).
    public static let priceScale = 8, priceIntegerDigits = 12
    public static let volumeScale = 12, volumeIntegerDigits = 16

    public static func decode(_ value: UnsafeRawBufferPointer?, at position: RecordPosition) throws(DecodeError) -> TradeEvent {
        guard let value, value.count > 0 else {
            throw DecodeError(position: position, field: "value", message: "a trade needs a value, found a null record")
        }
        return try scan(value, at: position, part: "value") { (s: inout JSONScanner) throws(JSONError) in try decode(&s) }
    }

    /// Decodes one JSON line (tests, replay files).
    public static func decode(_ line: String, at position: RecordPosition = RecordPosition(topic: "trades.raw", partition: 0, offset: 0)) throws(DecodeError) -> TradeEvent {
        var text = line
        let result = text.withUTF8 { buf in
            Result { () throws(DecodeError) in try decode(UnsafeRawBufferPointer(buf), at: position) }
        }
        return try result.get()
    }

    static func decode(_ s: inout JSONScanner) throws(JSONError) -> TradeEvent {
        try s.beginObject()
        var symbol: String?, tradeId: String?, source: String?
        var price: FixedDecimal?, volume: FixedDecimal?
        var side: TradeSide?
        var ts: Int64?
        var first = true
        while let k = try s.nextKey(&first) {
            if s.key(k, is: "symbol") {
                let text = try s.string()
                guard !text.isEmpty else { throw s.error("must not be empty") }
                symbol = text
            } else if s.key(k, is: "trade_id") {
                let text = try s.identifier()
                guard !text.isEmpty else { throw s.error("must not be empty") }
                tradeId = text
            } else if s.key(k, is: "price") {
                price = try amount(&s, scale: priceScale, integerDigits: priceIntegerDigits, column: "Decimal(20,8)")
            } else if s.key(k, is: "volume") {
                volume = try amount(&s, scale: volumeScale, integerDigits: volumeIntegerDigits, column: "Decimal(28,12)")
            } else if s.key(k, is: "side") {
                let start = s.position
                let text = try s.string()
                switch text {
                case "buy", "BUY", "Buy": side = .buy
                case "sell", "SELL", "Sell": side = .sell
                default: throw s.error("expected \"buy\" or \"sell\", found \"\(text)\"", at: start)
                }
            } else if s.key(k, is: "ts_ms") {
                let start = s.position
                let t = try s.int64()
                guard t > 0 else { throw s.error("expected epoch milliseconds > 0, found \(t)", at: start) }
                ts = t
            } else if s.key(k, is: "source") {
                source = try s.null() ? nil : try s.string()
            } else {
                try s.skipValue()
            }
        }
        guard let symbol else { throw s.missing("symbol") }
        guard let tradeId else { throw s.missing("trade_id") }
        guard let price else { throw s.missing("price") }
        guard let volume else { throw s.missing("volume") }
        guard let side else { throw s.missing("side") }
        guard let ts else { throw s.missing("ts_ms") }
        // Price and volume each fit their `trades` columns, so the trade is stored even when
        // price × volume does not fit the window's notional: the engine then counts it in
        // aggregateOverflows and leaves it out of its window (docs/processor.md).
        return TradeEvent(symbol: symbol, tradeId: tradeId, price: price, volume: volume, side: side, tsMs: ts, source: source ?? "")
    }

    /// A positive decimal that fits the ClickHouse column (extra trailing zeros are dropped).
    private static func amount(_ s: inout JSONScanner, scale: Int, integerDigits: Int, column: String) throws(JSONError) -> FixedDecimal {
        let start = s.position
        var d = try s.decimal()
        if d.scale > scale { d = d.normalized }
        guard d.isPositive else { throw s.error("must be greater than 0, found \(d)", at: start) }
        guard d.scale <= scale, d.integerDigits <= integerDigits else {
            throw s.error("\(d) does not fit \(column)", at: start)
        }
        return d
    }

    /// The JSON line producers write (no trailing newline).
    public static func encode(_ trade: TradeEvent) -> [UInt8] {
        var w = JSONWriter(capacity: 160)
        encode(trade, into: &w)
        return w.bytes
    }

    static func encode(_ t: TradeEvent, into w: inout JSONWriter) {
        w.beginObject()
        w.field("symbol", t.symbol)
        w.field("trade_id", t.tradeId)
        w.field("price", t.price)
        w.field("volume", t.volume)
        w.field("side", t.side.rawValue)
        w.field("ts_ms", t.tsMs)
        w.field("source", t.source)
        w.endObject()
    }
}
