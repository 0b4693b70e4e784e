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

    /// Prints the numbers for docs/benchmarks.md (PROCESSOR_BENCH_EVENTS=N in release for real
    /// figures; a small run otherwise). Checks the runs' results, never their speed.
    func testReport() throws {
        let n = ProcessInfo.processInfo.environment["PROCESSOR_BENCH_EVENTS"].flatMap(Int.init) ?? 20_000
        for run in 1...3 {
            let r = ProcessorBenchmark.run(events: n)
            XCTAssertEqual(r.events, n)
            XCTAssertEqual(r.malformed, 0)
            print(String(format: "processor run %d: %d events (%d trades, %d CDC), %.1f MB in %.3f s: %.0f events/s, %.1f MB/s; %d rows, %d alerts, %llu late dropped; JSONEachRow %.0f rows/s",
                         run, r.events, r.trades, r.cdcRecords, Double(r.inputBytes) / 1_048_576, r.seconds, r.eventsPerSecond,
                         r.megabytesPerSecond, r.rows, r.alerts, r.lateEventsDropped, r.encodedRowsPerSecond))
        }

        // Decoding alone, per kind of record: this scanner against Foundation's parsers.
        let input = ProcessorBenchmark.generate(events: n)
        let trades = input.filter { $0.position.topic == "trades.raw" }.map { $0.value! }
        let changes = input.filter { $0.position.topic == "cdc.shop.orders" }.compactMap(\.value)
        let clock = ContinuousClock()
        var sink = 0
        func rate(_ count: Int, _ body: () -> Void) -> String { String(format: "%.0f/s", Double(count) / clock.measure(body).seconds) }
        let position = RecordPosition(topic: "t", partition: 0, offset: 0)
        struct Trade: Decodable { var symbol: String; var trade_id: String; var price: String; var volume: String; var side: String; var ts_ms: Int64; var source: String }
        let decoder = JSONDecoder()
        let tradeScanner = rate(trades.count) {
            for v in trades { v.withUnsafeBytes { if let t = try? TradeCodec.decode($0, at: position) { sink &+= t.symbol.utf8.count } } }
        }
        let tradeDecoder = rate(trades.count) {
            for v in trades { if let t = try? decoder.decode(Trade.self, from: Data(v)) { sink &+= t.symbol.count } }
        }
        let tradeSerialization = rate(trades.count) {
            for v in trades { if let o = try? JSONSerialization.jsonObject(with: Data(v)) as? [String: Any] { sink &+= o.count } }
        }
        let changeScanner = rate(changes.count) {
            for v in changes { v.withUnsafeBytes { if case .change(let e)? = try? Debezium.decodeOrder(key: nil, value: $0, at: position) { sink &+= Int(e.row.orderId) } } }
        }
        let changeSerialization = rate(changes.count) {
            for v in changes { if let o = try? JSONSerialization.jsonObject(with: Data(v)) as? [String: Any] { sink &+= o.count } }
        }
        print("decode only: \(trades.count) trades: scanner \(tradeScanner), JSONDecoder \(tradeDecoder), JSONSerialization \(tradeSerialization); "
              + "\(changes.count) order change events: scanner \(changeScanner) (typed rows + raw images), JSONSerialization \(changeSerialization) (untyped) [\(sink & 1)]")
    }
}
