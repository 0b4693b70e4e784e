import Foundation
import XCTest
@testable import Processor

/// The benchmark's plumbing (no timing assertions). The numbers come from
/// `cdcctl bench processor` in a release build, never from `swift test`.
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
}
