import EndToEnd
import XCTest

/// `trace` finds an order's partition with Kafka's default partitioner; these are the vectors
/// of Kafka's own `UtilsTest.testMurmur2`.
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
}
