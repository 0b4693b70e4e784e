import CRdKafka
import Diagnostics
import Foundation

/// Connection settings shared by the admin client, producer and consumer.
public struct KafkaSettings: Sendable {
    public var bootstrap: String
    public var clientId: String
    /// Extra librdkafka properties (e.g. `security.protocol`).
    public var properties: [String: String]

    public init(bootstrap: String, clientId: String = "cdcctl", properties: [String: String] = [:]) {
        self.bootstrap = bootstrap
        self.clientId = clientId
        self.properties = properties
    }
}

/// Owns one librdkafka handle. The admin, producer and consumer wrap it.
final class KafkaHandle: @unchecked Sendable {
    let rk: OpaquePointer
    let bootstrap: String

    init(_ type: rd_kafka_type_t, settings: KafkaSettings, extra: [String: String],
         configure: ((OpaquePointer) -> Void)? = nil) throws {
        guard let conf = rd_kafka_conf_new() else { throw CdcError.failed("librdkafka: out of memory") }
        var all = ["bootstrap.servers": settings.bootstrap, "client.id": settings.clientId,
                   // Fail fast when nothing answers instead of retrying forever in the background.
                   "socket.connection.setup.timeout.ms": "5000",
                   // Failures reach the user as errors with context; librdkafka's own lines would repeat them.
                   "log_level": "2"]
        for (k, v) in settings.properties { all[k] = v }
        for (k, v) in extra { all[k] = v }
        var errbuf = [CChar](repeating: 0, count: 512)
        for key in all.keys.sorted() {
            if rd_kafka_conf_set(conf, key, all[key]!, &errbuf, errbuf.count) != RD_KAFKA_CONF_OK {
                rd_kafka_conf_destroy(conf)
                throw CdcError.invalid("librdkafka rejected \(key)=\(Redact.isSecretKey(key) ? Redact.mask : all[key]!): \(text(errbuf))",
                                       subject: key, fix: "check the property name and value against librdkafka's CONFIGURATION.md")
            }
        }
        configure?(conf)
        guard let handle = rd_kafka_new(type, conf, &errbuf, errbuf.count) else {
            // rd_kafka_new frees conf only on success.
            rd_kafka_conf_destroy(conf)
            throw CdcError.failed("cannot create a Kafka client: \(text(errbuf))", subject: settings.bootstrap)
        }
        rk = handle
        bootstrap = settings.bootstrap
    }

    deinit { rd_kafka_destroy(rk) }

    /// A failed request. When nothing answered, the bootstrap addresses are probed over TCP: if
    /// every one accepts connections, the servers are there but do not speak this client's Kafka.
    /// A partition's watermarks. A handle may have cached metadata from a broker that did not
    /// know a just-created topic or partition yet, and librdkafka rate-limits its own refresh (a
    /// long-lived handle sees the same for a topic created after it): on "unknown partition" it
    /// asks for that topic's metadata again before each retry (bounded: 25 × 200 ms).
    func watermarks(topic: String, partition: Int32, timeoutMs: Int32) -> (rd_kafka_resp_err_t, low: Int64, high: Int64) {
        var low: Int64 = 0, high: Int64 = 0
        var err = rd_kafka_query_watermark_offsets(rk, topic, partition, &low, &high, timeoutMs)
        for _ in 0..<25 where err == RD_KAFKA_RESP_ERR__UNKNOWN_PARTITION || err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART {
            usleep(200_000)
            refreshTopicMetadata(topic, timeoutMs: timeoutMs)
            err = rd_kafka_query_watermark_offsets(rk, topic, partition, &low, &high, timeoutMs)
        }
        return (err, low, high)
    }

    /// Asks the cluster for one topic's metadata, which refreshes this handle's cache.
    func refreshTopicMetadata(_ topic: String, timeoutMs: Int32) {
        let rkt = rd_kafka_topic_new(rk, topic, nil)
        defer { rd_kafka_topic_destroy(rkt) }
        var md: UnsafePointer<rd_kafka_metadata_t>?
        if rd_kafka_metadata(rk, 0, rkt, &md, timeoutMs) == RD_KAFKA_RESP_ERR_NO_ERROR, let md { rd_kafka_metadata_destroy(md) }
    }

    func error(_ what: String, _ code: rd_kafka_resp_err_t, _ detail: String? = nil) -> KafkaError {
        var e = KafkaError(what, code: code, detail: detail, bootstrap: bootstrap)
        if e.isUnreachable { e.everyBrokerAcceptsTCP = TCPProbe.allAccept(bootstrap) }
        return e
    }
}

/// An error librdkafka or a broker reported: callers branch on `code` (`KafkaError.Code`),
/// never on the text.
public struct KafkaError: Error, Sendable, Equatable, CustomStringConvertible, CdcErrorConvertible {
    /// What cdcctl was doing (`cannot alter configs of orders`).
    public var operation: String
    /// librdkafka's `rd_kafka_resp_err_t`: negative for client-side errors, Kafka's protocol
    /// error code otherwise.
    public var code: Int32
    /// librdkafka's name for the code (`TOPIC_ALREADY_EXISTS`, `_TRANSPORT`).
    public var name: String
    public var detail: String
    public var bootstrap: String
    /// Set for an unreachable-kind failure when every bootstrap address accepted a TCP
    /// connection: not a broker that is down, but a protocol or client-library mismatch.
    public var everyBrokerAcceptsTCP = false

    /// The codes cdcctl reacts to.
    public enum Code {
        public static let transport = RD_KAFKA_RESP_ERR__TRANSPORT.rawValue
        public static let timedOut = RD_KAFKA_RESP_ERR__TIMED_OUT.rawValue
        public static let allBrokersDown = RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN.rawValue
        public static let resolve = RD_KAFKA_RESP_ERR__RESOLVE.rawValue
        public static let topicAlreadyExists = RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS.rawValue
        public static let unknownTopicOrPartition = RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART.rawValue
        public static let invalidReplicationFactor = RD_KAFKA_RESP_ERR_INVALID_REPLICATION_FACTOR.rawValue
        public static let invalidPartitions = RD_KAFKA_RESP_ERR_INVALID_PARTITIONS.rawValue
        public static let invalidConfig = RD_KAFKA_RESP_ERR_INVALID_CONFIG.rawValue
        public static let topicException = RD_KAFKA_RESP_ERR_TOPIC_EXCEPTION.rawValue
        public static let notController = RD_KAFKA_RESP_ERR_NOT_CONTROLLER.rawValue
        public static let leaderNotAvailable = RD_KAFKA_RESP_ERR_LEADER_NOT_AVAILABLE.rawValue
        public static let notEnoughReplicas = RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS.rawValue
        public static let requestTimedOut = RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT.rawValue
    }

    public init(_ operation: String, code: rd_kafka_resp_err_t, detail: String? = nil, bootstrap: String) {
        self.operation = operation
        self.code = code.rawValue
        self.name = String(cString: rd_kafka_err2name(code))
        self.detail = detail.flatMap { $0.isEmpty ? nil : $0 } ?? String(cString: rd_kafka_err2str(code))
        self.bootstrap = bootstrap
    }

    /// Nothing answered: the brokers are down, unreachable or not speaking this client's protocol.
    public var isUnreachable: Bool { [Code.transport, Code.timedOut, Code.allBrokersDown, Code.resolve].contains(code) }

    /// The request was refused for what it asked (a bad RF, config or topic name).
    public var isInvalidRequest: Bool {
        [Code.invalidReplicationFactor, Code.invalidPartitions, Code.invalidConfig, Code.topicException,
         Code.unknownTopicOrPartition].contains(code)
    }

    /// The brokers accept connections but no Kafka request succeeds: waiting will not help.
    public var isProtocolMismatch: Bool { isUnreachable && everyBrokerAcceptsTCP }

    /// Worth the same request again shortly: the cluster is starting, electing or unreachable.
    public var isTransient: Bool {
        (isUnreachable && !isProtocolMismatch)
            || [Code.notController, Code.leaderNotAvailable, Code.notEnoughReplicas, Code.requestTimedOut].contains(code)
    }

    public var description: String {
        "\(operation): \(name) (\(detail)); brokers tried: \(bootstrap)"
            + (isProtocolMismatch ? "; every address accepts TCP connections but no Kafka request succeeds: a protocol or client-library "
               + "mismatch (librdkafka \(KafkaLibrary.version) loaded)" : "")
    }

    public var cdcError: CdcError {
        let fix: String?
        if isProtocolMismatch {
            fix = "check these addresses are Kafka listeners with the protocol the manifest says (PLAINTEXT unless security.protocol is set); "
                + "if they are, this librdkafka cannot talk to them: Debian's 2.0.2 cannot speak to some brokers (the testbed's Tansu among them), "
                + "load a newer one with LD_LIBRARY_PATH (scripts/testbed env shows how)"
        } else if isUnreachable {
            fix = "check the brokers are up and reachable at \(bootstrap) (cdcctl status; access.kafkaBootstrap in the manifest)"
        } else {
            fix = nil
        }
        return CdcError(isInvalidRequest ? .invalidInput : .operationFailed, description, subject: "kafka", fix: fix, transient: isTransient)
    }
}

func cString(_ p: UnsafePointer<CChar>?) -> String { p.map { String(cString: $0) } ?? "" }

/// A NUL-terminated error buffer filled by librdkafka.
func text(_ buffer: [CChar]) -> String {
    String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
}
