import Kafka

extension TopicsOperation {
    /// The librdkafka version loaded at run time, for `cdcctl --version` and error messages.
    public static var librdkafkaVersion: String { KafkaLibrary.version }
}
