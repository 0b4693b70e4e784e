import CRdKafka
import Diagnostics
import XCTest
@testable import Kafka

/// How a Kafka failure is judged: unit tests over constructed errors.
final class KafkaErrorTests: XCTestCase {
    func testNothingListeningIsTransientSomethingListeningIsAMismatch() {
        var e = KafkaError("cannot fetch cluster metadata", code: RD_KAFKA_RESP_ERR__TRANSPORT, bootstrap: "127.0.0.1:9092")
        XCTAssertTrue(e.isUnreachable)
        XCTAssertTrue(e.isTransient, "brokers still starting: worth retrying")
        XCTAssertTrue(e.cdcError.fix?.hasPrefix("check the brokers are up") == true)

        e.everyBrokerAcceptsTCP = true
        XCTAssertTrue(e.isProtocolMismatch)
        XCTAssertFalse(e.isTransient, "waiting does not fix a client that cannot speak to the broker")
        XCTAssertTrue(e.description.contains("protocol or client-library mismatch (librdkafka \(KafkaLibrary.version) loaded)"))
        XCTAssertTrue(e.cdcError.fix?.contains("LD_LIBRARY_PATH") == true)
        XCTAssertFalse(e.cdcError.isTransient)
    }

    func testRefusedRequestsAreBadInputAndCodesAreTyped() {
        let rf = KafkaError("cannot create topic t", code: RD_KAFKA_RESP_ERR_INVALID_REPLICATION_FACTOR, bootstrap: "b:1")
        XCTAssertEqual(rf.cdcError.kind, .invalidInput)
        XCTAssertFalse(rf.isTransient)
        let exists = KafkaError("cannot create topic t", code: RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS, bootstrap: "b:1")
        XCTAssertEqual(exists.code, KafkaError.Code.topicAlreadyExists)
        XCTAssertEqual(exists.name, "TOPIC_ALREADY_EXISTS")
        XCTAssertTrue(KafkaError("x", code: RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS, bootstrap: "b:1").isTransient)
    }
}
