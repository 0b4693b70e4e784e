import Foundation
import Kafka
import Manifest
import Monitor
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
        let settings = KafkaSettings(bootstrap: testbed.kafkaBootstrap)
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
        let collector = FreshnessCollector(manifest: try manifest(testbed.kafkaBootstrap), timeoutMs: 5_000)
        let producer = try KafkaProducer(settings)
        func scrape() throws -> Double? {
            var e = Exposition()
            try collector.collect(into: &e)
            let line = e.text.split(separator: "\n").first { $0.hasPrefix("cdcctl_cdc_last_event_timestamp_seconds{") }
            return line.flatMap { $0.split(separator: " ").last }.flatMap { Double($0) }
        }
        var seen: [Double] = []
        for i in 0..<3 {
            try producer.send(topic: topic, key: "{\"order_id\":\(i)}", value: "{}")
            try producer.flush()
            seen.append(try XCTUnwrap(try scrape(), "scrape \(i) reads the table's newest record"))
            Thread.sleep(forTimeInterval: 0.05)
        }
        XCTAssertEqual(collector.handlesMade, 1, "one admin and consumer for three scrapes")
        XCTAssertLessThan(seen[0], seen[2], "each scrape saw the record produced just before it: \(seen)")

        let unreachable = FreshnessCollector(manifest: try manifest("127.0.0.1:1"), timeoutMs: 1_000)
        var e = Exposition()
        XCTAssertThrowsError(try unreachable.collect(into: &e))
        XCTAssertThrowsError(try unreachable.collect(into: &e))
        XCTAssertEqual(unreachable.handlesMade, 2, "a failed scrape drops its handles; the next makes new ones")
    }
}
