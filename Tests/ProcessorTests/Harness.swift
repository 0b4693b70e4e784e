import XCTest
@testable import Processor

/// 2023-11-14 22:14:00 UTC: a multiple of one minute, so windows of 1 minute start at B + k·60 s.
let B: Int64 = 1_700_000_040_000

func config(windowMinutes: Int = 1, delaySeconds: Int = 5, latenessSeconds: Int = 30, zScore: Double = 3, priceWindow: Int = 5,
            volumeFactor: Double = 2, volumeWindows: Int = 3, oversized: Double = 1_000_000, priceHistoryMs: Int64? = nil) -> ProcessorConfig {
    var a = ProcessorConfig.defaults.anomalies
    a.priceZScore = zScore
    a.priceWindow = priceWindow
    a.volumeSpikeFactor = volumeFactor
    a.volumeWindows = volumeWindows
    a.oversizedOrderNotional = oversized
    return ProcessorConfig(tradesTopic: "trades.raw", ordersTopic: "cdc.shop.orders", executionsTopic: "cdc.shop.order_executions",
                           windowMinutes: windowMinutes, watermarkDelaySeconds: delaySeconds, allowedLatenessSeconds: latenessSeconds,
                           anomalies: a, priceHistoryMs: priceHistoryMs)
}

/// Feeds an engine record by record through `process` (the runtime's path: bytes in) and
/// returns the rows each record produced.
final class Harness {
    let engine: ProcessorEngine
    private var offsets: [String: Int64] = [:]
    var all = OutputBatch()

    init(_ config: ProcessorConfig) { engine = ProcessorEngine(config: config) }

    func nextPosition(_ topic: String, _ partition: Int32) -> RecordPosition {
        let key = "\(topic)#\(partition)"
        let offset = offsets[key, default: 0]
        offsets[key] = offset + 1
        return RecordPosition(topic: topic, partition: partition, offset: offset)
    }

    @discardableResult
    func record(_ topic: String, partition: Int32 = 0, key: String? = nil, value: String?, timestampMs: Int64? = nil,
                expectError: Bool = false, file: StaticString = #filePath, line: UInt = #line) -> OutputBatch {
        let r = RecordedRecord(position: nextPosition(topic, partition), key: key.map { Array($0.utf8) }, value: value.map { Array($0.utf8) },
                               timestampMs: timestampMs)
        var out = OutputBatch()
        let error = r.process(with: engine, into: &out)
        if let error, !expectError { XCTFail("\(error)", file: file, line: line) }
        if error == nil, expectError { XCTFail("expected a decode error", file: file, line: line) }
        append(out)
        return out
    }

    @discardableResult
    func trade(_ symbol: String, _ id: String, _ price: String, _ volume: String, _ side: TradeSide = .buy, at t: Int64,
               partition: Int32 = 0, ingestedAt: Int64? = nil, file: StaticString = #filePath, line: UInt = #line) -> OutputBatch {
        let trade = TradeEvent(symbol: symbol, tradeId: id, price: FixedDecimal(price)!, volume: FixedDecimal(volume)!, side: side,
                               tsMs: t, source: "test")
        return record("trades.raw", partition: partition, key: symbol, value: String(decoding: TradeCodec.encode(trade), as: UTF8.self),
                      timestampMs: ingestedAt, file: file, line: line)
    }

    func order(_ op: String, before: String? = nil, after: String? = nil, id: Int64, file: StaticString = #filePath, line: UInt = #line) -> OutputBatch {
        record("cdc.shop.orders", key: #"{"order_id":\#(id)}"#, value: Fixtures.event(op: op, before: before, after: after), file: file, line: line)
    }

    private func append(_ b: OutputBatch) {
        all.cdcOrdersRaw += b.cdcOrdersRaw
        all.cdcOrderExecutionsRaw += b.cdcOrderExecutionsRaw
        all.ordersCurrent += b.ordersCurrent
        all.trades += b.trades
        all.tradeAggregates += b.tradeAggregates
        all.alerts += b.alerts
        all.rejects += b.rejects
    }

    /// Rows the engine writes for open windows at a stop (or after an idle timeout).
    @discardableResult
    func emitOpenWindows(partition: Int32? = nil, upTo watermark: Int64 = .max) -> OutputBatch {
        var out = OutputBatch()
        engine.emitOpenWindows(partition: partition, upTo: watermark, into: &out)
        append(out)
        return out
    }
}
