import Diagnostics
import Yams

/// Reads a YAML document into manifest types while keeping every field's file:line, reporting
/// unknown keys (with a suggestion) and wrong types, and collecting all problems instead of
/// stopping at the first. Yams' Codable decoder loses line numbers, hence this reader.
final class YAMLReader {
    let file: String
    private(set) var errors: [CdcError] = []
    /// Field path → where it was written; used by the semantic checks for their messages.
    private(set) var locations: [String: SourceLocation] = [:]

    /// Values for `${NAME}` / `${NAME:-default}` in manifest values (paths and addresses that
    /// differ per machine, like the testbed's). Secrets use `env:` references instead.
    let environment: [String: String]

    init(file: String, environment: [String: String]) {
        self.file = file
        self.environment = environment
    }

    func expand(_ text: String, _ node: Node, _ path: String) -> String {
        guard text.contains("${") else { return text }
        var out = ""
        var rest = Substring(text)
        while let start = rest.range(of: "${") {
            out += rest[..<start.lowerBound]
            guard let end = rest[start.upperBound...].firstIndex(of: "}") else {
                fail(node, path, "has an unclosed ${ in '\(text)'", fix: "write ${NAME} or ${NAME:-default}")
                return text
            }
            let body = String(rest[start.upperBound..<end])
            let parts = body.components(separatedBy: ":-")
            if let value = environment[parts[0]], !value.isEmpty {
                out += value
            } else if parts.count > 1 {
                out += parts.dropFirst().joined(separator: ":-")
            } else {
                fail(node, path, "uses ${\(parts[0])}, which is not set in the environment",
                     fix: "export \(parts[0]) or write ${\(parts[0]):-default}")
            }
            rest = rest[rest.index(after: end)...]
        }
        return out + rest
    }

    func location(_ node: Node) -> SourceLocation? {
        node.mark.map { SourceLocation(file: file, line: $0.line, column: $0.column) }
    }

    func fail(_ node: Node?, _ path: String, _ message: String, fix: String? = nil) {
        errors.append(.invalid(message, at: node.flatMap(location), subject: path,
                               fix: fix ?? "see manifests/default.yaml for this field's form and default"))
    }

    func fail(at location: SourceLocation, _ path: String, _ message: String, fix: String) {
        errors.append(.invalid(message, at: location, subject: path, fix: fix))
    }

    func record(_ path: String, _ node: Node) {
        if let loc = location(node) { locations[path] = loc }
    }

    /// Opens a mapping node (or an empty one when the key was absent).
    func fields(_ node: Node?, _ path: String) -> Fields {
        guard let node else { return Fields(reader: self, path: path, node: nil, pairs: []) }
        record(path, node)
        switch node {
        case .mapping(let mapping):
            var pairs: [(String, Node, Node)] = []
            for (key, value) in mapping {
                pairs.append((key.string ?? "\(key)", key, value))
            }
            return Fields(reader: self, path: path, node: node, pairs: pairs)
        case .scalar(let s) where s.string.isEmpty || s.string == "~" || s.string == "null":
            return Fields(reader: self, path: path, node: node, pairs: [])
        default:
            fail(node, path, "expected a mapping (key: value lines), found \(describe(node))")
            return Fields(reader: self, path: path, node: nil, pairs: [])
        }
    }

    func describe(_ node: Node) -> String {
        switch node {
        case .scalar(let s): "the value '\(s.string)'"
        case .sequence: "a list"
        case .mapping: "a mapping"
        case .alias: "an alias"
        }
    }
}

/// One mapping being read. Call `finish()` after reading every known key so the rest are
/// reported as unknown.
final class Fields {
    let reader: YAMLReader
    let path: String
    let node: Node?
    private let pairs: [(String, Node, Node)]
    private var known: [String] = []

    init(reader: YAMLReader, path: String, node: Node?, pairs: [(String, Node, Node)]) {
        self.reader = reader
        self.path = path
        self.node = node
        self.pairs = pairs
        var seen: Set<String> = []
        for (name, keyNode, _) in pairs where !seen.insert(name).inserted {
            reader.fail(keyNode, sub(name), "is set twice in this mapping", fix: "keep one '\(name):' line")
        }
    }


    func sub(_ key: String) -> String { path.isEmpty ? key : "\(path).\(key)" }

    func value(_ key: String) -> Node? {
        known.append(key)
        guard let node = pairs.first(where: { $0.0 == key })?.2 else { return nil }
        reader.record(sub(key), node)
        return node
    }

    private func scalar(_ key: String, expected: String) -> (Node, String)? {
        guard let node = value(key) else { return nil }
        guard case .scalar(let s) = node else {
            reader.fail(node, sub(key), "expected \(expected), found \(reader.describe(node))")
            return nil
        }
        return (node, reader.expand(s.string, node, sub(key)))
    }

    func string(_ key: String, default def: String) -> String {
        guard let (_, text) = scalar(key, expected: "a string") else { return def }
        return text
    }

    func optionalString(_ key: String) -> String? {
        scalar(key, expected: "a string")?.1
    }

    func int(_ key: String, default def: Int) -> Int {
        guard let (node, text) = scalar(key, expected: "a whole number") else { return def }
        let cleaned = text.replacing("_", with: "")
        guard let value = Int(cleaned) else {
            reader.fail(node, sub(key), "expected a whole number, found '\(text)'", fix: "write digits only, e.g. \(key): \(def)")
            return def
        }
        return value
    }

    func double(_ key: String, default def: Double) -> Double {
        guard let (node, text) = scalar(key, expected: "a number") else { return def }
        guard let value = Double(text), value.isFinite else {
            reader.fail(node, sub(key), "expected a number, found '\(text)'", fix: "e.g. \(key): \(def)")
            return def
        }
        return value
    }

    func bool(_ key: String, default def: Bool) -> Bool {
        guard let (node, text) = scalar(key, expected: "true or false") else { return def }
        switch text.lowercased() {
        case "true", "yes", "on": return true
        case "false", "no", "off": return false
        default:
            reader.fail(node, sub(key), "expected true or false, found '\(text)'")
            return def
        }
    }

    /// A memory size: a number of MiB, or a number with a unit (k, m, g; KiB, MiB, GiB; KB, MB, GB).
    func memoryMiB(_ key: String, default def: Int) -> Int {
        guard let (node, text) = scalar(key, expected: "a memory size") else { return def }
        guard let mib = MemorySize.parseMiB(text) else {
            reader.fail(node, sub(key), "expected a memory size such as 768m, 1g or 512MiB, found '\(text)'",
                        fix: "use a whole number followed by m or g (MiB/GiB)")
            return def
        }
        return mib
    }

    /// One of a fixed set of words.
    func choice(_ key: String, _ allowed: [String], default def: String) -> String {
        guard let (node, text) = scalar(key, expected: "one of \(allowed.joined(separator: ", "))") else { return def }
        guard allowed.contains(text) else {
            reader.fail(node, sub(key), "expected one of \(allowed.joined(separator: ", ")), found '\(text)'",
                        fix: suggestion(text, allowed).map { "did you mean '\($0)'?" })
            return def
        }
        return text
    }

    func object<T>(_ key: String, _ read: (Fields) -> T) -> T {
        let f = reader.fields(value(key), sub(key))
        let result = read(f)
        f.finish()
        return result
    }

    /// A list; each element is read by `read` with its own path (`kafka.topics[2]`).
    func list<T>(_ key: String, default def: [T] = [], _ read: (Node, String) -> T?) -> [T] {
        guard let node = value(key) else { return def }
        guard case .sequence(let seq) = node else {
            if case .scalar(let s) = node, s.string.isEmpty || s.string == "~" || s.string == "null" { return [] }
            reader.fail(node, sub(key), "expected a list (lines starting with '- '), found \(reader.describe(node))")
            return def
        }
        var out: [T] = []
        for (i, element) in seq.enumerated() {
            let p = "\(sub(key))[\(i)]"
            reader.record(p, element)
            if let v = read(element, p) { out.append(v) }
        }
        return out
    }

    func objects<T>(_ key: String, default def: [T] = [], _ read: (Fields) -> T) -> [T] {
        list(key, default: def) { node, path in
            let f = reader.fields(node, path)
            let v = read(f)
            f.finish()
            return v
        }
    }

    func strings(_ key: String, default def: [String]) -> [String] {
        list(key, default: def) { node, path in
            guard case .scalar(let s) = node else {
                reader.fail(node, path, "expected a string, found \(reader.describe(node))")
                return nil
            }
            return reader.expand(s.string, node, path)
        }
    }

    /// A free-form `key: value` map (e.g. extra Kafka topic configs), kept in file order.
    func stringMap(_ key: String) -> [KeyValue] {
        guard let node = value(key) else { return [] }
        guard case .mapping(let mapping) = node else {
            reader.fail(node, sub(key), "expected a mapping of settings, found \(reader.describe(node))")
            return []
        }
        var out: [KeyValue] = []
        for (k, v) in mapping {
            let name = k.string ?? "\(k)"
            guard case .scalar(let s) = v else {
                reader.fail(v, "\(sub(key)).\(name)", "expected a plain value, found \(reader.describe(v))")
                continue
            }
            reader.record("\(sub(key)).\(name)", v)
            out.append(KeyValue(key: name, value: reader.expand(s.string, v, "\(sub(key)).\(name)")))
        }
        return out
    }

    /// Reports keys nobody asked for, with the closest known key as a hint.
    func finish() {
        for (name, keyNode, _) in pairs where !known.contains(name) {
            let hint = suggestion(name, known).map { "did you mean '\($0)'?" }
                ?? "known keys here: \(known.joined(separator: ", "))"
            reader.fail(keyNode, sub(name), "unknown key", fix: hint)
        }
    }
}

public struct KeyValue: Sendable, Equatable, Codable {
    public var key: String
    public var value: String
    public init(key: String, value: String) { self.key = key; self.value = value }
}

/// Closest candidate by edit distance, if it is close enough to be a plausible typo.
func suggestion(_ word: String, _ candidates: [String]) -> String? {
    let scored = candidates.map { ($0, editDistance(word.lowercased(), $0.lowercased())) }
    guard let best = scored.min(by: { $0.1 < $1.1 }), best.1 <= max(2, word.count / 3) else { return nil }
    return best.0
}

func editDistance(_ a: String, _ b: String) -> Int {
    let a = Array(a), b = Array(b)
    if a.isEmpty { return b.count }
    if b.isEmpty { return a.count }
    var previous = Array(0...b.count)
    for i in 1...a.count {
        var current = [i] + Array(repeating: 0, count: b.count)
        for j in 1...b.count {
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
        }
        previous = current
    }
    return previous[b.count]
}

public enum MemorySize {
    /// Parses `768`, `768m`, `768MiB`, `1g`, `1.5g`, `1GiB`, `512MB` into MiB (decimal units are
    /// treated as binary, as Docker does).
    public static func parseMiB(_ text: String) -> Int? {
        let t = text.trimmingSpaces().lowercased()
        let digits = t.prefix { $0.isNumber || $0 == "." }
        guard !digits.isEmpty, let number = Double(digits), number > 0 else { return nil }
        let unit = t.dropFirst(digits.count).trimmingSpaces()
        let factor: Double
        switch unit {
        case "", "m", "mb", "mib": factor = 1
        case "g", "gb", "gib": factor = 1024
        case "k", "kb", "kib": factor = 1.0 / 1024
        default: return nil
        }
        let mib = number * factor
        guard mib >= 1, mib == mib.rounded() else { return nil }
        return Int(mib)
    }

    public static func format(_ mib: Int) -> String {
        mib % 1024 == 0 ? "\(mib / 1024)g" : "\(mib)m"
    }
}

extension StringProtocol {
    func trimmingSpaces() -> String {
        var s = Substring(self)
        while let f = s.first, f.isWhitespace { s = s.dropFirst() }
        while let l = s.last, l.isWhitespace { s = s.dropLast() }
        return String(s)
    }
}

/// Finds the line a YAML indentation error is really about. A key indented less than the keys
/// after it (`secrets:` / ` a: 1` / `  b: 2`) sets its mapping's indentation, so the parser only
/// fails at the next, correctly indented line; the user wants to hear about the dedented one.
enum Indentation {
    struct Misaligned: Equatable {
        var line: Int, key: String, column: Int
        var nextLine: Int, nextKey: String, nextColumn: Int
    }

    static let problems = ["did not find expected key", "mapping values are not allowed", "did not find expected '-' indicator"]

    static func misalignedKey(_ text: String, problem: String, errorLine: Int) -> Misaligned? {
        guard problems.contains(where: problem.contains) else { return nil }
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        /// Leading spaces of a line holding YAML content (not blank, not only a comment).
        func indent(_ n: Int) -> Int? {
            guard n >= 1, n <= lines.count else { return nil }
            let line = lines[n - 1]
            let body = line.drop { $0 == " " }
            if body.isEmpty || body.first == "#" || body.allSatisfy(\.isWhitespace) { return nil }
            return line.count - body.count
        }
        func isListItem(_ n: Int) -> Bool { lines[n - 1].drop { $0 == " " }.hasPrefix("- ") }
        /// Where a line's key starts: after `- ` on a list item.
        func keyColumn(_ n: Int) -> Int {
            let line = lines[n - 1]
            var body = line.drop { $0 == " " }
            while body.hasPrefix("- ") { body = body.dropFirst(2).drop { $0 == " " } }
            return line.count - body.count
        }
        func key(_ n: Int) -> String {
            String(lines[n - 1].dropFirst(keyColumn(n)).prefix { $0 != ":" }).trimmingSpaces()
        }
        func isOpener(_ n: Int) -> Bool {
            var body = lines[n - 1].trimmingSpaces()
            if let hash = body.range(of: " #") { body = String(body[..<hash.lowerBound]).trimmingSpaces() }
            return body.hasSuffix(":")
        }
        func previous(_ n: Int, atMost level: Int) -> Int {
            var p = n - 1
            while p >= 1 && (indent(p).map { $0 > level } ?? true) { p -= 1 }
            return p
        }
        func adjacent(_ a: Int, _ b: Int) -> Bool { (a + 1..<b).allSatisfy { indent($0) == nil } }
        let l = errorLine
        guard let iL = indent(l), !isListItem(l) else { return nil }
        // The suspect: the nearest line above at the error line's level or shallower.
        let p = previous(l, atMost: iL)
        guard p >= 1, var iP = indent(p), iP < iL else { return nil }
        if isListItem(p) {
            // `- name: a` right above `    key: b`: the item's keys must line up too.
            iP = keyColumn(p)
            guard adjacent(p, l), iP < iL else { return nil }
        }
        func misaligned(_ line: Int, _ column: Int) -> Misaligned {
            Misaligned(line: line, key: key(line), column: column + 1, nextLine: l, nextKey: key(l), nextColumn: iL + 1)
        }
        var n = l + 1
        while n <= lines.count && indent(n) == nil { n += 1 }
        // The error line has company at its indentation below it (a `key:` line followed by its
        // own level is more likely over-indented itself).
        let companyBelow = indent(n) == iL && !isOpener(l)
        let s = previous(p, atMost: max(iL, iP))
        // The suspect follows a `key:` at its own indentation, leaving that key empty: it was
        // meant to be the first key under it.
        let meantAsChild = s >= 1 && indent(s) == iP && adjacent(s, p) && isOpener(s)
        // Only the suspect is off the two-space grid the shipped manifests use.
        let offGrid = iP % 2 != 0 && iL % 2 == 0
        // A line at the error line's indentation right before the suspect: it interrupts their mapping.
        let siblingRightBefore = s >= 1 && indent(s) == iL && adjacent(s, p)
        let between = (p + 1..<l).filter { indent($0) != nil }
        if between.isEmpty {
            // Directly above the error line, a `key:` opens the error line's mapping: not this case.
            if isOpener(p) { return nil }
            return companyBelow || meantAsChild || offGrid || siblingRightBefore ? misaligned(p, iP) : nil
        }
        guard isOpener(p) else { return nil }
        if between.count == 1, companyBelow {
            // `source:` / `    engine: mysql` / `  image: …`: the first key under it is over-indented.
            return misaligned(between[0], indent(between[0]) ?? 0)
        }
        // A `key:` with its block, dedented out of the mapping around it (`  brokers: 3` /
        // `defaults:` / `    partitions: 3` / `  topics:`).
        return between.count > 1 && (siblingRightBefore || meantAsChild || offGrid) ? misaligned(p, iP) : nil
    }
}
