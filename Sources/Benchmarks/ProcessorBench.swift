import Foundation
import Processor

/// `cdcctl bench processor`: the engine's throughput on generated input (three runs), and
/// decoding alone per kind of record, this project's scanner against Foundation's parsers.
public struct ProcessorBenchReport: Sendable, Codable {
    public struct Run: Sendable, Codable {
        public var events: Int
        public var trades: Int
        public var cdcRecords: Int
        public var inputMiB: Double
        public var seconds: Double
        public var eventsPerSecond: Double
        public var megabytesPerSecond: Double
        public var rows: Int
        public var alerts: Int
        public var encodedRowsPerSecond: Double
    }

    public struct Decode: Sendable, Codable {
        public var trades: Int
        public var tradeScannerPerSecond: Double
        public var tradeJSONDecoderPerSecond: Double
        public var tradeJSONSerializationPerSecond: Double
        public var changeEvents: Int
        public var changeScannerPerSecond: Double
        public var changeJSONSerializationPerSecond: Double
    }

    public var runs: [Run]
    public var decode: Decode?
    public var peakRssMiB: Double
}

public enum ProcessorBench {
    public static func run(events: Int, runs: Int = 3, decode: Bool = true) -> ProcessorBenchReport {
        var out: [ProcessorBenchReport.Run] = []
        for _ in 0..<runs {
            let r = ProcessorBenchmark.run(events: events)
            out.append(.init(events: r.events, trades: r.trades, cdcRecords: r.cdcRecords, inputMiB: Double(r.inputBytes) / 1_048_576,
                             seconds: r.seconds, eventsPerSecond: r.eventsPerSecond, megabytesPerSecond: r.megabytesPerSecond,
                             rows: r.rows, alerts: r.alerts, encodedRowsPerSecond: r.encodedRowsPerSecond))
        }
        return ProcessorBenchReport(runs: out, decode: decode ? decodeRates(events: events) : nil, peakRssMiB: peakRssMiB())
    }

    static func decodeRates(events: Int) -> ProcessorBenchReport.Decode {
        let input = ProcessorBenchmark.generate(events: events)
        let trades = input.filter { $0.position.topic == "trades.raw" }.compactMap(\.value)
        let changes = input.filter { $0.position.topic == "cdc.shop.orders" }.compactMap(\.value)
        let clock = ContinuousClock()
        var sink = 0
        func rate(_ count: Int, _ body: () -> Void) -> Double {
            let d = clock.measure(body)
            return Double(count) / (Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18)
        }
        let position = RecordPosition(topic: "t", partition: 0, offset: 0)
        struct Trade: Decodable { var symbol: String; var trade_id: String; var price: String; var volume: String; var side: String; var ts_ms: Int64; var source: String }
        let decoder = JSONDecoder()
        let result = ProcessorBenchReport.Decode(
            trades: trades.count,
            tradeScannerPerSecond: rate(trades.count) {
                for v in trades { v.withUnsafeBytes { if let t = try? TradeCodec.decode($0, at: position) { sink &+= t.symbol.utf8.count } } }
            },
            tradeJSONDecoderPerSecond: rate(trades.count) {
                for v in trades { if let t = try? decoder.decode(Trade.self, from: Data(v)) { sink &+= t.symbol.count } }
            },
            tradeJSONSerializationPerSecond: rate(trades.count) {
                for v in trades { if let o = try? JSONSerialization.jsonObject(with: Data(v)) as? [String: Any] { sink &+= o.count } }
            },
            changeEvents: changes.count,
            changeScannerPerSecond: rate(changes.count) {
                for v in changes { v.withUnsafeBytes { if case .change(let e)? = try? Debezium.decodeOrder(key: nil, value: $0, at: position) { sink &+= Int(e.row.orderId) } } }
            },
            changeJSONSerializationPerSecond: rate(changes.count) {
                for v in changes { if let o = try? JSONSerialization.jsonObject(with: Data(v)) as? [String: Any] { sink &+= o.count } }
            })
        if sink == 42 { print("") }  // keeps the decoded values alive
        return result
    }

    /// The process's peak resident set (getrusage's ru_maxrss, KiB on Linux).
    public static func peakRssMiB() -> Double {
        var usage = rusage()
        getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &usage)
        return Double(usage.ru_maxrss) / 1024
    }
}
