import CRdKafka
import Foundation
import TestSupport
import XCTest
@testable import Kafka

/// Issue 13 items 4 and 7 end to end, against **librdkafka's built-in mock cluster** — an
/// imitation of three brokers inside this test process (real TCP listeners on 127.0.0.1), not
/// Kafka. What it shows that Tansu cannot: a broker that stops answering while metadata still
/// lists it as leader and ISR member (`rd_kafka_mock_broker_set_down` keeps its leaderships), as
/// a SIGKILLed Apache Kafka broker looks until the controller fences it. The mock does not answer
/// DescribeConfigs, so health falls back to the manifest's min.insync.replicas and says so.
final class KafkaMockClusterTests: XCTestCase {
    func testBrokerThatStopsAnsweringIsNamedDownWithThePartitionsItLeads_mockCluster() throws {
        guard ProcessInfo.processInfo.environment["TESTBED_KAFKA_BOOTSTRAP"] != nil else {
            try TestSupport.missing("the testbed's librdkafka (LD_LIBRARY_PATH)", fix: "run scripts/test")
        }
        let admin = try KafkaAdmin(KafkaSettings(bootstrap: "", properties: ["test.mock.num.brokers": "3"]), timeoutMs: 5000)
        let mock = try XCTUnwrap(rd_kafka_handle_mock_cluster(admin.handle.rk))
        let bootstrap = String(cString: rd_kafka_mock_cluster_bootstraps(mock))
        let topic = "mock-orders"
        XCTAssertEqual(rd_kafka_mock_topic_create(mock, topic, 3, 3), RD_KAFKA_RESP_ERR_NO_ERROR)
        for p in Int32(0)..<3 { rd_kafka_mock_partition_set_leader(mock, topic, p, p + 1) }

        let dir = try TestSupport.temporaryDirectory(self)
        let manifest = dir + "/cdcctl.yaml"
        try """
            apiVersion: cdcctl/v1
            cluster:
              name: mock
            kafka:
              engine: kafka
              topics:
                - name: \(topic)
                  partitions: 3
            connect:
              connectors: []
            processor:
              tradesTopic: \(topic)
              ordersTopic: \(topic)
            producers:
              trades:
                topic: \(topic)
            access:
              kafkaBootstrap: \(bootstrap)

            """.write(toFile: manifest, atomically: true, encoding: .utf8)
        let before = try TestSupport.runSeparately(TestSupport.cdcctlBinary, ["topics", "health", "-m", manifest, "-o", "json", "--state-dir", dir + "/state"])
        let healthy = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(before.stdout.utf8)) as? [String: Any], before.stdout + before.stderr)
        XCTAssertEqual(healthy["brokersLive"] as? Int, 3, "\(healthy)")

        XCTAssertEqual(rd_kafka_mock_broker_set_down(mock, 2), RD_KAFKA_RESP_ERR_NO_ERROR)
        let after = try TestSupport.runSeparately(TestSupport.cdcctlBinary, ["topics", "health", "-m", manifest, "-o", "json", "--state-dir", dir + "/state"])
        XCTAssertEqual(after.status, 3, after.stderr)
        let report = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(after.stdout.utf8)) as? [String: Any], after.stdout + after.stderr)
        XCTAssertEqual((report["brokers"] as? [[String: Any]])?.map { $0["live"] as? Bool }, [true, false, true])
        let problems = report["problems"] as? [String] ?? []
        // The mock drops a down broker from the broker list but keeps its leaderships and ISR places.
        XCTAssertTrue(problems.contains("broker 2 (kafka-2) is down: not in the cluster's broker list, though partitions still name it as leader or ISR member; "
                                        + "it leads 1 partition(s), unavailable until leadership moves: \(topic)[1]; still in the ISR of 3 partition(s)"),
                      "\(problems)")
        XCTAssertEqual((report["warnings"] as? [String])?.first?.hasPrefix("cannot read topic configs"), true, "the mock has no DescribeConfigs")
        XCTAssertTrue(problems.contains("acks=all writes are refused on 1 of 3 partition(s): \(topic)[1]"), "\(problems)")
        let states = (report["partitions"] as? [[String: Any]])?.map { $0["leaderDown"] as? Bool }
        XCTAssertEqual(states, [false, true, false])
    }
}
