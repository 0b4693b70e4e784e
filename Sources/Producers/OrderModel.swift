import Foundation

/// One lifecycle step of one order: what the writer turns into one transaction. `order` is the
/// generator's local number for the order; the writer maps it to MySQL's `order_id`.
public enum OrderStep: Sendable, Equatable {
    /// INSERT a `NEW` order (the schema's name for pending).
    case place(order: Int, customer: Int, symbol: String, side: String, quantity: Int, price: Int64)
    /// INSERT an execution; UPDATE the order to `PARTIALLY_FILLED`, or `FILLED` when `fills` it.
    case execute(order: Int, symbol: String, quantity: Int, price: Int64, fills: Bool)
    /// UPDATE the order to `CANCELLED` (what was executed stays).
    case cancel(order: Int)
    /// DELETE the order's executions and the order (Debezium `d` events and tombstones).
    case delete(order: Int)

    public var order: Int {
        switch self {
        case let .place(o, _, _, _, _, _), let .execute(o, _, _, _, _), let .cancel(o), let .delete(o): o
        }
    }

    public var kind: String {
        switch self {
        case .place: "place"
        case .execute(_, _, _, _, let fills): fills ? "fill" : "partial"
        case .cancel: "cancel"
        case .delete: "delete"
        }
    }
}

/// Settings the generator draws from (the manifest's `producers.orders` plus the processor's
/// `oversized_order` threshold).
public struct OrderModelSettings: Sendable, Equatable {
    public var symbols: [String]
    public var deleteShare: Double
    public var cancelShare: Double
    public var oversizedShare: Double
    /// `processor.anomalies.oversizedOrderNotional`: an oversized order is 1.5× this.
    public var oversizedNotional: Double
    /// Orders kept open at once (more open orders, more interleaving between them).
    public var openOrders: Int

    public init(symbols: [String], deleteShare: Double, cancelShare: Double, oversizedShare: Double,
                oversizedNotional: Double, openOrders: Int = 32) {
        self.symbols = symbols
        self.deleteShare = deleteShare
        self.cancelShare = cancelShare
        self.oversizedShare = oversizedShare
        self.oversizedNotional = oversizedNotional
        self.openOrders = max(1, openOrders)
    }
}

/// The order system as a pure state machine: it proposes the next step, and learns whether it
/// committed. Deterministic for a seed: same settings and seed, same steps.
///
/// Lifecycle: place (NEW) → zero or more partial executions (PARTIALLY_FILLED) → FILLED (the
/// executions sum to the quantity) or CANCELLED; then, for a `deleteShare` of them, delete.
/// Prices follow a per-symbol random walk around a reference; customers are skewed (ten heavy
/// users place about half the orders); a few orders are oversized.
public struct OrderModel: Sendable {
    public struct Open: Sendable, Equatable {
        public var symbol: String
        public var quantity: Int
        public var filled: Int
        public var price: Int64
        /// Decided at placement: cancelled after at most this many partial executions.
        public var cancels: Bool
    }

    public let settings: OrderModelSettings
    public private(set) var rng: SeededRandom
    public private(set) var open: [Int: Open] = [:]
    /// Finished orders chosen for deletion, oldest first.
    public private(set) var toDelete: [Int] = []
    /// Orders whose last step's outcome is unknown (the connection dropped during COMMIT): never touched again.
    public private(set) var abandoned: Set<Int> = []
    /// Orders placed with a step not yet confirmed.
    private var pending: Set<Int> = []
    private var nextOrder = 1
    private var prices: [String: Double]
    /// Lots placed per symbol (for the reference price of symbols the table does not know).
    static let referencePrices: [String: Double] = ["005930": 71_000, "000660": 180_000, "035420": 200_000,
                                                    "035720": 45_000, "051910": 350_000, "005380": 250_000]

    public init(settings: OrderModelSettings, seed: UInt64) {
        self.settings = settings
        rng = SeededRandom(seed: seed)
        prices = Dictionary(uniqueKeysWithValues: settings.symbols.map { ($0, Self.reference($0)) })
    }

    public static func reference(_ symbol: String) -> Double { referencePrices[symbol] ?? 10_000 }

    /// The next step to write. Call `committed(_:)` or `failed(_:indeterminate:)` with it before asking again.
    public mutating func next() -> OrderStep {
        let candidates = open.keys.filter { !pending.contains($0) }.sorted()
        if let victim = toDelete.first, rng.chance(0.5) || candidates.isEmpty && open.count >= settings.openOrders {
            toDelete.removeFirst()
            pending.insert(victim)
            return .delete(order: victim)
        }
        if candidates.isEmpty || (open.count < settings.openOrders && rng.chance(0.35)) {
            return place()
        }
        let id = candidates[rng.int(0...(candidates.count - 1))]
        let o = open[id]!
        let remaining = o.quantity - o.filled
        pending.insert(id)
        if o.cancels {
            // Cancelled before it fills: nothing, or one partial execution, first.
            if o.filled > 0 || remaining <= 1 || rng.chance(0.5) { return .cancel(order: id) }
            return .execute(order: id, symbol: o.symbol, quantity: rng.int(1...(remaining - 1)), price: o.price, fills: false)
        }
        // Partial executions in chunks; about one in three executions takes the rest.
        let chunk = rng.chance(0.35) || remaining <= 1 ? remaining : rng.int(1...(remaining - 1))
        return .execute(order: id, symbol: o.symbol, quantity: chunk, price: o.price, fills: chunk == remaining)
    }

    mutating func place() -> OrderStep {
        let id = nextOrder
        nextOrder += 1
        let symbol = settings.symbols[rng.int(0...(settings.symbols.count - 1))]
        // Random walk with a pull back to the reference, on whole won.
        let ref = Self.reference(symbol)
        var p = prices[symbol] ?? ref
        p *= exp(0.002 * rng.gaussian() - 0.01 * log(p / ref))
        prices[symbol] = p
        let price = max(1, Int64(p.rounded()))
        // Heavy users: ten customers place about half of the orders.
        let customer = rng.chance(0.5) ? rng.int(1...10) : rng.int(11...10_000)
        var quantity: Int
        if rng.chance(settings.oversizedShare) {
            quantity = Int((settings.oversizedNotional * 1.5 / Double(price)).rounded(.up))
        } else {
            // Mostly small lots, a long tail: 1…10 (70 %), …100 (25 %), …1000 (5 %).
            let u = rng.unit()
            quantity = u < 0.7 ? rng.int(1...10) : u < 0.95 ? rng.int(11...100) : rng.int(101...1000)
        }
        let side = rng.chance(0.5) ? "BUY" : "SELL"
        let cancels = rng.chance(settings.cancelShare)
        open[id] = Open(symbol: symbol, quantity: quantity, filled: 0, price: price, cancels: cancels)
        pending.insert(id)
        return .place(order: id, customer: customer, symbol: symbol, side: side, quantity: quantity, price: price)
    }

    /// The step committed: advance the order's state.
    public mutating func committed(_ step: OrderStep) {
        pending.remove(step.order)
        switch step {
        case .place: break
        case let .execute(id, _, quantity, _, fills):
            open[id]?.filled += quantity
            if fills { finish(id) }
        case let .cancel(id): finish(id)
        case .delete: break
        }
    }

    /// The step did not commit (`indeterminate`: it may have; the order is then left alone for
    /// good, so the model never acts on a state it does not know).
    public mutating func failed(_ step: OrderStep, indeterminate: Bool) {
        pending.remove(step.order)
        if case .place = step, !indeterminate { open[step.order] = nil; return }
        if indeterminate {
            open[step.order] = nil
            abandoned.insert(step.order)
        } else if case .delete = step {
            toDelete.insert(step.order, at: 0)
        }
    }

    mutating func finish(_ id: Int) {
        open[id] = nil
        if rng.chance(settings.deleteShare) { toDelete.append(id) }
    }
}
