/// Why a JSON text could not be read: the byte where it went wrong, the field being read
/// (`after.price`) and what was wrong.
struct JSONError: Error, Sendable, Equatable, CustomStringConvertible {
    var byteOffset: Int
    var field: String
    var message: String

    init(byteOffset: Int, field: String, message: String) {
        self.byteOffset = byteOffset
        self.field = field
        self.message = message
    }

    /// The same error seen from the enclosing object (`price` inside `after` → `after.price`).
    func inside(_ container: String) -> JSONError {
        var e = self
        e.field = field.isEmpty || field == container ? container : container + "." + field
        return e
    }

    var description: String {
        (field.isEmpty ? "" : field + ": ") + message + " (at byte \(byteOffset))"
    }
}

/// A forward-only reader over the bytes of one JSON text.
///
/// Why not Foundation: `JSONSerialization` builds an `NSDictionary` of boxed values for every
/// message and `JSONDecoder` goes through it (or a generic container) too; the change events and
/// trades here are small, flat and known, so reading them straight from the Kafka payload
/// without building anything is several times faster (docs/benchmarks.md, "processor").
/// Unknown fields are skipped (validated, not interpreted), field order does not matter,
/// strings are validated UTF-8 with every JSON escape decoded, and nesting is limited so hostile
/// input cannot exhaust the stack.
struct JSONScanner {
    private let base: UnsafePointer<UInt8>
    let count: Int
    private(set) var position = 0
    /// The last key read, for error messages.
    private var lastKey: Range<Int>?
    static let maxDepth = 64
    /// Stands in for the base of an empty buffer (never read: `count` is 0).
    nonisolated(unsafe) private static let empty: UnsafeMutablePointer<UInt8> = .allocate(capacity: 1)

    init(_ buffer: UnsafeRawBufferPointer) {
        if let p = buffer.baseAddress, buffer.count > 0 {
            base = p.assumingMemoryBound(to: UInt8.self)
            count = buffer.count
        } else {
            base = UnsafePointer(Self.empty)
            count = 0
        }
    }

    /// A key of an object: its bytes in the input, or its decoded text when it had escapes.
    struct Key {
        var start: Int
        var length: Int
        var decoded: String?
    }

    // MARK: - Errors

    func error(_ message: String, at offset: Int? = nil) -> JSONError {
        var field = ""
        if let k = lastKey { field = text(k) }
        return JSONError(byteOffset: offset ?? position, field: field, message: message)
    }

    /// `'x'`, or `end of input`.
    var found: String {
        guard position < count else { return "end of input" }
        let c = base[position]
        if c >= 0x20 && c < 0x7f { return "'\(Character(Unicode.Scalar(c)))'" }
        return "byte 0x" + String(c, radix: 16)
    }

    func text(_ range: Range<Int>) -> String {
        String(decoding: UnsafeBufferPointer(start: base + range.lowerBound, count: range.count), as: UTF8.self)
    }

    // MARK: - Structure

    @inline(__always)
    mutating func skipWhitespace() {
        while position < count {
            let c = base[position]
            guard c == 0x20 || c == 0x0a || c == 0x0d || c == 0x09 else { return }
            position += 1
        }
    }

    @inline(__always)
    mutating func peek() -> UInt8? {
        skipWhitespace()
        return position < count ? base[position] : nil
    }

    mutating func expect(_ c: UInt8, _ what: String) throws(JSONError) {
        skipWhitespace()
        guard position < count, base[position] == c else { throw error("expected \(what), found \(found)") }
        position += 1
    }

    mutating func beginObject() throws(JSONError) {
        skipWhitespace()
        guard position < count, base[position] == UInt8(ascii: "{") else { throw error("expected an object, found \(found)") }
        position += 1
    }

    /// The next key of the object begun with `beginObject` (the scanner then stands at its
    /// value), or nil at the closing brace. `first` starts true for each object.
    mutating func nextKey(_ first: inout Bool) throws(JSONError) -> Key? {
        lastKey = nil
        skipWhitespace()
        if position < count && base[position] == UInt8(ascii: "}") {
            position += 1
            return nil
        }
        if !first {
            guard position < count, base[position] == UInt8(ascii: ",") else { throw error("expected ',' or '}', found \(found)") }
            position += 1
            skipWhitespace()
        }
        first = false
        guard position < count, base[position] == UInt8(ascii: "\"") else { throw error("expected a key, found \(found)") }
        let (range, escaped) = try stringBody()
        lastKey = range
        let key = Key(start: range.lowerBound, length: range.count, decoded: escaped ? try decodeEscapes(range) : nil)
        try expect(UInt8(ascii: ":"), "':'")
        return key
    }

    /// True when `key` is `name`.
    @inline(__always)
    func key(_ key: Key, is name: StaticString) -> Bool {
        if let decoded = key.decoded { return decoded == name.description }
        guard key.length == name.utf8CodeUnitCount else { return false }
        let p = base + key.start
        let q = name.utf8Start
        for j in 0..<key.length where p[j] != q[j] { return false }
        return true
    }

    /// Fails unless only white space follows.
    mutating func end() throws(JSONError) {
        skipWhitespace()
        guard position == count else { throw error("unexpected \(found) after the value") }
    }

    // MARK: - Values

    /// Consumes `null` and returns true, or returns false and consumes nothing.
    mutating func null() throws(JSONError) -> Bool {
        guard peek() == UInt8(ascii: "n") else { return false }
        try literal("null")
        return true
    }

    mutating func string() throws(JSONError) -> String {
        skipWhitespace()
        guard position < count, base[position] == UInt8(ascii: "\"") else { throw error("expected a string, found \(found)") }
        let start = position
        let (range, escaped) = try stringBody()
        if escaped { return try decodeEscapes(range) }
        let bytes = UnsafeBufferPointer(start: base + range.lowerBound, count: range.count)
        // ASCII (symbols, ids, enums) needs no validation; `String(validating:)` is generic
        // and costs more than the rest of the string's decoding.
        if bytes.allSatisfy({ $0 < 0x80 }) { return String(decoding: bytes, as: UTF8.self) }
        guard let s = String(validating: bytes, as: UTF8.self) else { throw error("invalid UTF-8 in a string", at: start) }
        return s
    }

    /// A string, or the text of a JSON number (an id a producer may send either way).
    mutating func identifier() throws(JSONError) -> String {
        guard let c = peek(), c == UInt8(ascii: "-") || (c >= 48 && c <= 57) else { return try string() }
        return text(try numberToken())
    }

    /// A whole number: a JSON integer, or a string holding one (`"42"`).
    mutating func int64() throws(JSONError) -> Int64 {
        let (start, range) = try numberText("a whole number")
        var i = range.lowerBound
        let negative = i < range.upperBound && base[i] == UInt8(ascii: "-")
        if negative { i += 1 }
        guard i < range.upperBound else { throw error("expected a whole number, found \(text(start..<position))", at: start) }
        var value: Int64 = 0
        while i < range.upperBound {
            let c = base[i]
            guard c >= 48 && c <= 57 else { throw error("expected a whole number, found \(text(start..<position))", at: start) }
            let (m, o1) = value.multipliedReportingOverflow(by: 10)
            let (a, o2) = negative ? m.subtractingReportingOverflow(Int64(c - 48)) : m.addingReportingOverflow(Int64(c - 48))
            guard !o1 && !o2 else { throw error("whole number \(text(start..<position)) does not fit in 64 bits", at: start) }
            value = a
            i += 1
        }
        return value
    }

    /// An exact decimal: a string (Debezium's decimal.handling.mode=string, our trade prices)
    /// or a JSON number.
    mutating func decimal() throws(JSONError) -> FixedDecimal {
        let (start, range) = try numberText("a decimal number")
        guard let d = FixedDecimal.parse(UnsafeRawBufferPointer(start: base + range.lowerBound, count: range.count)) else {
            throw error("expected a decimal number of at most 38 digits, found \(text(start..<position))", at: start)
        }
        return d
    }

    /// Where a number starts and the range of its text: a JSON number, or the body of a string
    /// (numbers sent as strings are checked by the caller).
    private mutating func numberText(_ what: String) throws(JSONError) -> (start: Int, range: Range<Int>) {
        skipWhitespace()
        let start = position
        guard position < count && base[position] == UInt8(ascii: "\"") else { return (start, try numberToken()) }
        let (range, escaped) = try stringBody()
        guard !escaped else { throw error("expected \(what), found a string with escapes", at: start) }
        return (start, range)
    }

    /// Skips any value and returns the range of its text.
    @discardableResult
    mutating func skipValue() throws(JSONError) -> Range<Int> {
        skipWhitespace()
        let start = position
        try skip(depth: 0)
        return start..<position
    }

    private mutating func skip(depth: Int) throws(JSONError) {
        guard depth < Self.maxDepth else { throw error("nested deeper than \(Self.maxDepth) levels") }
        guard let c = peek() else { throw error("expected a value, found end of input") }
        switch c {
        case UInt8(ascii: "{"):
            position += 1
            var first = true
            let saved = lastKey
            while try nextKey(&first) != nil { try skip(depth: depth + 1) }
            lastKey = saved
        case UInt8(ascii: "["):
            position += 1
            if peek() == UInt8(ascii: "]") { position += 1; return }
            while true {
                try skip(depth: depth + 1)
                guard let d = peek() else { throw error("expected ',' or ']', found end of input") }
                position += 1
                if d == UInt8(ascii: "]") { return }
                guard d == UInt8(ascii: ",") else { position -= 1; throw error("expected ',' or ']', found \(found)") }
            }
        case UInt8(ascii: "\""):
            let (range, escaped) = try stringBody()
            if escaped { _ = try decodeEscapes(range) }
        case UInt8(ascii: "t"): try literal("true")
        case UInt8(ascii: "f"): try literal("false")
        case UInt8(ascii: "n"): try literal("null")
        case UInt8(ascii: "-"), 48...57: _ = try numberToken()
        default: throw error("expected a value, found \(found)")
        }
    }

    private mutating func literal(_ word: StaticString) throws(JSONError) {
        let n = word.utf8CodeUnitCount
        guard position + n <= count, (0..<n).allSatisfy({ base[position + $0] == word.utf8Start[$0] }) else {
            throw error("expected \(word), found \(found)")
        }
        position += n
    }

    /// The range of a JSON number (validated against the JSON grammar).
    private mutating func numberToken() throws(JSONError) -> Range<Int> {
        let start = position
        func digits() -> Int {
            let s = position
            while position < count, base[position] >= 48, base[position] <= 57 { position += 1 }
            return position - s
        }
        if position < count && base[position] == UInt8(ascii: "-") { position += 1 }
        let intStart = position
        let n = digits()
        guard n > 0 else { throw error("expected a number, found \(found)") }
        guard n == 1 || base[intStart] != 48 else { throw error("a number may not start with 0", at: intStart) }
        if position < count && base[position] == UInt8(ascii: ".") {
            position += 1
            guard digits() > 0 else { throw error("expected digits after '.', found \(found)") }
        }
        if position < count && (base[position] | 0x20) == UInt8(ascii: "e") {
            position += 1
            if position < count && (base[position] == UInt8(ascii: "+") || base[position] == UInt8(ascii: "-")) { position += 1 }
            guard digits() > 0 else { throw error("expected exponent digits, found \(found)") }
        }
        return start..<position
    }

    /// Consumes a string starting at its opening quote; returns the range between the quotes
    /// and whether it holds escapes. Control characters are refused as JSON requires.
    private mutating func stringBody() throws(JSONError) -> (Range<Int>, Bool) {
        let open = position
        position += 1
        let start = position
        var escaped = false
        while position < count {
            let c = base[position]
            if c == UInt8(ascii: "\"") {
                position += 1
                return (start..<position - 1, escaped)
            }
            if c == UInt8(ascii: "\\") {
                escaped = true
                position += 2
                continue
            }
            guard c >= 0x20 else { throw error("unescaped control character 0x\(String(c, radix: 16)) in a string") }
            position += 1
        }
        throw error("unterminated string", at: open)
    }

    /// The text of a string body that holds escapes, decoded and validated.
    private func decodeEscapes(_ range: Range<Int>) throws(JSONError) -> String {
        var out: [UInt8] = []
        out.reserveCapacity(range.count)
        var i = range.lowerBound
        func hex4(_ at: Int) throws(JSONError) -> UInt32 {
            guard at + 4 <= range.upperBound else { throw error("\\u needs four hex digits", at: at) }
            var v: UInt32 = 0
            for j in at..<at + 4 {
                let c = base[j]
                let d: UInt32
                switch c {
                case 48...57: d = UInt32(c - 48)
                case 65...70: d = UInt32(c - 55)
                case 97...102: d = UInt32(c - 87)
                default: throw error("\\u needs four hex digits", at: at)
                }
                v = v << 4 | d
            }
            return v
        }
        while i < range.upperBound {
            let c = base[i]
            guard c == UInt8(ascii: "\\") else { out.append(c); i += 1; continue }
            guard i + 1 < range.upperBound else { throw error("unfinished escape", at: i) }
            let e = base[i + 1]
            i += 2
            switch e {
            case UInt8(ascii: "\""): out.append(0x22)
            case UInt8(ascii: "\\"): out.append(0x5c)
            case UInt8(ascii: "/"): out.append(0x2f)
            case UInt8(ascii: "b"): out.append(0x08)
            case UInt8(ascii: "f"): out.append(0x0c)
            case UInt8(ascii: "n"): out.append(0x0a)
            case UInt8(ascii: "r"): out.append(0x0d)
            case UInt8(ascii: "t"): out.append(0x09)
            case UInt8(ascii: "u"):
                var scalar = try hex4(i)
                i += 4
                if (0xD800...0xDBFF).contains(scalar) {
                    guard i + 6 <= range.upperBound, base[i] == UInt8(ascii: "\\"), base[i + 1] == UInt8(ascii: "u") else {
                        throw error("lone UTF-16 surrogate in \\u escape", at: i - 6)
                    }
                    let low = try hex4(i + 2)
                    guard (0xDC00...0xDFFF).contains(low) else { throw error("lone UTF-16 surrogate in \\u escape", at: i - 6) }
                    scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                    i += 6
                } else if (0xDC00...0xDFFF).contains(scalar) {
                    throw error("lone UTF-16 surrogate in \\u escape", at: i - 6)
                }
                out.append(contentsOf: String(Character(Unicode.Scalar(scalar)!)).utf8)
            default:
                throw error("invalid escape '\\\(Character(Unicode.Scalar(e)))'", at: i - 2)
            }
        }
        guard let s = String(validating: out, as: UTF8.self) else { throw error("invalid UTF-8 in a string", at: range.lowerBound) }
        return s
    }
}
