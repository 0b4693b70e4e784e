import Foundation

/// The pure half of the live feeds (Upbit, KIS): a received text frame → trade lines, with
/// the duplicates a reconnect replays dropped. No socket here (that is `LiveFeed`, driven by
/// `LiveTradeSource`); unit-tested from sample frames written from the documented formats.
public enum FrameOutcome: Equatable, Sendable {
    case trades([TradeLine])
    /// KIS `PINGPONG`: send this text back.
    case reply(String)
    /// A status or subscription acknowledgement; nothing to write.
    case control(String)
    /// An error the server sent (`{"error":…}` / a KIS ack with rt_cd ≠ 0).
    case serverError(String)
    /// Not a frame of the documented format: counted and skipped.
    case malformed(String)
}

/// Keeps the last `capacity` keys: `sequential_id` is unique but not ordered, so a set (not a
/// high-water mark) tells a replayed trade from a new one. Bounded: the oldest keys go first.
public struct DedupWindow: Sendable {
    private var seen: Set<String> = []
    private var order: [String] = []
    private var head = 0
    public let capacity: Int
    public private(set) var duplicates = 0

    public init(capacity: Int = 100_000) { self.capacity = max(1, capacity) }

    /// True the first time a key is offered.
    public mutating func admit(_ key: String) -> Bool {
        if seen.contains(key) { duplicates += 1; return false }
        seen.insert(key)
        if order.count < capacity { order.append(key) } else {
            seen.remove(order[head])
            order[head] = key
            head = (head + 1) % capacity
        }
        return true
    }
}

/// A number's text as written in a flat JSON object (exact: no trip through Double).
func rawJSONNumber(_ key: String, in text: String) -> String? {
    guard let r = text.range(of: "\"\(key)\":") else { return nil }
    var i = r.upperBound
    while i < text.endIndex, text[i] == " " { i = text.index(after: i) }
    var j = i
    while j < text.endIndex, "0123456789.-+eE".contains(text[j]) { j = text.index(after: j) }
    return j > i ? String(text[i..<j]) : nil
}

/// A JSON number's text as the decimal string the trade line carries (`5.0E-4` → `0.0005`).
func decimalText(_ raw: String) -> String? {
    guard !raw.lowercased().contains("e") else {
        guard let d = Decimal(string: raw) else { return nil }
        return NSDecimalNumber(decimal: d).stringValue
    }
    return Double(raw) == nil ? nil : raw
}

/// Upbit `trade` messages (DEFAULT or SIMPLE format) → trade lines.
public struct UpbitFrames: Sendable {
    public var dedup: DedupWindow
    public init(dedupCapacity: Int = 100_000) { dedup = DedupWindow(capacity: dedupCapacity) }

    /// The subscribe message: ticket, trade codes, DEFAULT format (codes upper case, no Origin header on the request).
    public static func subscribe(ticket: String, codes: [String]) -> String {
        "[{\"ticket\":\"\(ticket)\"},{\"type\":\"trade\",\"codes\":[" + codes.map { "\"\($0.uppercased())\"" }.joined(separator: ",")
            + "],\"is_only_realtime\":true},{\"format\":\"DEFAULT\"}]"
    }

    public mutating func decode(_ text: String) -> FrameOutcome {
        guard let data = text.data(using: .utf8), let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else {
            return .malformed("not a JSON object")
        }
        if let error = object["error"] as? [String: Any] {
            return .serverError("\(error["name"] ?? "error"): \(error["message"] ?? "")")
        }
        if let status = object["status"] as? String { return .control("status \(status)") }
        let simple = object["ty"] != nil
        func key(_ long: String, _ short: String) -> String { simple ? short : long }
        guard (object[key("type", "ty")] as? String) == "trade" else { return .control("not a trade message") }
        guard let code = object[key("code", "cd")] as? String,
              let price = rawJSONNumber(key("trade_price", "tp"), in: text).flatMap(decimalText),
              let volume = rawJSONNumber(key("trade_volume", "tv"), in: text).flatMap(decimalText),
              let askBid = object[key("ask_bid", "ab")] as? String, askBid == "ASK" || askBid == "BID",
              let ts = rawJSONNumber(key("trade_timestamp", "ttms"), in: text).flatMap({ Int64($0) }),
              let sid = rawJSONNumber(key("sequential_id", "sid"), in: text) else {
            return .malformed("a trade message without code, trade_price, trade_volume, ask_bid, trade_timestamp or sequential_id")
        }
        guard dedup.admit(sid) else { return .trades([]) }
        // BID: the taker bought; ASK: the taker sold.
        return .trades([TradeLine(symbol: code, tradeId: sid, price: price, volume: volume, side: askBid == "BID" ? "buy" : "sell",
                                  tsMs: ts, source: "upbit")])
    }
}

/// KIS real-time `H0STCNT0` frames: `0|H0STCNT0|NNN|f1^f2^…` (NNN records of 46 fields each),
/// JSON acknowledgements, and `PINGPONG`, which is answered with the same text.
public struct KISFrames: Sendable {
    public static let fieldsPerRecord = 46
    // Field positions in a record (koreainvestment/open-trading-api samples).
    static let ticker = 0, time = 1, price = 2, volume = 12, cumulativeVolume = 13, side = 21, businessDate = 33
    public var dedup: DedupWindow
    public init(dedupCapacity: Int = 100_000) { dedup = DedupWindow(capacity: dedupCapacity) }

    public static func subscribe(approvalKey: String, code: String) -> String {
        "{\"header\":{\"approval_key\":\"\(approvalKey)\",\"custtype\":\"P\",\"tr_type\":\"1\",\"content-type\":\"utf-8\"},"
            + "\"body\":{\"input\":{\"tr_id\":\"H0STCNT0\",\"tr_key\":\"\(code)\"}}}"
    }

    public mutating func decode(_ text: String) -> FrameOutcome {
        if text.hasPrefix("{") {
            guard let data = text.data(using: .utf8), let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
                  let header = object["header"] as? [String: Any] else { return .malformed("a JSON frame without header") }
            if (header["tr_id"] as? String) == "PINGPONG" { return .reply(text) }
            let body = object["body"] as? [String: Any]
            if let rt = body?["rt_cd"] as? String, rt != "0" { return .serverError("\(body?["msg_cd"] ?? ""): \(body?["msg1"] ?? "")") }
            return .control("ack \(header["tr_id"] ?? "")")
        }
        let parts = text.split(separator: "|", maxSplits: 3, omittingEmptySubsequences: false)
        guard parts.count == 4, let count = Int(parts[2]), count > 0 else { return .malformed("not flag|tr_id|count|data") }
        guard parts[0] == "0" else { return .malformed("an encrypted frame (flag \(parts[0])): H0STCNT0 is sent in clear") }
        guard parts[1] == "H0STCNT0" else { return .control("tr_id \(parts[1])") }
        let fields = parts[3].split(separator: "^", omittingEmptySubsequences: false).map(String.init)
        guard fields.count == count * Self.fieldsPerRecord else {
            return .malformed("\(count) record(s) need \(count * Self.fieldsPerRecord) fields, found \(fields.count)")
        }
        var out: [TradeLine] = []
        for r in 0..<count {
            let f = Array(fields[(r * Self.fieldsPerRecord)..<((r + 1) * Self.fieldsPerRecord)])
            guard let ts = Self.epochMs(date: f[Self.businessDate], time: f[Self.time]), Double(f[Self.price]) != nil,
                  Double(f[Self.volume]) != nil, !f[Self.ticker].isEmpty else { return .malformed("record \(r + 1): bad date, time, price or volume") }
            // No trade id: date, ticker, time and cumulative volume identify a trade (cumulative volume grows with each).
            let key = "\(f[Self.businessDate])-\(f[Self.ticker])-\(f[Self.time])-\(f[Self.cumulativeVolume])"
            guard dedup.admit(key) else { continue }
            out.append(TradeLine(symbol: f[Self.ticker], tradeId: key, price: f[Self.price], volume: f[Self.volume],
                                 side: f[Self.side] == "5" ? "sell" : "buy", tsMs: ts, source: "kis"))
        }
        return .trades(out)
    }

    /// `YYYYMMDD` + `HHMMSS` in KST → Unix ms.
    static func epochMs(date: String, time: String) -> Int64? {
        guard date.count == 8, time.count == 6, let d = Int(date), let t = Int(time) else { return nil }
        var c = DateComponents()
        c.year = d / 10_000; c.month = d / 100 % 100; c.day = d % 100
        c.hour = t / 10_000; c.minute = t / 100 % 100; c.second = t % 100
        var cal = Calendar(identifier: .gregorian)
        cal.timeZone = TimeZone(secondsFromGMT: 9 * 3600)!
        guard (1...12).contains(c.month!), (1...31).contains(c.day!), c.hour! < 24, c.minute! < 60, c.second! < 60,
              let date = cal.date(from: c) else { return nil }
        return Int64(date.timeIntervalSince1970) * 1000
    }

    /// The KRX regular session: 09:00–15:30 KST.
    public static func inSession(kstSecondOfDay s: Int) -> Bool { s >= RatePattern.sessionOpen && s < RatePattern.sessionClose }
}
