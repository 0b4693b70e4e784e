/// PostgreSQL's text form of a one-dimensional array (`{"a","b",NULL}`), so a whole batch goes
/// as one parameter per column of an `unnest(...)`: a constant number of parameters whatever
/// the batch size.
public enum PostgresArray {
    public static func literal(_ values: [String?]) -> String {
        var out = "{"
        for (i, v) in values.enumerated() {
            if i > 0 { out += "," }
            guard let v else { out += "NULL"; continue }
            out += "\""
            for ch in v.unicodeScalars {
                if ch == "\"" || ch == "\\" { out += "\\" }
                out.unicodeScalars.append(ch)
            }
            out += "\""
        }
        return out + "}"
    }

    public static func literal(_ values: [Int64]) -> String { "{" + values.map(String.init).joined(separator: ",") + "}" }
    public static func literal(_ values: [Int32]) -> String { "{" + values.map(String.init).joined(separator: ",") + "}" }

    /// bytea's hex input form (`\x0a1b`), for record keys and values that may not be UTF-8.
    public static func hex(_ bytes: [UInt8]?) -> String? {
        guard let bytes else { return nil }
        let digits = Array("0123456789abcdef".utf8)
        var out: [UInt8] = [UInt8(ascii: "\\"), UInt8(ascii: "x")]
        out.reserveCapacity(2 + bytes.count * 2)
        for b in bytes { out.append(digits[Int(b >> 4)]); out.append(digits[Int(b & 15)]) }
        return String(decoding: out, as: UTF8.self)
    }
}
