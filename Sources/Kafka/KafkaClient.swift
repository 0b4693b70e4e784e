import CRdKafka
import Diagnostics

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

    func error(_ what: String, _ code: rd_kafka_resp_err_t, _ detail: String? = nil) -> CdcError {
        KafkaErrors.make(what, code: code, detail: detail, bootstrap: bootstrap)
    }
}

/// A broker's or librdkafka's answer with its error code, for callers that must tell codes apart
/// (never by matching message text). `error` is what the user sees.
public struct KafkaError: Error, Sendable, CustomStringConvertible {
    /// librdkafka's `rd_kafka_resp_err_t` value (broker codes ≥ 0, local ones < 0).
    public var code: Int32
    public var name: String
    public var error: CdcError

    init(code: rd_kafka_resp_err_t, error: CdcError) {
        self.code = code.rawValue
        self.name = String(cString: rd_kafka_err2name(code))
        self.error = error
    }

    public var description: String { error.description }
    public var isTopicAlreadyExists: Bool { code == RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS.rawValue }
}

enum KafkaErrors {
    /// An error that carries librdkafka's code name and text and the brokers tried.
    static func make(_ what: String, code: rd_kafka_resp_err_t, detail: String?, bootstrap: String) -> CdcError {
        let name = String(cString: rd_kafka_err2name(code))
        let text = detail.flatMap { $0.isEmpty ? nil : $0 } ?? String(cString: rd_kafka_err2str(code))
        let unreachable = [RD_KAFKA_RESP_ERR__TRANSPORT, RD_KAFKA_RESP_ERR__TIMED_OUT, RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN,
                           RD_KAFKA_RESP_ERR__RESOLVE].contains(code)
        let invalid = [RD_KAFKA_RESP_ERR_INVALID_REPLICATION_FACTOR, RD_KAFKA_RESP_ERR_INVALID_PARTITIONS,
                       RD_KAFKA_RESP_ERR_INVALID_CONFIG, RD_KAFKA_RESP_ERR_TOPIC_EXCEPTION,
                       RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART].contains(code)
        return CdcError(invalid ? .invalidInput : .operationFailed, "\(what): \(name) (\(text)); brokers tried: \(bootstrap)",
                        subject: "kafka",
                        fix: unreachable ? "check the brokers are up and reachable at \(bootstrap) (cdcctl status; access.kafkaBootstrap in the manifest)" : nil)
    }
}

func cString(_ p: UnsafePointer<CChar>?) -> String { p.map { String(cString: $0) } ?? "" }

/// A NUL-terminated error buffer filled by librdkafka.
func text(_ buffer: [CChar]) -> String {
    String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
}
