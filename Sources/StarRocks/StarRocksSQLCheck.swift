import Foundation
import Manifest

/// A structural check of the SQL `StarRocksSQL` writes, standing in for a StarRocks server that
/// cannot run here: balanced brackets and quotes, the statement shapes StarRocks documents, and
/// the links between a job and its table (jsonpaths count = source fields, every column of the
/// table derived once, `__op` present, the key columns first). Returns problems; empty = ok.
public enum StarRocksSQLCheck {
    public static func check(statements: [String], tables: [StarRocksTables.Table]) -> [String] {
        var problems: [String] = []
        for (i, s) in statements.enumerated() {
            let label = "statement \(i + 1)"
            if let p = balance(s) { problems.append("\(label): \(p)"); continue }
            let upper = s.uppercased()
            if upper.hasPrefix("CREATE TABLE") {
                problems += table(s, tables: tables).map { "\(label): \($0)" }
            } else if upper.hasPrefix("CREATE ROUTINE LOAD") {
                problems += routineLoad(s, tables: tables).map { "\(label): \($0)" }
            } else {
                problems.append("\(label): not a statement the StarRocks variant writes (CREATE TABLE, CREATE ROUTINE LOAD)")
            }
        }
        return problems
    }

    /// Unbalanced parentheses or an unterminated quote, outside string literals.
    static func balance(_ s: String) -> String? {
        var depth = 0
        var quote: Character? = nil
        var escaped = false
        for ch in s {
            if let q = quote {
                if escaped { escaped = false } else if ch == "\\" { escaped = true } else if ch == q { quote = nil }
                continue
            }
            switch ch {
            case "'", "\"", "`": quote = ch
            case "(": depth += 1
            case ")":
                depth -= 1
                if depth < 0 { return "')' without '('" }
            default: break
            }
        }
        if quote != nil { return "unterminated \(quote!) quote" }
        return depth == 0 ? nil : "\(depth) '(' without ')'"
    }

    /// The text inside the parentheses that follow `keyword` (outside quotes), or nil.
    static func group(after keyword: String, in s: String) -> String? {
        guard let k = s.range(of: keyword, options: [.caseInsensitive]) else { return nil }
        var i = k.upperBound
        while i < s.endIndex, s[i].isWhitespace { i = s.index(after: i) }
        guard i < s.endIndex, s[i] == "(" else { return nil }
        var depth = 0
        var quote: Character? = nil
        var start: String.Index? = nil
        var j = i
        while j < s.endIndex {
            let ch = s[j]
            if let q = quote {
                if ch == q { quote = nil }
            } else if ch == "'" || ch == "\"" || ch == "`" {
                quote = ch
            } else if ch == "(" {
                depth += 1
                if depth == 1 { start = s.index(after: j) }
            } else if ch == ")" {
                depth -= 1
                if depth == 0, let start { return String(s[start..<j]) }
            }
            j = s.index(after: j)
        }
        return nil
    }

    /// Splits on commas at depth 0, outside quotes; trims each part.
    static func topLevelSplit(_ s: String) -> [String] {
        var parts: [String] = []
        var current = ""
        var depth = 0
        var quote: Character? = nil
        for ch in s {
            if let q = quote {
                if ch == q { quote = nil }
            } else if ch == "'" || ch == "\"" || ch == "`" {
                quote = ch
            } else if ch == "(" {
                depth += 1
            } else if ch == ")" {
                depth -= 1
            } else if ch == "," && depth == 0 {
                parts.append(current.trimmingCharacters(in: .whitespacesAndNewlines))
                current = ""
                continue
            }
            current.append(ch)
        }
        let last = current.trimmingCharacters(in: .whitespacesAndNewlines)
        if !last.isEmpty { parts.append(last) }
        return parts
    }

    /// `"key" = "value"` pairs of a PROPERTIES (…) or FROM KAFKA (…) group.
    static func properties(_ group: String) -> [String: String]? {
        var out: [String: String] = [:]
        for part in topLevelSplit(group) {
            guard let m = part.wholeMatch(of: #/"([a-z_.]+)"\s*=\s*(?:"([^"]*)"|'([^']*)')/#) else { return nil }
            out[String(m.output.1)] = String(m.output.2 ?? m.output.3 ?? "")
        }
        return out
    }

    static func tableName(_ s: String, after keyword: String) -> String? {
        guard let k = s.range(of: keyword, options: .caseInsensitive) else { return nil }
        return s[k.upperBound...].split(whereSeparator: { $0.isWhitespace || $0 == "(" }).first.map(String.init)
    }

    static func table(_ s: String, tables: [StarRocksTables.Table]) -> [String] {
        var problems: [String] = []
        guard let name = tableName(s, after: "CREATE TABLE IF NOT EXISTS"), let layout = tables.first(where: { $0.name == name }) else {
            return ["CREATE TABLE IF NOT EXISTS <known table> expected"]
        }
        guard let body = group(after: name, in: s) else { return ["\(name): no column list"] }
        let columns = topLevelSplit(body).compactMap { $0.split(separator: " ").first.map(String.init) }
        if columns != layout.columns.map(\.name) {
            problems.append("\(name): columns \(columns) differ from the seed's \(layout.columns.map(\.name))")
        }
        if Array(columns.prefix(layout.key.count)) != layout.key {
            problems.append("\(name): a primary-key table lists its key columns \(layout.key) first")
        }
        guard let key = group(after: "PRIMARY KEY", in: s) else { return problems + ["\(name): no PRIMARY KEY (…)"] }
        if topLevelSplit(key) != layout.key { problems.append("\(name): PRIMARY KEY (\(key)) is not \(layout.key)") }
        guard let hash = group(after: "DISTRIBUTED BY HASH", in: s) else { return problems + ["\(name): no DISTRIBUTED BY HASH (…)"] }
        if !topLevelSplit(hash).allSatisfy(layout.key.contains) {
            problems.append("\(name): the distribution columns must be key columns")
        }
        if s.firstMatch(of: #/BUCKETS\s+[1-9][0-9]*/#) == nil { problems.append("\(name): BUCKETS N expected") }
        if let props = group(after: "PROPERTIES", in: s) {
            if properties(props) == nil { problems.append("\(name): PROPERTIES are not \"key\" = \"value\" pairs") }
        }
        for line in s.split(separator: "\n") where line.contains(" NOT NULL") {
            let column = line.trimmingCharacters(in: .whitespaces).split(separator: " ").first.map(String.init) ?? ""
            if !layout.key.contains(column) {
                problems.append("\(name): \(column) is NOT NULL, so a delete's row (before image) or a NULL would be rejected")
            }
        }
        return problems
    }

    static func routineLoad(_ s: String, tables: [StarRocksTables.Table]) -> [String] {
        var problems: [String] = []
        guard let m = s.firstMatch(of: #/CREATE ROUTINE LOAD\s+([A-Za-z_][A-Za-z0-9_.]*)\s+ON\s+([A-Za-z_][A-Za-z0-9_]*)/#),
              let layout = tables.first(where: { $0.name == String(m.output.2) }) else {
            return ["CREATE ROUTINE LOAD <job> ON <known table> expected"]
        }
        let name = String(m.output.2)
        guard let columnsGroup = group(after: "COLUMNS", in: s) else { return ["\(name): no COLUMNS (…)"] }
        let items = topLevelSplit(columnsGroup)
        let sourceFields = items.filter { !$0.contains("=") }
        var derived: [String: String] = [:]
        for item in items where item.contains("=") {
            let target = String(item.prefix { $0 != "=" }).trimmingCharacters(in: .whitespaces)
            if derived[target] != nil { problems.append("\(name): column \(target) derived twice") }
            derived[target] = String(item.drop { $0 != "=" }.dropFirst()).trimmingCharacters(in: .whitespaces)
        }
        for c in layout.columns where derived[c.name] == nil && !sourceFields.contains(c.name) {
            problems.append("\(name): column \(c.name) is never loaded")
        }
        for target in derived.keys where target != "__op" && !layout.columns.contains(where: { $0.name == target }) {
            problems.append("\(name): derives \(target), which the table does not have")
        }
        if derived["__op"] == nil { problems.append("\(name): no __op mapping, so deletes would be upserts") }
        for (target, expr) in derived {
            for field in expr.matches(of: #/[A-Za-z_][A-Za-z0-9_]*/#).map({ String($0.output) })
            where (field.hasPrefix(StarRocksSQL.afterPrefix) || field.hasPrefix(StarRocksSQL.beforePrefix) || field == StarRocksSQL.opField)
                && !sourceFields.contains(field) {
                problems.append("\(name): \(target) uses \(field), which is not a source field")
            }
        }
        guard let propsGroup = group(after: "PROPERTIES", in: s), let props = properties(propsGroup) else {
            return problems + ["\(name): PROPERTIES (\"key\" = \"value\", …) expected"]
        }
        if props["format"] != "json" { problems.append("\(name): format must be json") }
        if let jsonpaths = props["jsonpaths"] {
            if let data = jsonpaths.data(using: .utf8), let paths = try? JSONSerialization.jsonObject(with: data) as? [String] {
                if paths.count != sourceFields.count {
                    problems.append("\(name): \(paths.count) jsonpaths for \(sourceFields.count) source fields")
                }
                for p in paths where !p.hasPrefix("$.") { problems.append("\(name): jsonpath \(p) does not start at $.") }
            } else {
                problems.append("\(name): jsonpaths is not a JSON array of strings")
            }
        } else {
            problems.append("\(name): no jsonpaths")
        }
        for (key, range) in [("max_batch_interval", 5...60), ("desired_concurrent_number", 1...Int.max), ("max_error_number", 0...Int.max)] {
            if let v = props[key], Int(v).map(range.contains) != true { problems.append("\(name): \(key) = \(v) is out of range") }
        }
        guard let kafkaGroup = group(after: "FROM KAFKA", in: s), let kafka = properties(kafkaGroup) else {
            return problems + ["\(name): FROM KAFKA (\"key\" = \"value\", …) expected"]
        }
        for key in ["kafka_broker_list", "kafka_topic"] where (kafka[key] ?? "").isEmpty {
            problems.append("\(name): FROM KAFKA needs \(key)")
        }
        if let brokers = kafka["kafka_broker_list"], !brokers.split(separator: ",").allSatisfy({ $0.wholeMatch(of: #/[A-Za-z0-9_.-]+:[0-9]+/#) != nil }) {
            problems.append("\(name): kafka_broker_list '\(brokers)' is not host:port,…")
        }
        return problems
    }
}
