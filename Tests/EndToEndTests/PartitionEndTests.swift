import Foundation
import Kafka
import TestSupport
import XCTest

/// `trace` ends a partition scan on librdkafka's partition-end event (`KafkaConsumer.next` with
/// `partitionEnds`), not on a quiet spell (a slow first fetch looks the same) nor on the high
/// watermark (Tansu misreports it, docs/testbed.md). Against the testbed's broker.
final class PartitionEndTests: XCTestCase {
    func testPartitionEndComesAfterTheLastRecordAndAtOnceForNothingPastTheStart() throws {
        let testbed = try Testbed.require()
        let settings = KafkaSettings(bootstrap: testbed["TESTBED_KAFKA_BOOTSTRAP_SINGLE"])
        let topic = "cdcctl-eof-\(UUID().uuidString.prefix(8).lowercased())"
        let errors = try KafkaAdmin(settings).createTopics([NewTopic(name: topic, partitions: 1, replicationFactor: 1, configs: [])])
        XCTAssertTrue(errors.isEmpty, "\(errors)")
        addTeardownBlock { _ = try? KafkaAdmin(settings).deleteTopics([topic]) }

        func events(from offset: Int64) throws -> [KafkaConsumer.Event] {
            let c = try KafkaConsumer(settings, group: "cdcctl-eof-\(UUID().uuidString.prefix(8))", partitionEnds: true)
            try c.assign([(topic, 0, offset)])
            var out: [KafkaConsumer.Event] = []
            let deadline = Date().addingTimeInterval(30)
            while Date() < deadline {
                guard let e = try c.next(timeoutMs: 250) else { continue }
                out.append(e)
                if case .partitionEnd = e { break }
            }
            return out
        }
        XCTAssertEqual(try events(from: -2), [.partitionEnd(topic: topic, partition: 0, offset: 0)], "an empty partition ends at once")

        let producer = try KafkaProducer(settings)
        for i in 0..<5 { try producer.send(topic: topic, key: "k", value: "v\(i)") }
        try producer.flush()
        let all = try events(from: -2)
        XCTAssertEqual(all.count, 6, "\(all)")
        XCTAssertEqual(all.compactMap { e -> Int64? in if case let .message(m) = e { m.offset } else { nil } }, [0, 1, 2, 3, 4])
        XCTAssertEqual(all.last, .partitionEnd(topic: topic, partition: 0, offset: 5), "the end comes after the last record")
        XCTAssertEqual(try events(from: 5), [.partitionEnd(topic: topic, partition: 0, offset: 5)], "nothing past the start")
        let plain = try KafkaConsumer(settings, group: "cdcctl-eof-plain")
        try plain.assign([(topic, 0, 5)])
        XCTAssertNil(try plain.next(timeoutMs: 1500), "without partitionEnds no end is reported")
    }
}
