/// Prometheus text exposition (format 0.0.4), built up family by family. Pure: every collector
/// turns what it read into one of these, and the tests read the text back.
public struct Exposition: Sendable, Equatable {
    public private(set) var text = ""
    private var declared: Set<String> = []

    public init() {}

    /// `# HELP` and `# TYPE` once per family, then its samples (none is fine: the family is
    /// still declared, so a dashboard sees the name even before the first value).
    public mutating func family(_ name: String, _ type: String, _ help: String, _ samples: [([(String, String)], Double)]) {
        if declared.insert(name).inserted { text += "# HELP \(name) \(help)\n# TYPE \(name) \(type)\n" }
        for (labels, value) in samples { sample(name, labels, value) }
    }

    public mutating func gauge(_ name: String, _ help: String, _ samples: [([(String, String)], Double)]) {
        family(name, "gauge", help, samples)
    }

    public mutating func gauge(_ name: String, _ help: String, _ value: Double, labels: [(String, String)] = []) {
        family(name, "gauge", help, [(labels, value)])
    }

    public mutating func counter(_ name: String, _ help: String, _ samples: [([(String, String)], Double)]) {
        family(name, "counter", help, samples)
    }

    /// Text another module already renders in the same format (Reports' memory figures).
    public mutating func append(raw: String) {
        text += raw.hasSuffix("\n") || raw.isEmpty ? raw : raw + "\n"
    }

    mutating func sample(_ name: String, _ labels: [(String, String)], _ value: Double) {
        let l = labels.isEmpty ? "" : "{" + labels.map { "\($0.0)=\"\(Self.escape($0.1))\"" }.joined(separator: ",") + "}"
        text += "\(name)\(l) \(Self.format(value))\n"
    }

    public static func format(_ v: Double) -> String {
        if v.isNaN { return "NaN" }
        if v.isInfinite { return v > 0 ? "+Inf" : "-Inf" }
        if v == v.rounded(), abs(v) < 1e15 { return String(Int64(v)) }
        return String(v)
    }

    public static func escape(_ s: String) -> String {
        s.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"").replacingOccurrences(of: "\n", with: "\\n")
    }

    /// The metric names a text declares or samples (`# TYPE` lines and sample lines), for the
    /// tests that hold rules and dashboards to what is really exported.
    public static func names(in text: String) -> Set<String> {
        var out: Set<String> = []
        for line in text.split(separator: "\n") {
            if line.hasPrefix("# TYPE ") {
                let parts = line.split(separator: " ")
                if parts.count >= 3 { out.insert(String(parts[2])) }
            } else if !line.hasPrefix("#") {
                let name = line.prefix { $0 != "{" && $0 != " " }
                if !name.isEmpty { out.insert(String(name)) }
            }
        }
        return out
    }
}
