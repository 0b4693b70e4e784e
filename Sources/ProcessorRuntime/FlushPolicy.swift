/// When the processor flushes (pend → insert → commit), decided from what it knows after each
/// poll — pure, so the rule is unit-tested apart from Kafka and ClickHouse.
///
/// The flush happens as soon as the consumer has nothing more to hand over (a poll that waited
/// nothing came back empty: the burst Connect delivered is drained) or the batch is full; the
/// `flushIntervalMs` timer is only an upper bound for a stream that never pauses. Before this,
/// the timer started at the first buffered record, so nearly every row of a burst waited the
/// whole interval (docs/benchmarks.md has the before/after figures).
public struct FlushPolicy: Sendable, Equatable {
    public var flushIntervalMs: Int
    public var batchMaxRows: Int
    public var maxBufferedEvents: Int
    /// false: the behaviour before issue 18 (the timer decides), kept only so `bench e2e
    /// --flush-timer-only` can measure the difference on the same build.
    public var flushWhenDrained: Bool

    public init(flushIntervalMs: Int, batchMaxRows: Int, maxBufferedEvents: Int, flushWhenDrained: Bool = true) {
        self.flushIntervalMs = flushIntervalMs
        self.batchMaxRows = batchMaxRows
        self.maxBufferedEvents = maxBufferedEvents
        self.flushWhenDrained = flushWhenDrained
    }

    public enum Reason: String, Sendable, Equatable {
        /// The consumer had nothing more to hand over.
        case drained
        /// `batchMaxRows` or `maxBufferedEvents` reached.
        case full
        /// `flushIntervalMs` since the first buffered record: records kept arriving.
        case timer
    }

    /// - Parameters:
    ///   - buffered: records (and idle-rule rows) processed since the last flush.
    ///   - sinceFirstBufferedMs: how long the oldest of them has waited.
    ///   - drained: the last poll returned nothing although it did not wait (nothing queued).
    /// - Returns: why to flush now, or nil to poll again.
    public func decide(buffered: Int, sinceFirstBufferedMs: Double, drained: Bool) -> Reason? {
        guard buffered > 0 else { return nil }
        if buffered >= batchMaxRows || buffered >= maxBufferedEvents { return .full }
        if drained && flushWhenDrained { return .drained }
        if sinceFirstBufferedMs >= Double(flushIntervalMs) { return .timer }
        return nil
    }

    /// How long the next poll may wait: nothing while records are buffered (an empty answer
    /// then means "drained"), otherwise up to 100 ms (the loop's tick for the idle rule and stop).
    public func pollTimeoutMs(buffered: Int) -> Int32 {
        buffered > 0 && flushWhenDrained ? 0 : Int32(max(1, min(100, flushIntervalMs)))
    }
}
