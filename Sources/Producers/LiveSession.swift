import Foundation
import Polling

/// What a live feed has seen so far (written to the summary and to /metrics).
public struct LiveFeedCounters: Sendable, Codable, Equatable {
    /// Connections opened (the first one included).
    public var connections = 0
    /// Connections opened after one was lost or refused.
    public var reconnects = 0
    /// Connection attempts that failed (refused, TLS, upgrade answered 429, …).
    public var connectFailures = 0
    /// Upgrades the server answered with 429 or 418 (Upbit's rate limit).
    public var rateLimited = 0
    /// Periods without a connection once one had been up: trades made then may be missing
    /// (Upbit's `sequential_id` is not ordered, so a gap cannot be seen in the ids themselves).
    public var gaps = 0
    public var gapSeconds = 0.0
    public var frames = 0
    public var trades = 0
    /// Trades seen before (a server repeating itself, a reconnect replaying): dropped.
    public var duplicates = 0
    /// Frames not of the documented format: counted and skipped.
    public var malformed = 0
    public var serverErrors = 0
    /// Control frames (status, subscription acks) and KIS PINGPONGs answered.
    public var control = 0
    public var pingPongs = 0
    public var lastError: String?
    public init() {}
}

/// The decoder of one live source, with the counting around it. Pure: frame text in, what to do out.
public struct LiveFrameHandler: Sendable {
    public enum Kind: String, Sendable { case upbit, kis }
    public let kind: Kind
    var upbit = UpbitFrames()
    var kis = KISFrames()

    public init(kind: Kind) { self.kind = kind }

    /// Trades to write, a reply to send (KIS PINGPONG), and why a frame was refused (malformed, a server error).
    public mutating func handle(_ text: String, counters c: inout LiveFeedCounters) -> (trades: [TradeLine], reply: String?, refused: String?) {
        c.frames += 1
        let before = kind == .upbit ? upbit.dedup.duplicates : kis.dedup.duplicates
        let outcome = kind == .upbit ? upbit.decode(text) : kis.decode(text)
        let after = kind == .upbit ? upbit.dedup.duplicates : kis.dedup.duplicates
        c.duplicates += after - before
        switch outcome {
        case .trades(let t):
            c.trades += t.count
            return (t, nil, nil)
        case .reply(let r):
            c.pingPongs += 1
            return ([], r, nil)
        case .control:
            c.control += 1
        case .serverError(let m):
            c.serverErrors += 1
            c.lastError = "server: \(m)"
            return ([], nil, c.lastError)
        case .malformed(let m):
            c.malformed += 1
            c.lastError = "malformed frame: \(m)"
            return ([], nil, c.lastError)
        }
        return ([], nil, nil)
    }
}

/// When to reconnect: exponential backoff (`Sources/Polling`'s `Backoff`) with equal jitter
/// (half the delay fixed, half random), so many clients do not come back in step. Within Upbit's
/// limits (about 5 connections/s per IP): never sooner than `minimum` after an attempt, and at
/// least `rateLimitedMinimum` after a 429/418. A connection that delivered frames resets the count.
public struct ReconnectPolicy: Sendable, Equatable {
    public var backoff: Backoff
    public var minimum: Double
    public var rateLimitedMinimum: Double
    public private(set) var failures = 0

    public init(backoff: Backoff = Backoff(initial: 1, factor: 2, maximum: 60), minimum: Double = 0.25, rateLimitedMinimum: Double = 10) {
        self.backoff = backoff
        self.minimum = minimum
        self.rateLimitedMinimum = rateLimitedMinimum
    }

    /// A connection worked (it delivered at least one frame): the next loss starts the schedule over.
    public mutating func succeeded() { failures = 0 }

    /// Seconds to wait after a loss or a failed attempt; `random` in 0…1.
    public mutating func delay(rateLimited: Bool, random: Double) -> Double {
        failures += 1
        let d = backoff.delay(after: failures)
        let jittered = d / 2 + d / 2 * min(1, max(0, random))
        return max(jittered, minimum, rateLimited ? rateLimitedMinimum : 0)
    }
}

/// The KIS approval-key request (`POST /oauth2/Approval`) and its answer. Pure.
public enum KISApproval {
    public static let defaultURL = "https://openapi.koreainvestment.com:9443/oauth2/Approval"
    public static let defaultWebSocketURL = "ws://ops.koreainvestment.com:21000"

    public static func body(appKey: String, appSecret: String) -> [UInt8] {
        Array("{\"grant_type\":\"client_credentials\",\"appkey\":\(TradeLine.quoted(appKey)),\"secretkey\":\(TradeLine.quoted(appSecret))}".utf8)
    }

    /// The `approval_key`, or nil when the answer has none.
    public static func key(from response: String) -> String? {
        guard let data = response.data(using: .utf8), let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
              let key = object["approval_key"] as? String, !key.isEmpty else { return nil }
        return key
    }

    /// Minutes until the KRX session opens (0 inside it), from a KST second of the day.
    public static func minutesUntilSession(kstSecondOfDay s: Int) -> Int {
        if KISFrames.inSession(kstSecondOfDay: s) { return 0 }
        let open = RatePattern.sessionOpen
        return ((open - s + 86_400) % 86_400 + 59) / 60
    }
}

/// A raw frame as one line of a recording (`--record`), read back by `--source replay`: frames
/// carry no newline in the documented formats; one that does is joined with spaces (JSON allows it).
/// A frame the feed refused (malformed, a server error) is kept as a `#` comment line with the
/// reason, which replay skips: the recording shows everything, and replays what the feed wrote.
public enum FrameRecording {
    public static func line(_ frame: String, refused: String? = nil) -> String {
        let one = frame.contains(where: { $0 == "\n" || $0 == "\r" })
            ? frame.replacingOccurrences(of: "\r", with: " ").replacingOccurrences(of: "\n", with: " ") : frame
        return (refused.map { "# \($0): " } ?? "") + one + "\n"
    }
}
