/// An exact decimal number: `mantissa × 10^-scale`, for prices, volumes and notionals.
///
/// Money never goes through `Double` here: `0.1 + 0.2` must be `0.3` in the `trades` and
/// `trade_aggregates` tables. A 128-bit mantissa holds 38 digits, enough for a price of
/// Decimal(20,8) times a volume of Decimal(28,12) (scale 20) summed over a window. Arithmetic is
/// checked: an overflow returns nil (the engine rejects that event with an error), never traps.
///
/// Equality, ordering and hashing are by value (`1.50 == 1.5`); `description` keeps the scale,
/// so the same inputs always print the same text.
public struct FixedDecimal: Sendable, Hashable, Comparable, CustomStringConvertible {
    public var mantissa: Int128
    public var scale: Int

    /// The largest scale kept (ClickHouse's Decimal128 allows 38 digits).
    public static let maxScale = 38
    public static let zero = FixedDecimal(mantissa: 0, scale: 0)

    public init(mantissa: Int128, scale: Int) {
        precondition((0...Self.maxScale).contains(scale), "scale \(scale) outside 0...38")
        self.mantissa = mantissa
        self.scale = scale
    }

    public init(_ value: Int64) { self.init(mantissa: Int128(value), scale: 0) }

    /// The decimal a Double was written as (its shortest round-trip text: `1e8` → 100000000,
    /// `0.1` → 0.1), for limits read from the manifest as numbers. Out of range: the nearest
    /// 38-digit bound.
    public static func exactly(_ value: Double) -> FixedDecimal {
        if let d = FixedDecimal("\(value)") { return d }
        let bound = FixedDecimal(mantissa: Int128.powersOfTen[38] - 1, scale: 0)
        return value < 0 ? FixedDecimal(mantissa: -bound.mantissa, scale: 0) : bound
    }

    /// Parses `-12.3400`, `5`, `1e-3`, `1.5E+2` (JSON number grammar, leading `+` allowed).
    public init?(_ text: some StringProtocol) {
        var utf8 = Array(text.utf8)
        guard let value = utf8.withUnsafeMutableBytes({ FixedDecimal.parse(UnsafeRawBufferPointer($0)) }) else { return nil }
        self = value
    }

    /// Parses the ASCII bytes of a decimal number; nil when they are not one or do not fit.
    public static func parse(_ bytes: UnsafeRawBufferPointer) -> FixedDecimal? {
        var i = 0
        let n = bytes.count
        guard n > 0 else { return nil }
        var negative = false
        if bytes[0] == UInt8(ascii: "-") || bytes[0] == UInt8(ascii: "+") { negative = bytes[0] == UInt8(ascii: "-"); i = 1 }
        // Digits accumulate in 64 bits while they fit (18 digits: every price and volume here),
        // then in 128.
        var small: UInt64 = 0
        var mantissa: Int128 = 0
        var significant = 0, integerCount = 0, fraction = 0
        var sawDot = false
        while i < n {
            let c = bytes[i]
            if c >= 48 && c <= 57 {
                // Leading zeros do not count towards the 38 significant digits.
                if significant > 0 || c != 48 { significant += 1 }
                guard significant <= 38 else { return nil }
                if significant <= 18 {
                    small = small &* 10 &+ UInt64(c - 48)
                } else {
                    if significant == 19 { mantissa = Int128(small) }
                    mantissa = mantissa * 10 + Int128(c - 48)
                }
                if sawDot { fraction += 1 } else { integerCount += 1 }
            } else if c == UInt8(ascii: ".") && !sawDot {
                sawDot = true
            } else {
                break
            }
            i += 1
        }
        guard integerCount > 0 || fraction > 0, !(sawDot && fraction == 0) else { return nil }
        if significant <= 18 { mantissa = Int128(small) }
        var exponent = 0
        if i < n && (bytes[i] | 0x20) == UInt8(ascii: "e") {
            i += 1
            var expNegative = false
            if i < n && (bytes[i] == UInt8(ascii: "-") || bytes[i] == UInt8(ascii: "+")) { expNegative = bytes[i] == UInt8(ascii: "-"); i += 1 }
            let start = i
            while i < n, bytes[i] >= 48, bytes[i] <= 57 {
                exponent = exponent * 10 + Int(bytes[i] - 48)
                guard exponent <= 1000 else { return nil }
                i += 1
            }
            guard i > start else { return nil }
            if expNegative { exponent = -exponent }
        }
        guard i == n else { return nil }
        var scale = fraction - exponent
        if scale < 0 {
            guard let scaled = mantissa.timesPowerOfTen(-scale) else { return nil }
            mantissa = scaled
            scale = 0
        }
        guard scale <= maxScale else { return nil }
        return FixedDecimal(mantissa: negative ? -mantissa : mantissa, scale: scale)
    }

    /// The same value with `scale` decimals; nil when that loses digits or overflows.
    public func rescaled(to newScale: Int) -> FixedDecimal? {
        if newScale == scale { return self }
        guard newScale <= Self.maxScale else { return nil }
        if newScale > scale {
            guard let m = mantissa.timesPowerOfTen(newScale - scale) else { return nil }
            return FixedDecimal(mantissa: m, scale: newScale)
        }
        let divisor = Int128.powersOfTen[scale - newScale]
        guard mantissa % divisor == 0 else { return nil }
        return FixedDecimal(mantissa: mantissa / divisor, scale: newScale)
    }

    /// The value with trailing fractional zeros removed (`1.500` → `1.5`).
    public var normalized: FixedDecimal {
        var m = mantissa, s = scale
        while s > 0 && m % 10 == 0 { m /= 10; s -= 1 }
        return FixedDecimal(mantissa: m, scale: s)
    }

    /// Decimal places actually needed (`1.500` → 1).
    public var significantScale: Int { normalized.scale }

    /// Digits before the decimal point (`123.45` → 3, `0.5` → 0).
    public var integerDigits: Int {
        let m = mantissa.magnitude
        var d = 0
        while scale + d <= 38 && m >= UInt128(Int128.powersOfTen[scale + d]) { d += 1 }
        return d
    }

    /// True when the value has at most `digits` digits before the decimal point: one comparison
    /// (the hot path checks every trade's notional and every window sum against its column).
    @inline(__always)
    public func fits(integerDigits digits: Int) -> Bool {
        scale + digits > 38 || mantissa.magnitude < UInt128(Int128.powersOfTen[scale + digits])
    }

    /// `self + other`, exact; nil on overflow.
    public func adding(_ other: FixedDecimal) -> FixedDecimal? {
        if scale == other.scale {
            let (m, o) = mantissa.addingReportingOverflow(other.mantissa)
            return o ? nil : FixedDecimal(mantissa: m, scale: scale)
        }
        let s = max(scale, other.scale)
        guard let a = rescaled(to: s), let b = other.rescaled(to: s) else { return nil }
        return a.adding(b)
    }

    /// `self × other`, exact (scales add); nil on overflow or a scale above 38.
    public func multiplied(by other: FixedDecimal) -> FixedDecimal? {
        let s = scale + other.scale
        guard s <= Self.maxScale else { return nil }
        let (m, o) = mantissa.multipliedReportingOverflow(by: other.mantissa)
        return o ? nil : FixedDecimal(mantissa: m, scale: s)
    }

    public var isPositive: Bool { mantissa > 0 }

    /// The nearest Double (for statistics and VWAP; never for stored money).
    public var doubleValue: Double {
        // Int128 → Double goes through generic code; a mantissa that fits 64 bits need not.
        let m = Int64(exactly: mantissa).map(Double.init) ?? Double(mantissa)
        return m / Double.powersOfTen[scale]
    }

    public var description: String {
        var out: [UInt8] = []
        out.reserveCapacity(44)
        appendText(to: &out)
        return String(decoding: out, as: UTF8.self)
    }

    /// Appends the text form (`-12.3400`: all `scale` decimals, no exponent).
    public func appendText(to out: inout [UInt8]) {
        if mantissa < 0 { out.append(UInt8(ascii: "-")) }
        // Digits go in backwards (least significant first, the point after `scale` of them),
        // then the appended part is reversed in place.
        let start = out.count
        var written = 0
        func digit(_ d: UInt8) {
            if written == scale && scale > 0 { out.append(UInt8(ascii: ".")) }
            out.append(d + 48)
            written += 1
        }
        if let small = UInt64(exactly: mantissa.magnitude) {
            var m = small
            repeat { digit(UInt8(m % 10)); m /= 10 } while m > 0
        } else {
            var m = mantissa.magnitude
            repeat { digit(UInt8(m % 10)); m /= 10 } while m > 0
        }
        while written <= scale { digit(0) }
        out[start...].reverse()
    }

    public static func == (a: FixedDecimal, b: FixedDecimal) -> Bool { compare(a, b) == 0 }
    public static func < (a: FixedDecimal, b: FixedDecimal) -> Bool { compare(a, b) < 0 }

    public func hash(into hasher: inout Hasher) {
        let n = normalized
        hasher.combine(n.mantissa)
        hasher.combine(n.scale)
    }

    static func compare(_ a: FixedDecimal, _ b: FixedDecimal) -> Int {
        if a.scale == b.scale { return a.mantissa == b.mantissa ? 0 : (a.mantissa < b.mantissa ? -1 : 1) }
        if (a.mantissa < 0) != (b.mantissa < 0) { return a.mantissa < 0 ? -1 : 1 }
        let s = max(a.scale, b.scale)
        // Rescaling up can overflow only for a value whose magnitude exceeds every value of the
        // other scale, so the one that does not fit is the larger magnitude.
        switch (a.rescaled(to: s), b.rescaled(to: s)) {
        case let (x?, y?): return x.mantissa == y.mantissa ? 0 : (x.mantissa < y.mantissa ? -1 : 1)
        case (nil, _): return a.mantissa < 0 ? -1 : 1
        case (_, nil): return b.mantissa < 0 ? 1 : -1
        }
    }
}

extension Int128 {
    static let powersOfTen: [Int128] = {
        var out: [Int128] = [1]
        for _ in 1...38 { out.append(out.last! * 10) }
        return out
    }()

    func timesPowerOfTen(_ n: Int) -> Int128? {
        guard n <= 38 else { return self == 0 ? 0 : nil }
        let (m, o) = multipliedReportingOverflow(by: Int128.powersOfTen[n])
        return o ? nil : m
    }
}

extension Double {
    static let powersOfTen: [Double] = (0...38).map { (0..<$0).reduce(1.0) { acc, _ in acc * 10 } }
}
