import CRdKafka

/// The librdkafka this process loaded (not the headers it was built with): users link Debian's
/// 2.0.2, the tests load 2.16 in its place, and several admin calls depend on which.
public enum KafkaLibrary {
    public static var version: String { String(cString: rd_kafka_version_str()) }
}
