import Foundation
import XCTest
@testable import Processor

/// The benchmark's plumbing (no timing assertions). For numbers, build in release and run
/// `PROCESSOR_BENCH_EVENTS=1000000 swift test -c release -Xswiftc -enable-testing --filter BenchmarkTests`.
final class BenchmarkTests: XCTestCase {
    func testGeneratedInputIsRealisticAndDecodes() {
        let input = ProcessorBenchmark.generate(events: 10_000)
        XCTAssertEqual(input.count, 10_000)
        let trades = input.filter { $0.position.topic == "trades.raw" }.count
        XCTAssertEqual(Double(trades) / 10_000, 0.9, accuracy: 0.02, "about 90% trades")
        let engine = ProcessorEngine(config: .defaults)
        var out = OutputBatch()
        for r in input { XCTAssertNil(r.process(with: engine, into: &out)) }
        XCTAssertEqual(Set(out.trades.map(\.symbol)).count, 20)
        XCTAssertGreaterThan(out.cdcOrdersRaw.count, 0)
        XCTAssertGreaterThan(out.cdcOrderExecutionsRaw.count, 0)
        XCTAssertEqual(ProcessorBenchmark.generate(events: 1_000), ProcessorBenchmark.generate(events: 1_000), "deterministic")
    }

    func testRunReportsThroughput() {
        let r = ProcessorBenchmark.run(events: 20_000)
        XCTAssertEqual(r.events, 20_000)
        XCTAssertEqual(r.trades + r.cdcRecords, 20_000)
        XCTAssertEqual(r.malformed, 0)
        XCTAssertGreaterThan(r.rows, 20_000)
        XCTAssertGreaterThan(r.eventsPerSecond, 0)
        XCTAssertGreaterThan(r.encodedRowsPerSecond, 0)
    }

    /// Prints the numbers for docs/benchmarks.md when PROCESSOR_BENCH_EVENTS is set.
    func testReport() throws {
        guard let n = ProcessInfo.processInfo.environment["PROCESSOR_BENCH_EVENTS"].flatMap(Int.init) else {
            throw XCTSkip("set PROCESSOR_BENCH_EVENTS=N to measure (in release)")
        }
        for run in 1...3 {
            let r = ProcessorBenchmark.run(events: n)
            print(String(format: "processor run %d: %d events (%d trades, %d CDC), %.1f MB in %.3f s: %.0f events/s, %.1f MB/s; %d rows, %d alerts, %llu late dropped; JSONEachRow %.0f rows/s",
                         run, r.events, r.trades, r.cdcRecords, Double(r.inputBytes) / 1_048_576, r.seconds, r.eventsPerSecond,
                         r.megabytesPerSecond, r.rows, r.alerts, r.lateEventsDropped, r.encodedRowsPerSecond))
        }

        // Decoding alone: this scanner against Foundation's parsers on the same payloads.
        let input = ProcessorBenchmark.generate(events: min(n, 200_000))
        let clock = ContinuousClock()
        var sink = 0
        let ours = clock.measure {
            for r in input {
                r.value?.withUnsafeBytes { v in
                    if r.position.topic == "trades.raw" {
                        if let t = try? TradeCodec.decode(v, at: r.position) { sink &+= t.tradeId.utf8.count }
                    } else if r.position.topic == "cdc.shop.orders" {
                        if case .change(let e)? = try? Debezium.decodeOrder(key: nil, value: v, at: r.position) { sink &+= Int(e.row.orderId) }
                    } else if case .change(let e)? = try? Debezium.decodeExecution(key: nil, value: v, at: r.position) {
                        sink &+= Int(e.row.executionId)
                    }
                }
            }
        }
        let serialization = clock.measure {
            for r in input {
                if let v = r.value, let o = try? JSONSerialization.jsonObject(with: Data(v)) as? [String: Any] { sink &+= o.count }
            }
        }
        struct Trade: Decodable { var symbol: String; var trade_id: String; var price: String; var volume: String; var side: String; var ts_ms: Int64; var source: String }
        let trades = input.filter { $0.position.topic == "trades.raw" }
        let decoder = JSONDecoder()
        let jsonDecoder = clock.measure {
            for r in trades { if let t = try? decoder.decode(Trade.self, from: Data(r.value!)) { sink &+= t.symbol.count } }
        }
        let oursTrades = clock.measure {
            for r in trades { r.value!.withUnsafeBytes { v in if let t = try? TradeCodec.decode(v, at: r.position) { sink &+= t.symbol.utf8.count } } }
        }
        print(String(format: "decode only, %d records: scanner %.0f/s, JSONSerialization (untyped) %.0f/s; %d trades: scanner %.0f/s, JSONDecoder %.0f/s (%d)",
                     input.count, Double(input.count) / ours.seconds, Double(input.count) / serialization.seconds,
                     trades.count, Double(trades.count) / oursTrades.seconds, Double(trades.count) / jsonDecoder.seconds, sink & 1))
    }
}
