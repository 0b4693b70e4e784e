import Diagnostics

/// Where a Kafka record came from.
public struct RecordPosition: Sendable, Hashable, Comparable, CustomStringConvertible {
    public var topic: String
    public var partition: Int32
    public var offset: Int64

    public init(topic: String, partition: Int32, offset: Int64) {
        self.topic = topic
        self.partition = partition
        self.offset = offset
    }

    /// `cdc.shop.orders[0]@42`
    public var description: String { "\(topic)[\(partition)]@\(offset)" }

    /// Topic, then partition, then offset.
    public static func < (a: RecordPosition, b: RecordPosition) -> Bool {
        (a.topic, a.partition, a.offset) < (b.topic, b.partition, b.offset)
    }
}

/// One Kafka record as the consumer hands it over: key and value are borrowed bytes (nil for a
/// null key or value), valid only during the call that receives the record.
public struct InputRecord {
    public var position: RecordPosition
    public var key: UnsafeRawBufferPointer?
    public var value: UnsafeRawBufferPointer?
    /// The Kafka record's timestamp (CreateTime or LogAppendTime, epoch ms): when it entered the
    /// pipeline. Part of the input, so a replay sees the same value; the future-skew cap of
    /// trades is measured against it. Nil when the broker gives none.
    public var timestampMs: Int64?

    public init(position: RecordPosition, key: UnsafeRawBufferPointer?, value: UnsafeRawBufferPointer?, timestampMs: Int64? = nil) {
        self.position = position
        self.key = key
        self.value = value
        self.timestampMs = timestampMs
    }
}

/// A Kafka record as recorded (owned bytes), for the benchmark, replay files and tests.
public struct RecordedRecord: Sendable, Equatable {
    public var position: RecordPosition
    public var key: [UInt8]?
    public var value: [UInt8]?
    public var timestampMs: Int64?

    public init(position: RecordPosition, key: [UInt8]?, value: [UInt8]?, timestampMs: Int64? = nil) {
        self.position = position
        self.key = key
        self.value = value
        self.timestampMs = timestampMs
    }

    /// Hands the record to `engine` (borrowing its bytes for the call).
    @discardableResult
    public func process(with engine: ProcessorEngine, into out: inout OutputBatch) -> DecodeError? {
        func borrow<R>(_ bytes: [UInt8]?, _ body: (UnsafeRawBufferPointer?) -> R) -> R {
            guard let bytes else { return body(nil) }
            return bytes.withUnsafeBytes { body($0) }
        }
        return borrow(key) { k in
            borrow(value) { v in engine.process(InputRecord(position: position, key: k, value: v, timestampMs: timestampMs), into: &out) }
        }
    }
}

/// A record that could not be decoded: which one, and what was wrong with it. The engine counts
/// and skips these; the runtime logs them.
public struct DecodeError: Error, Sendable, Equatable, CustomStringConvertible {
    public var position: RecordPosition
    /// `value`, `key`, or the field path inside the value (`after.price`).
    public var field: String
    public var message: String
    /// Byte offset in the value (or key) where it went wrong, when known.
    public var byteOffset: Int?

    public init(position: RecordPosition, field: String, message: String, byteOffset: Int? = nil) {
        self.position = position
        self.field = field
        self.message = message
        self.byteOffset = byteOffset
    }

    init(_ error: JSONError, at position: RecordPosition, in part: String) {
        self.init(position: position, field: error.field.isEmpty ? part : "\(part).\(error.field)",
                  message: error.message, byteOffset: error.byteOffset)
    }

    /// `trades.raw[3]@1200 value.price: expected a decimal number … (at byte 57)`
    public var description: String {
        "\(position) \(field): \(message)" + (byteOffset.map { " (at byte \($0))" } ?? "")
    }

    public var cdcError: CdcError {
        CdcError(.invalidInput, "cannot decode \(field): \(message)" + (byteOffset.map { " (at byte \($0))" } ?? ""),
                 subject: position.description, fix: "the record is skipped and counted; check the producer of \(position.topic)")
    }
}

/// Reads one JSON text with `body`, turning scanner errors into a `DecodeError` for `part`.
@inline(__always)
func scan<T>(_ bytes: UnsafeRawBufferPointer, at position: RecordPosition, part: String,
             _ body: (inout JSONScanner) throws(JSONError) -> T) throws(DecodeError) -> T {
    var scanner = JSONScanner(bytes)
    do {
        let value = try body(&scanner)
        try scanner.end()
        return value
    } catch {
        throw DecodeError(error, at: position, in: part)
    }
}
