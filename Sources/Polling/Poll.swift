import Diagnostics
import Foundation

/// Time as the waiting code sees it: injected so tests run a deadline in microseconds.
public protocol Clock: Sendable {
    /// Seconds on a monotonic scale (only differences mean something).
    func now() -> Double
    func sleep(_ seconds: Double)
}

/// The real clock: monotonic time, `Thread.sleep`.
public struct SystemClock: Clock {
    public init() {}
    public func now() -> Double { Double(DispatchTime.now().uptimeNanoseconds) / 1e9 }
    public func sleep(_ seconds: Double) { if seconds > 0 { Thread.sleep(forTimeInterval: seconds) } }
}

/// How long to wait before attempt `n + 1`: `initial × factor^(n-1)`, at most `maximum`.
public struct Backoff: Sendable, Equatable {
    public var initial: Double
    public var factor: Double
    public var maximum: Double

    public init(initial: Double, factor: Double = 2, maximum: Double) {
        self.initial = initial
        self.factor = factor
        self.maximum = maximum
    }

    /// The same pause every time.
    public static func every(_ seconds: Double) -> Backoff { Backoff(initial: seconds, factor: 1, maximum: seconds) }

    /// Delay after the `attempt`-th failure (1-based).
    public func delay(after attempt: Int) -> Double {
        guard attempt > 0 else { return 0 }
        return min(maximum, initial * pow(factor, Double(attempt - 1)))
    }
}

/// A point in time by which waiting must end.
public struct Deadline: Sendable {
    public let clock: any Clock
    public let at: Double

    public init(seconds: Double, clock: any Clock = SystemClock()) {
        self.clock = clock
        self.at = clock.now() + seconds
    }

    public var remaining: Double { max(0, at - clock.now()) }
    public var hasPassed: Bool { clock.now() >= at }
}

/// The one way cdcctl waits for something: poll a condition, or retry work that may fail for a
/// while, until a deadline, with a backoff. Every wait loop in the operations goes through here.
public enum Poll {
    /// Calls `check` until it returns a value or the deadline passes (then `nil`). `waiting` is
    /// told the attempt number before each pause. The last attempt runs at the deadline.
    public static func until<T>(_ deadline: Deadline, backoff: Backoff = .every(0.5),
                                waiting: (Int) -> Void = { _ in }, _ check: () throws -> T?) rethrows -> T? {
        var attempt = 0
        while true {
            if let value = try check() { return value }
            attempt += 1
            if deadline.hasPassed { return nil }
            waiting(attempt)
            deadline.clock.sleep(min(backoff.delay(after: attempt), deadline.remaining))
        }
    }

    /// Runs `body` until it succeeds. A failure `isTransient` judges worth another try is retried
    /// after the backoff while the deadline has not passed; any other failure, or one at the
    /// deadline, is thrown as it is. `retrying` hears each retried failure.
    public static func retry<T>(_ deadline: Deadline, backoff: Backoff = Backoff(initial: 1, maximum: 5),
                                isTransient: (Error) -> Bool = Poll.isTransient,
                                retrying: (Int, Error) -> Void = { _, _ in }, _ body: () throws -> T) throws -> T {
        var attempt = 0
        while true {
            do {
                return try body()
            } catch {
                attempt += 1
                guard isTransient(error), !deadline.hasPassed else { throw error }
                retrying(attempt, error)
                deadline.clock.sleep(min(backoff.delay(after: attempt), deadline.remaining))
            }
        }
    }

    /// The default judgement: what the adapters call transient (a server not answering yet);
    /// bad input and anything unknown are not.
    @Sendable public static func isTransient(_ error: Error) -> Bool {
        CdcError.bridging(error).isTransient
    }
}
