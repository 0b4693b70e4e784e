/// Appends JSON text to a byte buffer: the trade encoder and the ClickHouse JSONEachRow rows.
struct JSONWriter {
    var bytes: [UInt8]

    init(capacity: Int = 256) {
        bytes = []
        bytes.reserveCapacity(capacity)
    }

    private var needsComma = false

    mutating func beginObject() {
        bytes.append(UInt8(ascii: "{"))
        needsComma = false
    }

    mutating func endObject() {
        bytes.append(UInt8(ascii: "}"))
        needsComma = true
    }

    /// `"name":` with the separating comma when needed; names are plain ASCII constants.
    mutating func key(_ name: StaticString) {
        if needsComma { bytes.append(UInt8(ascii: ",")) }
        needsComma = true
        bytes.append(UInt8(ascii: "\""))
        bytes.append(contentsOf: UnsafeBufferPointer(start: name.utf8Start, count: name.utf8CodeUnitCount))
        bytes.append(UInt8(ascii: "\""))
        bytes.append(UInt8(ascii: ":"))
    }

    mutating func field(_ name: StaticString, _ value: String) { key(name); string(value) }
    mutating func field(_ name: StaticString, _ value: String?) {
        key(name)
        if let value { string(value) } else { null() }
    }
    mutating func field(_ name: StaticString, _ value: Int64) { key(name); integer(value) }
    mutating func field(_ name: StaticString, _ value: Int) { key(name); integer(Int64(value)) }
    mutating func field(_ name: StaticString, _ value: UInt64) { key(name); unsigned(value) }
    mutating func field(_ name: StaticString, _ value: Double) { key(name); double(value) }
    /// Decimals as strings: ClickHouse parses them exactly into Decimal columns.
    mutating func field(_ name: StaticString, _ value: FixedDecimal) {
        key(name)
        bytes.append(UInt8(ascii: "\""))
        value.appendText(to: &bytes)
        bytes.append(UInt8(ascii: "\""))
    }
    /// DateTime64(3) as `"YYYY-MM-DD HH:MM:SS.mmm"` (UTC), which ClickHouse reads without
    /// `date_time_input_format=best_effort`.
    mutating func timestamp(_ name: StaticString, _ epochMs: Int64) {
        key(name)
        bytes.append(UInt8(ascii: "\""))
        DateTime64.append(epochMs, to: &bytes)
        bytes.append(UInt8(ascii: "\""))
    }

    mutating func null() { bytes.append(contentsOf: "null".utf8) }

    mutating func integer(_ v: Int64) {
        if v < 0 { bytes.append(UInt8(ascii: "-")) }
        unsigned(v.magnitude)
    }

    mutating func unsigned(_ v: UInt64) {
        let start = bytes.count
        var m = v
        repeat {
            bytes.append(UInt8(m % 10) + 48)
            m /= 10
        } while m > 0
        bytes[start...].reverse()
    }

    /// Shortest round-trip text; JSON has no NaN or infinity, so those become 0.
    mutating func double(_ v: Double) {
        guard v.isFinite else { bytes.append(UInt8(ascii: "0")); return }
        if v == v.rounded(), abs(v) < 1e15 {
            integer(Int64(v))
        } else {
            bytes.append(contentsOf: v.description.utf8)
        }
    }

    mutating func string(_ s: String) {
        bytes.append(UInt8(ascii: "\""))
        var s = s
        s.withUTF8 { utf8 in
            var runStart = 0
            for (i, c) in utf8.enumerated() where c < 0x20 || c == 0x22 || c == 0x5c {
                bytes.append(contentsOf: UnsafeBufferPointer(rebasing: utf8[runStart..<i]))
                runStart = i + 1
                switch c {
                case 0x22: bytes.append(contentsOf: #"\""#.utf8)
                case 0x5c: bytes.append(contentsOf: #"\\"#.utf8)
                case 0x0a: bytes.append(contentsOf: #"\n"#.utf8)
                case 0x0d: bytes.append(contentsOf: #"\r"#.utf8)
                case 0x09: bytes.append(contentsOf: #"\t"#.utf8)
                default:
                    let hex = Array("0123456789abcdef".utf8)
                    bytes.append(contentsOf: #"\u00"#.utf8)
                    bytes.append(hex[Int(c >> 4)])
                    bytes.append(hex[Int(c & 0xf)])
                }
            }
            bytes.append(contentsOf: UnsafeBufferPointer(rebasing: utf8[runStart...]))
        }
        bytes.append(UInt8(ascii: "\""))
    }
}

/// ClickHouse DateTime64(3) text in UTC.
public enum DateTime64 {
    /// `1700000000123` → `2023-11-14 22:13:20.123`.
    public static func format(_ epochMs: Int64) -> String {
        var out: [UInt8] = []
        append(epochMs, to: &out)
        return String(decoding: out, as: UTF8.self)
    }

    static func append(_ epochMs: Int64, to out: inout [UInt8]) {
        let ms = epochMs.floorMod(1000)
        let seconds = (epochMs - ms) / 1000
        let secOfDay = seconds.floorMod(86_400)
        let days = (seconds - secOfDay) / 86_400
        let (y, m, d) = civil(fromDays: days)
        func pad(_ v: Int64, _ width: Int) {
            var divisor: Int64 = 1
            for _ in 1..<width { divisor *= 10 }
            while divisor * 10 <= v { divisor *= 10 }
            while divisor > 0 {
                out.append(UInt8(v / divisor % 10) + 48)
                divisor /= 10
            }
        }
        pad(y, 4); out.append(UInt8(ascii: "-")); pad(m, 2); out.append(UInt8(ascii: "-")); pad(d, 2)
        out.append(UInt8(ascii: " "))
        pad(secOfDay / 3600, 2); out.append(UInt8(ascii: ":")); pad(secOfDay / 60 % 60, 2); out.append(UInt8(ascii: ":"))
        pad(secOfDay % 60, 2); out.append(UInt8(ascii: ".")); pad(ms, 3)
    }

    /// Howard Hinnant's days-from-civil inverse: days since 1970-01-01 → (year, month, day).
    static func civil(fromDays z0: Int64) -> (Int64, Int64, Int64) {
        let z = z0 + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let d = doy - (153 * mp + 2) / 5 + 1
        let m = mp < 10 ? mp + 3 : mp - 9
        return (yoe + era * 400 + (m <= 2 ? 1 : 0), m, d)
    }
}

extension Int64 {
    /// The remainder with the sign of the divisor (`-1 floorMod 1000 == 999`).
    func floorMod(_ d: Int64) -> Int64 {
        let r = self % d
        return r < 0 ? r + d : r
    }
}
