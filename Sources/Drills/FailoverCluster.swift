import Connect
import Diagnostics
import Foundation
import HTTP
import Kafka
import Manifest
import TopicAdmin

/// The real workload: an idempotent acks=all producer sending sequence-numbered keyed messages
/// at a fixed rate, and a read_committed consumer (its own group) reading the test topic from
/// where it ended when the run started. Every delivery report and every read is kept.
public final class KafkaFailoverWorkload: FailoverWorkload, @unchecked Sendable {
    let settings: KafkaSettings
    let topic: String
    let partitions: Int
    let rate: Int
    let maxMessages: Int64
    let deliveryTimeoutMs: Int
    public let runId: String

    private let lock = NSLock()
    private var sentAt: [Double] = []
    private var acks: [AckRecord] = []
    private var consumed: [ConsumedRecord] = []
    private var lastAcked: [Int32: Int64] = [:]
    private var lastRead: [Int32: Int64] = [:]
    private var acked = 0
    private var stopProducing = false
    private var stopConsuming = false
    private var sent: Int64 = 0
    private var producer: KafkaProducer?
    private var consumer: KafkaConsumer?
    private let producerDone = DispatchSemaphore(value: 0)
    private let consumerDone = DispatchSemaphore(value: 0)
    private var started = false

    public init(settings: KafkaSettings, parameters p: FailoverParameters, partitions: Int, runId: String) {
        self.settings = settings
        topic = p.topic
        self.partitions = partitions
        rate = p.ratePerSecond
        maxMessages = p.maxMessages
        deliveryTimeoutMs = p.deliveryTimeoutMs
        self.runId = runId
    }

    public var ackedCount: Int { lock.withLock { acked } }

    public func start(now: @escaping @Sendable () -> Double) throws {
        let consumer = try KafkaConsumer(settings, group: "cdcctl-failover-\(runId)", fromBeginning: true, readCommitted: true)
        // Read from each partition's end as the run starts (asked before the first send, so
        // nothing of this run is skipped; older messages are told apart by the run id).
        var assignment: [(topic: String, partition: Int32, offset: Int64)] = []
        for p in 0..<Int32(partitions) {
            let w = try consumer.watermarks(topic: topic, partition: p)
            assignment.append((topic, p, w.high))
        }
        try consumer.assign(assignment)
        let producer = try KafkaProducer(settings, lingerMs: 5, extra: [
            "enable.idempotence": "true", "acks": "all", "max.in.flight.requests.per.connection": "5",
            "retries": "2147483647", "message.timeout.ms": String(deliveryTimeoutMs),
        ]) { [weak self] d in self?.delivered(d, at: now()) }
        self.consumer = consumer
        self.producer = producer
        started = true
        Thread.detachNewThread { [self] in produce(producer, now: now); producerDone.signal() }
        Thread.detachNewThread { [self] in consume(consumer, now: now); consumerDone.signal() }
    }

    func delivered(_ d: Delivery, at t: Double) {
        guard let seq = d.sequence else { return }
        lock.withLock {
            let sentTime = seq < sentAt.count ? sentAt[Int(seq)] : t
            acks.append(AckRecord(sequence: seq, partition: d.partition, offset: d.offset, sentAt: sentTime, reportedAt: t, error: d.errorName))
            if d.error == nil {
                acked += 1
                lastAcked[d.partition] = max(lastAcked[d.partition] ?? -1, d.offset)
            }
        }
    }

    func produce(_ producer: KafkaProducer, now: @Sendable () -> Double) {
        let padding = String(repeating: "x", count: 64)
        let begin = now()
        var seq: Int64 = 0
        while seq < maxMessages, !lock.withLock({ stopProducing }) {
            let due = begin + Double(seq) / Double(rate)
            let t = now()
            if t < due {
                producer.poll()
                Thread.sleep(forTimeInterval: min(due - t, 0.005))
                continue
            }
            lock.withLock { sentAt.append(t) }
            do {
                try producer.send(topic: topic, key: Array("order-\(seq % 1000)".utf8), value: Array("\(runId) \(seq) \(padding)".utf8),
                                  sequence: seq)
            } catch {
                let name = (error as? KafkaError)?.name ?? "send failed"
                lock.withLock { acks.append(AckRecord(sequence: seq, partition: -1, offset: -1, sentAt: t, reportedAt: now(), error: name)) }
            }
            seq += 1
            producer.poll()
        }
        lock.withLock { sent = seq }
    }

    func consume(_ consumer: KafkaConsumer, now: @Sendable () -> Double) {
        let prefix = runId + " "
        while !lock.withLock({ stopConsuming }) {
            do {
                guard let m = try consumer.poll(timeoutMs: 100), let v = m.valueString, v.hasPrefix(prefix) else { continue }
                guard let seq = Int64(v.dropFirst(prefix.count).prefix { $0 != " " }) else { continue }
                let t = now()
                lock.withLock {
                    consumed.append(ConsumedRecord(sequence: seq, partition: m.partition, offset: m.offset, at: t))
                    lastRead[m.partition] = max(lastRead[m.partition] ?? -1, m.offset)
                }
            } catch {
                // Transport errors while a broker is down are expected; librdkafka reconnects.
                Thread.sleep(forTimeInterval: 0.1)
            }
        }
    }

    public func stopSending(flushTimeoutSeconds: Double) {
        guard started else { return }
        let first = lock.withLock { () -> Bool in defer { stopProducing = true }; return !stopProducing }
        if first { producerDone.wait() }
        try? producer?.flush(timeoutMs: Int32(min(flushTimeoutSeconds * 1000, Double(Int32.max))))
    }

    public func drained() -> Bool {
        lock.withLock { lastAcked.allSatisfy { p, o in (lastRead[p] ?? -1) >= o } }
    }

    public func finish() -> (sent: Int64, acks: [AckRecord], consumed: [ConsumedRecord]) {
        if started {
            stopSending(flushTimeoutSeconds: 5)
            lock.withLock { stopConsuming = true }
            consumerDone.wait()
            started = false
        }
        return lock.withLock { (sent, acks, consumed) }
    }
}

/// The real observer: health and topic creation through the topics module, broker probes,
/// Kafka Connect for the connectors, consumer-group lag for the processor.
public final class KafkaFailoverObserver: FailoverObserver {
    let manifest: Manifest
    let parameters: FailoverParameters
    let admin: KafkaAdmin
    /// The test topic's partition count, once it exists.
    public private(set) var partitions: Int = 0

    public init(manifest: Manifest, parameters: FailoverParameters) throws {
        self.manifest = manifest
        self.parameters = parameters
        admin = try KafkaAdmin(KafkaSettings(bootstrap: manifest.access.kafkaBootstrap, clientId: "cdcctl-failover"), timeoutMs: 3000)
    }

    /// The test topic as the topics module declares it: RF 3, min.insync.replicas 2.
    public var testTopic: Topic {
        Topic(name: parameters.topic, partitions: parameters.partitions, replicationFactor: FailoverParameters.replicationFactor,
              minInsyncReplicas: FailoverParameters.minInsyncReplicas, durable: true, retentionHours: 24, retentionBytes: 104_857_600,
              cleanupPolicy: "delete", key: "order-N", config: [])
    }

    func withTopics(_ topics: [Topic]) -> Manifest {
        var m = manifest
        m.kafka.topics = topics
        return m
    }

    var target: FailoverTarget { parameters.target }

    public func preflight() throws -> [String] {
        let all = try TopicsOperation(manifest: withTopics(manifest.kafka.topics.filter { $0.name != parameters.topic } + [testTopic]))
        let before = try all.health()
        var problems = FailoverPreflight.problems(brokers: before.brokers, expected: manifest.kafka.brokers, partitions: before.partitions,
                                                  target: target, engine: manifest.kafka.engine)
        if !problems.isEmpty && !parameters.force { return problems }
        // All topics: asking for one by name would let a broker with auto.create.topics.enable create it.
        if let existing = try admin.metadata().topics.first(where: { $0.name == parameters.topic && $0.error == nil }),
           !existing.partitions.isEmpty, existing.partitions.count != parameters.partitions {
            throw CdcError.invalid("\(parameters.topic) exists with \(existing.partitions.count) partitions, --partitions asks \(parameters.partitions)",
                                   subject: "--partitions", fix: "pass --partitions \(existing.partitions.count), or delete the topic \(parameters.topic)")
        }
        // Created (or its configs set back) by the topics module, under its rule: only with RF brokers live.
        _ = try TopicsOperation(manifest: withTopics([testTopic])).apply(dryRun: false)
        let after = try all.health()
        partitions = after.partitions.filter { $0.topic == parameters.topic }.count
        if partitions == 0 { partitions = parameters.partitions }
        for p in FailoverPreflight.problems(brokers: after.brokers, expected: manifest.kafka.brokers, partitions: after.partitions,
                                            target: target, engine: manifest.kafka.engine)
            + FailoverPreflight.topicProblems(after.partitions, topic: parameters.topic, engine: manifest.kafka.engine)
            where !problems.contains(p) {
            problems.append(p)
        }
        return problems
    }

    var bootstrapAddresses: [String] { manifest.access.kafkaBootstrap.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) } }

    func targetLive(_ brokers: [BrokerState]) -> Bool {
        if manifest.kafka.engine == "tansu" {
            // Tansu's processes share one node id: the target is its bootstrap address (kafka-N is the N-th).
            let address = target.broker <= bootstrapAddresses.count ? bootstrapAddresses[target.broker - 1] : nil
            return brokers.first { $0.address == address }?.live ?? false
        }
        return brokers.first { $0.id == Int32(target.broker) }?.live ?? false
    }

    public func sample(at t: Double) -> ClusterSample {
        do {
            let md = try admin.metadata(topic: parameters.topic)
            let brokers = try TopicsOperation(manifest: manifest, timeoutMs: 3000).brokerStates(md)
            let parts = md.topics.first { $0.name == parameters.topic }?.partitions.map {
                PartitionSample(partition: $0.id, leader: $0.leader, replicas: $0.replicas, isr: $0.isr)
            } ?? []
            let down = manifest.kafka.engine == "tansu" ? [] : brokers.filter { !$0.live }.compactMap(\.id)
            return ClusterSample(at: t, brokersLive: brokers.filter(\.live).count, targetAnswers: targetLive(brokers), partitions: parts, down: down)
        } catch {
            return ClusterSample(at: t, brokersLive: 0, targetAnswers: false, partitions: [], error: CdcError.bridging(error).message)
        }
    }

    public func healed() -> HealedObservation {
        do {
            let report = try TopicsOperation(manifest: withTopics(manifest.kafka.topics.filter { $0.name != parameters.topic } + [testTopic]),
                                             timeoutMs: 3000).health()
            let ps = report.partitions
            let name = { (p: PartitionHealth) in "\(p.topic)[\(p.partition)]" }
            let id = Int32(target.broker)
            let tansu = manifest.kafka.engine == "tansu"
            return HealedObservation(
                brokersLive: report.brokersLive, brokersExpected: report.brokersExpected, partitions: ps.count,
                underReplicated: ps.filter { !$0.leaderless && !$0.underMinIsr && $0.underReplicated }.map(name),
                underMinIsr: ps.filter { !$0.leaderless && $0.underMinIsr }.map(name),
                offline: ps.filter(\.leaderless).map(name),
                targetOutOfIsr: tansu ? [] : ps.filter { $0.replicas.contains(id) && !$0.isr.contains(id) }.map(name),
                targetListed: tansu || report.brokers.contains { $0.id == id && $0.live })
        } catch {
            return HealedObservation(brokersLive: 0, brokersExpected: manifest.kafka.brokers, error: CdcError.bridging(error).message)
        }
    }

    public func connectorStates() -> [String: String?] {
        let client = ConnectClient(baseURL: manifest.access.connectURL, http: HTTPClient(retries: 0), timeoutSeconds: 5)
        var out: [String: String?] = [:]
        for c in manifest.connect.connectors {
            do {
                guard let s = try client.status(c.name) else { out[c.name] = .some("NOT REGISTERED"); continue }
                out[c.name] = .some(s.isRunning ? "RUNNING" : s.state + " (tasks " + s.tasks.map { "\($0.id):\($0.state)" }.joined(separator: " ") + ")")
            } catch {
                out[c.name] = .some(nil)
            }
        }
        return out
    }

    public func processorLag() -> (lag: Int64?, note: String?) {
        let group = manifest.processor.consumerGroup
        if manifest.kafka.engine == "tansu" {
            return (nil, "processor lag: \(FailoverVerdict.notObservable) (Tansu's ListOffsets latest is wrong, so lag is)")
        }
        do {
            let lags = try admin.groupLag(group: group, topics: [manifest.processor.ordersTopic, manifest.processor.tradesTopic])
            guard lags.contains(where: { $0.committed >= 0 }) else {
                return (nil, "processor: group \(group) has committed nothing (not running), not judged")
            }
            return (lags.reduce(0) { $0 + $1.lag }, nil)
        } catch {
            return (nil, "processor lag: cannot read group \(group) (\(CdcError.bridging(error).message))")
        }
    }
}
