import CRdKafka
import Diagnostics
import Foundation

/// What the brokers said about one produced message.
public struct Delivery: Sendable, Equatable {
    public var key: [UInt8]
    public var partition: Int32
    public var offset: Int64
    public var error: String?
    /// The caller's number for the message (`send(…, sequence:)`), nil when none was given.
    public var sequence: Int64?
    /// When the report was served, on the monotonic clock (`DispatchTime.now().uptimeNanoseconds`).
    public var reportedAtNs: UInt64
    /// librdkafka's name for the error (`_MSG_TIMED_OUT`, `NOT_ENOUGH_REPLICAS`), nil when acknowledged.
    public var errorName: String?

    public init(key: [UInt8], partition: Int32, offset: Int64, error: String?, sequence: Int64? = nil,
                reportedAtNs: UInt64 = 0, errorName: String? = nil) {
        self.key = key
        self.partition = partition
        self.offset = offset
        self.error = error
        self.sequence = sequence
        self.reportedAtNs = reportedAtNs
        self.errorName = errorName
    }
}

/// Idempotent producer with acks=all: a retried send is never written twice and an acked
/// message is on min.insync.replicas brokers. Delivery reports are counted (and kept when asked).
public final class KafkaProducer: @unchecked Sendable {
    let handle: KafkaHandle
    private let tracker: DeliveryTracker
    private let trackerRef: Unmanaged<DeliveryTracker>

    /// `extra` overrides librdkafka properties (e.g. `delivery.timeout.ms` for a failover test);
    /// `onDelivery` hears every report (acknowledged or failed) on the thread that polls or flushes.
    public init(_ settings: KafkaSettings, keepDeliveries: Bool = false, lingerMs: Int = 5, extra: [String: String] = [:],
                onDelivery: (@Sendable (Delivery) -> Void)? = nil) throws {
        let tracker = DeliveryTracker(keep: keepDeliveries, onDelivery: onDelivery)
        let ref = Unmanaged.passRetained(tracker)
        self.tracker = tracker
        self.trackerRef = ref
        do {
            handle = try KafkaHandle(RD_KAFKA_PRODUCER, settings: settings, extra: [
                "enable.idempotence": "true", "acks": "all", "linger.ms": String(lingerMs),
                "compression.type": "lz4", "message.timeout.ms": "30000",
                // librdkafka's default, pinned: a key's partition is CRC32(key) mod partitions
                // (`KafkaPartitioner.crc32Partition`, which `trace trade` uses). The Java clients
                // (Connect, Debezium) use murmur2 instead; no topic here has both writers.
                "partitioner": "consistent_random",
            ].merging(extra) { _, new in new }) { conf in
                rd_kafka_conf_set_opaque(conf, ref.toOpaque())
                cdc_conf_set_dr_msg_cb(conf) { _, message, opaque in
                    guard let message, let opaque else { return }
                    Unmanaged<DeliveryTracker>.fromOpaque(opaque).takeUnretainedValue().record(message.pointee)
                }
            }
        } catch {
            ref.release()
            throw error
        }
    }

    deinit {
        _ = rd_kafka_flush(handle.rk, 5000)
        trackerRef.release()
    }

    /// Queues one message; blocks briefly (serving delivery reports) while the local queue is full.
    /// `sequence` comes back in the message's `Delivery` (carried as librdkafka's per-message opaque).
    public func send(topic: String, key: [UInt8]?, value: [UInt8]?, partition: Int32 = RD_KAFKA_PARTITION_UA,
                     sequence: Int64? = nil) throws {
        while true {
            let err: rd_kafka_resp_err_t = topic.withCString { topicPtr in
                withOptionalBytes(key) { keyPtr, keyLen in
                    withOptionalBytes(value) { valuePtr, valueLen in
                        var vus = [rd_kafka_vu_t](repeating: rd_kafka_vu_t(), count: sequence == nil ? 5 : 6)
                        vus[0].vtype = RD_KAFKA_VTYPE_TOPIC
                        vus[0].u.cstr = topicPtr
                        vus[1].vtype = RD_KAFKA_VTYPE_KEY
                        vus[1].u.mem.ptr = UnsafeMutableRawPointer(mutating: keyPtr)
                        vus[1].u.mem.size = keyLen
                        vus[2].vtype = RD_KAFKA_VTYPE_VALUE
                        vus[2].u.mem.ptr = UnsafeMutableRawPointer(mutating: valuePtr)
                        vus[2].u.mem.size = valueLen
                        vus[3].vtype = RD_KAFKA_VTYPE_MSGFLAGS
                        vus[3].u.i = RD_KAFKA_MSG_F_COPY
                        vus[4].vtype = RD_KAFKA_VTYPE_PARTITION
                        vus[4].u.i32 = partition
                        if let sequence {
                            // The opaque is a pointer-sized value librdkafka hands back untouched; a
                            // sequence number is stored in it (offset by one, so 0 is not NULL).
                            vus[5].vtype = RD_KAFKA_VTYPE_OPAQUE
                            vus[5].u.ptr = UnsafeMutableRawPointer(bitPattern: UInt(sequence + 1))
                        }
                        let error = vus.withUnsafeBufferPointer { rd_kafka_produceva(handle.rk, $0.baseAddress, $0.count) }
                        defer { rd_kafka_error_destroy(error) }
                        return error.map { rd_kafka_error_code($0) } ?? RD_KAFKA_RESP_ERR_NO_ERROR
                    }
                }
            }
            if err == RD_KAFKA_RESP_ERR_NO_ERROR { return }
            guard err == RD_KAFKA_RESP_ERR__QUEUE_FULL else { throw handle.error("cannot produce to \(topic)", err) }
            rd_kafka_poll(handle.rk, 50)
        }
    }

    public func send(topic: String, key: String?, value: String?) throws {
        try send(topic: topic, key: key.map { Array($0.utf8) }, value: value.map { Array($0.utf8) })
    }

    /// Serves delivery reports without blocking.
    public func poll() { rd_kafka_poll(handle.rk, 0) }

    /// Waits until every queued message is acknowledged or failed.
    public func flush(timeoutMs: Int32 = 30_000) throws {
        let err = rd_kafka_flush(handle.rk, timeoutMs)
        if err != RD_KAFKA_RESP_ERR_NO_ERROR { throw handle.error("messages still unacknowledged after \(timeoutMs) ms", err) }
    }

    public var acknowledged: Int { tracker.snapshot().acked }
    public var failed: Int { tracker.snapshot().failed }
    public var firstError: String? { tracker.snapshot().firstError }
    /// Every delivery report, when the producer was made with keepDeliveries.
    public var deliveries: [Delivery] { tracker.snapshot().deliveries }
}

final class DeliveryTracker: @unchecked Sendable {
    private let lock = NSLock()
    private let keep: Bool
    private let onDelivery: (@Sendable (Delivery) -> Void)?
    private var acked = 0
    private var failed = 0
    private var firstError: String?
    private var deliveries: [Delivery] = []

    init(keep: Bool, onDelivery: (@Sendable (Delivery) -> Void)? = nil) {
        self.keep = keep
        self.onDelivery = onDelivery
    }

    func record(_ m: rd_kafka_message_t) {
        let error: String? = m.err == RD_KAFKA_RESP_ERR_NO_ERROR ? nil : String(cString: rd_kafka_err2str(m.err))
        var delivery: Delivery?
        if keep || onDelivery != nil {
            let key = m.key.map { Array(UnsafeRawBufferPointer(start: $0, count: m.key_len)) } ?? []
            let sequence = m._private.map { Int64(Int(bitPattern: $0)) - 1 }
            delivery = Delivery(key: key, partition: m.partition, offset: m.offset, error: error, sequence: sequence,
                                reportedAtNs: DispatchTime.now().uptimeNanoseconds,
                                errorName: error == nil ? nil : String(cString: rd_kafka_err2name(m.err)))
        }
        lock.lock()
        if error == nil { acked += 1 } else { failed += 1; if firstError == nil { firstError = error } }
        if keep, let delivery { deliveries.append(delivery) }
        lock.unlock()
        if let delivery { onDelivery?(delivery) }
    }

    func snapshot() -> (acked: Int, failed: Int, firstError: String?, deliveries: [Delivery]) {
        lock.lock()
        defer { lock.unlock() }
        return (acked, failed, firstError, deliveries)
    }
}

func withOptionalBytes<R>(_ bytes: [UInt8]?, _ body: (UnsafeRawPointer?, Int) -> R) -> R {
    guard let bytes else { return body(nil, 0) }
    return bytes.withUnsafeBytes { body($0.baseAddress, $0.count) }
}
