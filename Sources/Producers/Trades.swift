import Foundation
import Processor

/// One trade as the processor's `TradeCodec` reads it from `trades.raw` (keyed by symbol).
public struct TradeLine: Sendable, Equatable {
    public var symbol: String
    public var tradeId: String
    /// Decimal strings, exact.
    public var price: String
    public var volume: String
    /// `buy` or `sell` (the taker's side).
    public var side: String
    public var tsMs: Int64
    public var source: String

    public init(symbol: String, tradeId: String, price: String, volume: String, side: String, tsMs: Int64, source: String) {
        self.symbol = symbol
        self.tradeId = tradeId
        self.price = price
        self.volume = volume
        self.side = side
        self.tsMs = tsMs
        self.source = source
    }

    /// `{"symbol":…,"trade_id":…,"price":"…","volume":"…","side":"buy","ts_ms":…,"source":"…"}`
    public var json: String {
        "{\"symbol\":\(Self.quoted(symbol)),\"trade_id\":\(Self.quoted(tradeId)),\"price\":\"\(price)\",\"volume\":\"\(volume)\","
            + "\"side\":\"\(side)\",\"ts_ms\":\(tsMs),\"source\":\(Self.quoted(source))}"
    }

    /// `s` as a JSON string literal, as trade lines write it.
    public static func quoted(_ s: String) -> String {
        var out = "\""
        for c in s.unicodeScalars {
            switch c {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case _ where c.value < 0x20: out += String(format: "\\u%04x", c.value)
            default: out.unicodeScalars.append(c)
            }
        }
        return out + "\""
    }

    /// A recorded trade line, checked with the processor's own decoder (what it would refuse, replay refuses).
    public static func parse(_ line: String) throws -> TradeLine {
        let e = try TradeCodec.decode(line)
        return TradeLine(symbol: e.symbol, tradeId: e.tradeId, price: "\(e.price)", volume: "\(e.volume)",
                         side: e.side == .buy ? "buy" : "sell", tsMs: e.tsMs, source: e.source)
    }
}

/// Anomalies the synthetic feed injects so the processor's rules fire: a price jump (the
/// `price_zscore` rule) and a volume burst (the `volume_spike` rule), both on the first symbol.
public struct InjectedAnomalies: Sendable, Equatable {
    /// Trade number (0-based, over all symbols) that jumps by `jump` (0.05 = +5 %).
    public var priceJumpAt: Int?
    public var jump: Double
    /// Trade numbers whose volume is multiplied by `factor`.
    public var volumeBurst: Range<Int>?
    public var factor: Double

    public init(priceJumpAt: Int? = nil, jump: Double = 0.05, volumeBurst: Range<Int>? = nil, factor: Double = 200) {
        self.priceJumpAt = priceJumpAt
        self.jump = jump
        self.volumeBurst = volumeBurst
        self.factor = factor
    }

    /// A schedule for `symbols` whose rings (`priceWindow` trades each) are full before the jump,
    /// and whose volume history (`volumeWindows` windows of `windowMs` at `stepMs` per trade) is
    /// complete before the burst.
    public static func schedule(symbols: Int, priceWindow: Int, volumeWindows: Int, windowMs: Int64, stepMs: Int64) -> InjectedAnomalies {
        let perWindow = max(1, Int(windowMs / max(1, stepMs)))
        let jump = symbols * (priceWindow + 10)
        let burstStart = max(jump + symbols * 10, (volumeWindows + 2) * perWindow)
        // The burst fills most of one window's worth of trades.
        return InjectedAnomalies(priceJumpAt: jump, volumeBurst: burstStart..<(burstStart + max(symbols, perWindow / 4)))
    }
}

/// Seeded trades for demos and tests: a random walk per symbol (bounded noise on a drifting
/// level), event time `stepMs` apart.
/// Deterministic: same seed, same trades (ids `syn-<seed>-<n>`).
public struct SyntheticTrades: Sendable {
    public let symbols: [String]
    public let seed: UInt64
    public let startMs: Int64
    public let stepMs: Int64
    public let anomalies: InjectedAnomalies
    var rng: SeededRandom
    var prices: [Double]
    public private(set) var produced = 0

    /// Where event time starts: now for a run paced at its event time; for a counted run that is
    /// sent faster than its event time, `count × step` before now, so the last trade is at now.
    public static func startMs(now: Int64, count: Int?, stepMs: Int64, paced: Bool) -> Int64 {
        guard !paced, let count, count > 0 else { return now }
        return now - Int64(count) * stepMs
    }

    public init(symbols: [String], seed: UInt64, startMs: Int64, stepMs: Int64, anomalies: InjectedAnomalies = InjectedAnomalies()) {
        self.symbols = symbols
        self.seed = seed
        self.startMs = startMs
        self.stepMs = max(1, stepMs)
        self.anomalies = anomalies
        rng = SeededRandom(seed: seed)
        prices = symbols.map(Self.reference)
    }

    static func reference(_ symbol: String) -> Double {
        switch symbol {
        case "KRW-BTC": 97_000_000
        case "KRW-ETH": 4_500_000
        case "KRW-XRP": 900
        default: 10_000
        }
    }

    public mutating func next() -> TradeLine {
        let n = produced
        produced += 1
        let i = n % symbols.count
        // A slowly drifting level with bounded noise around it: a market that moves, whose
        // trades alone stay within about 2σ of their recent mean, so only injected anomalies
        // cross the processor's thresholds.
        prices[i] *= exp(0.00002 * rng.gaussian())
        var p = prices[i] * (1 + 0.001 * (2 * rng.unit() - 1))
        if n == anomalies.priceJumpAt, i == 0 || symbols.count == 1 { p *= 1 + anomalies.jump }
        var volume = 0.001 + rng.unit() * 0.1
        if let burst = anomalies.volumeBurst, burst.contains(n), i == 0 { volume *= anomalies.factor }
        return TradeLine(symbol: symbols[i], tradeId: "syn-\(seed)-\(n)", price: String(format: "%.2f", p),
                         volume: String(format: "%.8f", volume), side: rng.chance(0.5) ? "buy" : "sell",
                         tsMs: startMs + Int64(n) * stepMs, source: "synthetic")
    }
}

/// A recorded file of trade lines replayed at the original pace × `speed` (0 = as fast as
/// possible), optionally in a loop: each pass shifts event time past the previous one and
/// suffixes trade ids (`#2`, …), so the processor sees new trades, not late duplicates.
public struct ReplayTrades: Sendable {
    public let trades: [TradeLine]
    public let speed: Double
    public let loop: Bool
    var index = 0
    var pass = 0
    let spanMs: Int64

    /// Parses the file's lines: trade lines, or raw Upbit / KIS frames as a live feed recorded
    /// them (one frame per line; duplicates dropped as live; control frames skipped). Blank lines
    /// are skipped; a line that is none of these is an error naming it.
    public static func load(text: String, path: String) throws -> [TradeLine] {
        var out: [TradeLine] = []
        var decoder = RecordedLineDecoder()
        for (n, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = raw.trimmingCharacters(in: .whitespaces)
            do {
                switch try decoder.decode(line) {
                case .skip: continue
                case let .trades(trades): out += trades
                case .tradeLine: out.append(try TradeLine.parse(line))
                }
            } catch let e as RecordedLineError {
                throw ReplayFileError(path: path, line: n + 1, message: e.message)
            } catch {
                throw ReplayFileError(path: path, line: n + 1, message: "\(error)")
            }
        }
        return out
    }

    public init(trades: [TradeLine], speed: Double, loop: Bool) {
        self.trades = trades
        self.speed = speed
        self.loop = loop
        let first = trades.first?.tsMs ?? 0, last = trades.last?.tsMs ?? 0
        spanMs = max(1, last - first + 1)
    }

    /// The next trade and the seconds after the replay's start at which to send it (nil: now).
    public mutating func next() -> (TradeLine, Double?)? {
        guard !trades.isEmpty else { return nil }
        if index == trades.count {
            guard loop else { return nil }
            index = 0
            pass += 1
        }
        var t = trades[index]
        index += 1
        let offsetMs = Int64(pass) * spanMs
        let relativeMs = t.tsMs - trades[0].tsMs + offsetMs
        if pass > 0 {
            t.tsMs += offsetMs
            t.tradeId += "#\(pass + 1)"
        }
        return (t, speed > 0 ? Double(relativeMs) / 1000 / speed : nil)
    }
}

/// What one line of a recorded file is. `produce trades --record` writes raw Upbit / KIS frames;
/// `--source synthetic`/replay files hold trade lines. Both `produce trades --source replay` and
/// `bench processor --input` read either through this one classifier, so they agree on a file.
public enum RecordedLine: Equatable, Sendable {
    /// Blank, a `#` comment (a recording keeps the frames the live feed refused that way), or a
    /// control frame (status, subscription ack, PINGPONG).
    case skip
    /// A raw frame's trades, duplicates a reconnect replayed already dropped (as live).
    case trades([TradeLine])
    /// Not a frame: a trade line, for the caller to decode (the processor's own codec).
    case tradeLine
}

public struct RecordedLineError: Error, Sendable { public var message: String }

public struct RecordedLineDecoder: Sendable {
    var upbit = UpbitFrames(), kis = KISFrames()
    /// Lines that were raw frames (trades or control).
    public private(set) var frames = 0

    public init() {}

    public static func isKISFrame(_ line: String) -> Bool { line.hasPrefix("0|") || line.hasPrefix("1|") || line.contains("\"header\"") }
    public static func isUpbitFrame(_ line: String) -> Bool {
        ["\"trade_price\"", "\"ty\"", "\"status\"", "\"error\""].contains(where: line.contains)
    }

    public mutating func decode(_ line: String) throws(RecordedLineError) -> RecordedLine {
        if line.isEmpty || line.hasPrefix("#") { return .skip }
        let frame: FrameOutcome
        if Self.isKISFrame(line) { frame = kis.decode(line) } else if Self.isUpbitFrame(line) { frame = upbit.decode(line) } else { return .tradeLine }
        frames += 1
        switch frame {
        case let .trades(trades): return .trades(trades)
        case .reply, .control: return .skip
        case let .serverError(message), let .malformed(message): throw RecordedLineError(message: message)
        }
    }
}

public struct ReplayFileError: Error, Sendable {
    public var path: String
    public var line: Int
    public var message: String
}
