import OperationsCore
import Diagnostics
import Foundation
import Kafka
import Manifest

public struct ProducerBenchmarkResult: Sendable, Codable {
    public var topic: String
    public var messages: Int
    public var messageBytes: Int
    public var seconds: Double
    public var messagesPerSecond: Double
    public var megabytesPerSecond: Double
    public var acknowledged: Int
    public var failed: Int
    /// The librdkafka loaded at run time (the figure depends on it).
    public var librdkafka: String
}

/// `cdcctl bench producer`: idempotent acks=all throughput into a scratch topic with the
/// manifest's durability settings. A measurement, not a test: it asserts nothing.
public enum ProducerBenchmark {
    public static func run(_ m: Manifest, messages: Int, messageBytes: Int, progress: (String) -> Void) throws -> ProducerBenchmarkResult {
        let settings = KafkaSettings(bootstrap: m.access.kafkaBootstrap, clientId: "cdcctl-bench")
        let scratch = try ScratchTopic(m, settings: settings, prefix: "cdcctl-bench")
        defer { scratch.drop() }
        let topic = scratch.name
        progress("producing \(messages) messages of \(messageBytes) B to \(topic) (acks=all, idempotent)")
        let producer = try KafkaProducer(settings, lingerMs: 5)
        let payload = [UInt8](repeating: UInt8(ascii: "x"), count: messageBytes)
        let start = Date()
        for i in 0..<messages {
            try producer.send(topic: topic, key: Array("k\(i % 1024)".utf8), value: payload)
            if i % 10_000 == 0 { producer.poll() }
        }
        try producer.flush(timeoutMs: 120_000)
        let seconds = Date().timeIntervalSince(start)
        return ProducerBenchmarkResult(topic: topic, messages: messages, messageBytes: messageBytes, seconds: seconds,
                                       messagesPerSecond: Double(messages) / seconds,
                                       megabytesPerSecond: Double(messages * messageBytes) / seconds / 1_048_576,
                                       acknowledged: producer.acknowledged, failed: producer.failed, librdkafka: KafkaLibrary.version)
    }
}
