import Foundation

/// How many lifecycle steps per second the order generator aims for at a moment of the day:
/// the manifest's peak rate times the pattern's factor (0…1). Pure: the caller says what time
/// it is (KST seconds since midnight, or seconds since the run began for `burst`).
public enum RatePattern: Sendable, Equatable {
    /// The KRX regular session's U shape (09:00–15:30 KST); `offHours` outside it.
    case timeOfDay(offHours: Double)
    case constant
    /// `burstSeconds` at full rate, then the rest of `periodSeconds` at `quietFactor`.
    case burst(periodSeconds: Double, burstSeconds: Double, quietFactor: Double)

    /// `time-of-day`, `constant` (or `flat`), `burst`.
    public static func named(_ name: String, offHours: Double) -> RatePattern? {
        switch name {
        case "time-of-day": .timeOfDay(offHours: offHours)
        case "constant", "flat": .constant
        case "burst": .burst(periodSeconds: 60, burstSeconds: 10, quietFactor: 0.1)
        default: nil
        }
    }

    /// Share of the session's traded value per half hour from 09:00 to 15:30 KST (13 slots), in
    /// percent: about 17 % in the first 30 minutes, a trough of about 5 % at 12:00–12:30 and
    /// about 12 % in the last 30 minutes (KRX 2015 figures; the slots between are interpolated).
    public static let sessionShares: [Double] = [17, 10, 8, 7, 6, 5.5, 5, 5.5, 6, 6.5, 7, 8, 12]
    public static let sessionOpen = 9 * 3600, sessionClose = 15 * 3600 + 30 * 60

    /// The factor at `kstSecondOfDay` (0..<86400); `elapsed` (seconds since the run began) drives `burst`.
    public func factor(kstSecondOfDay: Int, elapsed: Double) -> Double {
        switch self {
        case .constant: return 1
        case let .burst(period, burst, quiet):
            return elapsed.truncatingRemainder(dividingBy: period) < burst ? 1 : quiet
        case let .timeOfDay(offHours):
            let s = ((kstSecondOfDay % 86_400) + 86_400) % 86_400
            guard s >= Self.sessionOpen && s < Self.sessionClose else { return offHours }
            let slot = (s - Self.sessionOpen) / 1800
            return max(offHours, Self.sessionShares[slot] / Self.sessionShares.max()!)
        }
    }

    /// KST (UTC+9, no daylight saving) second of the day for a Unix time.
    public static func kstSecondOfDay(unixSeconds: Double) -> Int {
        let s = Int(floor(unixSeconds)) + 9 * 3600
        return ((s % 86_400) + 86_400) % 86_400
    }

    /// `HH:MM` (00:00–23:59) as a second of the day, or nil.
    public static func parseClock(_ text: String) -> Int? {
        let parts = text.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count == 2, parts.allSatisfy({ $0.count == 2 }), let h = Int(parts[0]), let m = Int(parts[1]),
              (0..<24).contains(h), (0..<60).contains(m) else { return nil }
        return h * 3600 + m * 60
    }
}

/// Turns a rate that changes over time into "how many steps are due now": a token bucket fed
/// at `rate(t)`, holding at most `maxBacklog` steps. Steps beyond it (the writer could not keep
/// up, or waited for MySQL) are counted in `dropped`, never written late in a rush.
public struct Pacer: Sendable {
    public private(set) var credit: Double = 0
    public private(set) var dropped: Int = 0
    private var last: Double?
    public let maxBacklog: Double

    public init(maxBacklog: Double) { self.maxBacklog = max(1, maxBacklog) }

    /// Steps due at time `now` (seconds, monotonic) when the rate is `rate` steps/s. Take them all.
    public mutating func due(now: Double, rate: Double) -> Int {
        if let last { credit += max(0, now - last) * max(0, rate) } else { credit = min(1, max(0, rate)) > 0 ? 1 : 0 }
        last = now
        // A hair of tolerance: 100 × 0.1 s of credit must make 10 steps despite rounding.
        if credit > maxBacklog {
            let excess = Int(credit - maxBacklog + 1e-9)
            dropped += excess
            credit -= Double(excess)
        }
        let n = Int(credit + 1e-9)
        credit -= Double(n)
        return n
    }

    /// Seconds until the next step is due at `rate` (for sleeping), at most `cap`.
    public func wait(rate: Double, cap: Double = 0.05) -> Double {
        guard rate > 0 else { return cap }
        return min(cap, max(0, (1 - credit) / rate))
    }
}
