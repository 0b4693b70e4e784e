import Manifest

/// The last `capacity` trade prices of one symbol, in arrival order, for the z-score rule.
/// Fixed size; statistics are computed from the contents alone (two passes, oldest first), so
/// the same trades give bit-identical results however the ring was reached: after a restart,
/// replaying them rebuilds it exactly.
struct PriceRing {
    private(set) var prices: [Double] = []
    private var origins: [Origin] = []
    private var head = 0
    /// Event time of the newest sample (the latest arrival).
    private(set) var newestTime = Int64.min
    let capacity: Int

    init(capacity: Int) {
        self.capacity = capacity
    }

    var count: Int { prices.count }
    var isFull: Bool { prices.count == capacity }
    var isEmpty: Bool { prices.isEmpty }

    mutating func push(_ price: Double, tsMs: Int64, origin: Origin) {
        if prices.count < capacity {
            if prices.isEmpty {
                prices.reserveCapacity(capacity)
                origins.reserveCapacity(capacity)
            }
            prices.append(price)
            origins.append(origin)
        } else {
            prices[head] = price
            origins[head] = origin
            head = (head + 1) % capacity
        }
        newestTime = tsMs
    }

    mutating func removeAll() {
        prices = []
        origins = []
        head = 0
        newestTime = .min
    }

    /// The oldest sample's record: a restart must replay from there to rebuild the ring.
    var oldest: Origin? { origins.isEmpty ? nil : origins[head] }

    /// True when the latest trade received is older than `cutoff` (event time): the symbol has
    /// been silent, and its statistics describe a market that has moved on. (The newest
    /// arrival, not the latest time of all samples, so that a replay, which may hold fewer
    /// samples, decides the same.)
    func isStale(before cutoff: Int64) -> Bool { !isEmpty && newestTime < cutoff }

    /// Mean and sample standard deviation of a full ring, summed oldest to newest.
    func statistics() -> (mean: Double, sd: Double)? {
        guard isFull else { return nil }
        return prices.withUnsafeBufferPointer { p in
            // Oldest to newest is [head, capacity) then [0, head): two plain loops, no modulo.
            var sum = 0.0
            for i in head..<capacity { sum += p[i] }
            for i in 0..<head { sum += p[i] }
            let mean = sum / Double(capacity)
            var squares = 0.0
            for i in head..<capacity { let d = p[i] - mean; squares += d * d }
            for i in 0..<head { let d = p[i] - mean; squares += d * d }
            return (mean, (squares / Double(capacity - 1)).squareRoot())
        }
    }
}

/// The anomaly rules of `processor.anomalies`, as pure functions of their inputs.
enum AnomalyRules {
    /// (a) A trade whose price is more than `priceZScore` standard deviations from the mean of
    /// the symbol's last `priceWindow` trades (before this one). Needs a full ring and a
    /// non-zero deviation: a constant price has no scale to measure a move against.
    static func priceMove(_ t: TradeEvent, ring: PriceRing, rules: Anomalies, windowStart: Int64) -> AlertRow? {
        guard let (mean, sd) = ring.statistics(), sd > 0 else { return nil }
        let signed = (t.price.doubleValue - mean) / sd
        let z = abs(signed)
        guard z > rules.priceZScore else { return nil }
        let direction: AlertDirection = signed < 0 ? .down : .up
        return AlertRow(rule: .priceZScore, symbol: t.symbol, identity: t.tradeId, detectedAtMs: t.tsMs, windowStartMs: windowStart,
                        value: z, threshold: rules.priceZScore, direction: direction,
                        detail: "trade \(t.tradeId) at \(t.price) is \(rounded(z))σ \(direction == .down ? "below" : "above") the mean \(rounded(mean)) of the last \(ring.count) trades (sample σ \(rounded(sd)))")
    }

    /// (b) A window whose volume exceeds `volumeSpikeFactor` × the mean volume of the symbol's
    /// previous `volumeWindows` windows (a window without trades counts as 0). Fires only when
    /// the engine has seen every one of those windows (`known`) and the mean is above 0.
    static func volumeSpike(symbol: String, window: WindowState, windowMs: Int64, windowMinutes: Int,
                            history: [VolumeEntry], known: Bool, rules: Anomalies) -> AlertRow? {
        guard known else { return nil }
        let from = window.start - Int64(rules.volumeWindows) * windowMs
        var sum = 0.0
        for entry in history where entry.start >= from && entry.start < window.start { sum += entry.volume }
        let mean = sum / Double(rules.volumeWindows)
        let volume = window.volume.doubleValue
        guard mean > 0, volume > rules.volumeSpikeFactor * mean else { return nil }
        let threshold = rules.volumeSpikeFactor * mean
        return AlertRow(rule: .volumeSpike, symbol: symbol, identity: "\(window.start)/\(windowMinutes)",
                        detectedAtMs: window.start + windowMs, windowStartMs: window.start, value: volume, threshold: threshold,
                        detail: "volume \(window.volume) in \(windowMinutes) min is \(rounded(volume / mean))× the mean \(rounded(mean)) of the previous \(rules.volumeWindows) windows")
    }

    /// quantity × price > limit, compared exactly (Decimal(18,4) × Decimal(18,4) always fits).
    static func isOver(_ order: OrderRow, limit: FixedDecimal) -> Bool {
        order.quantity.multiplied(by: order.price).map { $0 > limit } ?? true
    }

    /// (c) An order created, or updated from at or below the limit, whose quantity × price
    /// exceeds `oversizedOrderNotional`, compared exactly in FixedDecimal. An update without a
    /// before image (`binlog_row_image=MINIMAL`) is compared with the order's last known state
    /// (`lastKnownOverLimit`). Snapshot reads and deletes do not alert.
    static func oversizedOrder(_ event: ChangeEvent<OrderRow>, version: UInt64, windowMs: Int64, rules: Anomalies,
                               limit: FixedDecimal, lastKnownOverLimit: Bool) -> AlertRow? {
        guard event.op == .create || event.op == .update, let order = event.after,
              let notional = order.quantity.multiplied(by: order.price), notional > limit else { return nil }
        let value = notional.doubleValue
        if event.op == .update {
            let wasOver = event.before.map { isOver($0, limit: limit) } ?? lastKnownOverLimit
            if wasOver { return nil }
        }
        let t = order.updatedAtMs
        return AlertRow(rule: .oversizedOrder, symbol: order.symbol, identity: "\(order.orderId)@\(version)", detectedAtMs: t,
                        windowStartMs: t - t.floorMod(windowMs), value: value, threshold: rules.oversizedOrderNotional,
                        detail: "order \(order.orderId) (customer \(order.customerId)) \(order.side) \(order.quantity) × \(order.price) = \(notional)")
    }

    /// Four significant decimals for alert text.
    static func rounded(_ v: Double) -> String {
        guard v.isFinite else { return "\(v)" }
        return "\((v * 10_000).rounded() / 10_000)"
    }
}

/// A fired window's volume, kept for the volume rule, with the record it was built from.
struct VolumeEntry {
    var start: Int64
    var volume: Double
    var origin: Origin
}
