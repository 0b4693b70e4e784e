import Foundation
import Kafka
import Manifest
@testable import Monitor
import TestSupport
import XCTest

/// The freshness collector keeps its Kafka handles across scrapes (one admin and consumer for
/// the monitor's life, not one per scrape) and still reads each scrape's newest record; after a
/// failed scrape it starts with fresh handles. Against the testbed's brokers (Tansu).
final class FreshnessCollectorTests: XCTestCase {
    func testHandlesLiveAcrossScrapesAndEachScrapeSeesTheNewestRecord() throws {
        let testbed = try Testbed.require()
        let id = String(UUID().uuidString.prefix(8).lowercased())
        let prefix = "fresh\(id)"
        let topic = "\(prefix).shop.orders"
        // One Tansu process for the producer and the collector: through the three-address
        // bootstrap a record written through one process is invisible through another for ~5 s.
        let bootstrap = testbed["TESTBED_KAFKA_BOOTSTRAP_SINGLE"]
        let settings = KafkaSettings(bootstrap: bootstrap)
        let errors = try KafkaAdmin(settings).createTopics([NewTopic(name: topic, partitions: 1, replicationFactor: 1, configs: [])])
        XCTAssertTrue(errors.isEmpty, "\(errors)")
        addTeardownBlock { _ = try? KafkaAdmin(settings).deleteTopics([topic]) }
        func manifest(_ bootstrap: String) throws -> Manifest {
            var m = try ManifestLoader.load(path: TestSupport.repo + "/manifests/testbed.yaml").manifest
            m.connect.connectors[0].topicPrefix = prefix
            m.connect.connectors[0].tables = ["shop.orders"]
            m.connect.connectors = [m.connect.connectors[0]]
            m.access.kafkaBootstrap = bootstrap
            return m
        }
        let collector = FreshnessCollector(manifest: try manifest(bootstrap), timeoutMs: 5_000)
        let producer = try KafkaProducer(settings)
        func scrape() throws -> Double? {
            var e = Exposition()
            try collector.collect(into: &e)
            let line = e.text.split(separator: "\n").first { $0.hasPrefix("cdcctl_cdc_last_event_timestamp_seconds{") }
            return line.flatMap { $0.split(separator: " ").last }.flatMap { Double($0) }
        }
        // Each record's CreateTime is at least the host clock read before it was sent, so a scrape
        // that read it returns at least `before`. Tansu's high watermark lags the log (after two
        // records it says 1, after four 3; docs/testbed.md): a collector that trusted it would
        // report an older record or none. The test prints what the watermark said, so the run
        // shows whether that path was exercised; on Apache Kafka the watermark is right.
        let probe = try KafkaConsumer(settings, group: "fresh-probe-\(id)", readCommitted: false)
        var seen: [Double] = []
        var lagged = 0
        for i in 0..<4 {
            let before = Double(Int64(Date().timeIntervalSince1970 * 1000)) / 1000
            try producer.send(topic: topic, key: "{\"order_id\":\(i)}", value: "{}")
            try producer.flush()
            let high = try probe.watermarks(topic: topic, partition: 0).high
            if high < Int64(i + 1) { lagged += 1 }
            print("FRESHNESS scrape \(i): \(i + 1) record(s) written, the broker's high watermark says \(high)")
            let r = try XCTUnwrap(try scrape(), "scrape \(i) reads the table's newest record")
            XCTAssertGreaterThanOrEqual(r, before, "scrape \(i) read the record produced just before it, not an older one")
            seen.append(r)
            Thread.sleep(forTimeInterval: 0.05)
        }
        print("FRESHNESS the watermark lagged the log on \(lagged) of 4 scrapes")
        // Whether Tansu's watermark lagged above is chance; a start three records behind the end
        // (what a lagging watermark gives) must still find the newest record.
        let (_, consumer) = try collector.kafka()
        let fromStart = try collector.newestTimestamps(from: [(topic, 0, 0)], consumer: consumer)
        XCTAssertEqual(fromStart[topic].map { Double($0) / 1000 }, seen[3], "read from offset 0 to the end, the newest record is the fourth")
        XCTAssertEqual(collector.handlesMade, 1, "one admin and consumer for every scrape")
        XCTAssertLessThan(seen[0], seen[3], "each scrape saw the record produced just before it: \(seen)")

        let unreachable = FreshnessCollector(manifest: try manifest("127.0.0.1:1"), timeoutMs: 1_000)
        var e = Exposition()
        XCTAssertThrowsError(try unreachable.collect(into: &e))
        XCTAssertThrowsError(try unreachable.collect(into: &e))
        XCTAssertEqual(unreachable.handlesMade, 2, "a failed scrape drops its handles; the next makes new ones")
    }
}
