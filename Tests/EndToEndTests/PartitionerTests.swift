import EndToEnd
import Foundation
import Kafka
import TestSupport
import XCTest

/// `trace order` finds an order's partition with Kafka's Java default partitioner (Connect's);
/// these are the vectors of Kafka's own `UtilsTest.testMurmur2`. `trace trade` finds a symbol's
/// with librdkafka's CRC-32 one, which cdcctl's producers use.
final class PartitionerTests: XCTestCase {
    func testMurmur2MatchesKafka() {
        let cases: [(String, Int32)] = [("21", -973_932_308), ("foobar", -790_332_482), ("a-little-bit-long-string", -985_981_536),
                                        ("a-little-bit-longer-string", -1_486_304_829),
                                        ("lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8", -58_897_971), ("abc", 479_470_107)]
        for (text, expected) in cases { XCTAssertEqual(KafkaPartitioner.murmur2(Array(text.utf8)), expected, text) }
    }

    func testAnOrderKeyMapsIntoTheTopicsPartitions() {
        XCTAssertEqual(KafkaPartitioner.orderKey(42), Array("{\"order_id\":42}".utf8))
        for id in UInt64(1)...200 {
            let p = KafkaPartitioner.partition(key: KafkaPartitioner.orderKey(id), partitions: 3)
            XCTAssertTrue((0..<3).contains(p))
        }
    }

    func testCRC32IsZlibs() {
        XCTAssertEqual(KafkaPartitioner.crc32(Array("123456789".utf8)), 0xCBF4_3926, "the CRC-32 check value")
        XCTAssertEqual(KafkaPartitioner.crc32([]), 0)
    }

    /// The partition librdkafka's producer really chose for each key (delivery reports from the
    /// testbed's broker) is the one `crc32Partition` computes.
    func testCdcctlsProducerPutsAKeyWhereCRC32PartitionSays() throws {
        let testbed = try Testbed.require()
        let settings = KafkaSettings(bootstrap: testbed.kafkaBootstrap)
        let topic = "cdcctl-partitioner-\(UUID().uuidString.prefix(8).lowercased())"
        let errors = try KafkaAdmin(settings).createTopics([NewTopic(name: topic, partitions: 5, replicationFactor: 1, configs: [])])
        XCTAssertTrue(errors.isEmpty, "\(errors)")
        addTeardownBlock { _ = try? KafkaAdmin(settings).deleteTopics([topic]) }
        let producer = try KafkaProducer(settings, keepDeliveries: true)
        let keys = ["KRW-BTC", "KRW-ETH", "KRW-XRP", "005930", "000660", "035420"] + (0..<30).map { "sym-\($0)" }
        for k in keys { try producer.send(topic: topic, key: k, value: "{}") }
        try producer.flush()
        let deliveries = producer.deliveries
        XCTAssertEqual(deliveries.count, keys.count)
        var used = Set<Int32>()
        for d in deliveries {
            XCTAssertNil(d.error)
            XCTAssertEqual(d.partition, KafkaPartitioner.crc32Partition(key: d.key, partitions: 5), String(decoding: d.key, as: UTF8.self))
            used.insert(d.partition)
        }
        XCTAssertGreaterThan(used.count, 2, "the keys spread, so a wrong formula could not agree by chance")
    }
}
