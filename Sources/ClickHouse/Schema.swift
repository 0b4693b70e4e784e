import Diagnostics

/// A column as `system.columns` shows it.
public struct ColumnSchema: Sendable, Equatable, Codable {
    public var name: String
    /// nil when a statement left the type to the server (`x DEFAULT 0`).
    public var type: String?
    /// `DEFAULT`, `MATERIALIZED`, `ALIAS`, `EPHEMERAL` or "".
    public var defaultKind: String
    public var defaultExpression: String

    public init(name: String, type: String?, defaultKind: String = "", defaultExpression: String = "") {
        self.name = name
        self.type = type
        self.defaultKind = defaultKind
        self.defaultExpression = defaultExpression
    }
}

/// A table (or view) as `system.tables` and `system.columns` show it.
public struct TableSchema: Sendable, Equatable, Codable {
    public var database: String
    public var name: String
    /// `ReplacingMergeTree`, `MaterializedView`…; nil when a statement does not say.
    public var engine: String?
    /// nil when the columns cannot be known from the statement (views, `CREATE TABLE … AS`).
    public var columns: [ColumnSchema]?

    public init(database: String, name: String, engine: String?, columns: [ColumnSchema]?) {
        self.database = database
        self.name = name
        self.engine = engine
        self.columns = columns
    }
}

/// The tables a sequence of DDL statements produces, computed without a server: CREATE / DROP /
/// RENAME / EXCHANGE tables and ALTER TABLE … ADD / DROP / MODIFY / RENAME COLUMN. Statements
/// that do not change tables or columns (INSERT, MODIFY TTL, ADD INDEX …) leave it as it is.
///
/// Types and defaults are kept as written; compare them with `ClickHouseSQL.normalized`, and write
/// them in the spelling the server reports (`Decimal(18, 4)`, not `DECIMAL(18,4)` or `Decimal64(4)`).
public struct SchemaModel: Sendable, Equatable {
    public private(set) var tables: [TableSchema] = []

    public init() {}

    public func table(_ database: String, _ name: String) -> TableSchema? {
        tables.first { $0.database == database && $0.name == name }
    }

    /// Applies one statement; unqualified names are in `database`.
    public mutating func apply(_ statement: String, database: String) throws {
        var p = Parser(tokens: try ClickHouseSQL.tokenize(statement), database: database)
        switch p.keyword() {
        case "CREATE", "ATTACH":
            create(&p)
        case "DROP", "DETACH":
            drop(&p)
        case "RENAME":
            rename(&p)
        case "EXCHANGE":
            exchange(&p)
        case "ALTER":
            alter(&p)
        default:
            break
        }
    }

    private func index(_ name: (String, String)) -> Int? {
        tables.firstIndex { $0.database == name.0 && $0.name == name.1 }
    }

    private mutating func create(_ p: inout Parser) {
        var replace = false
        if p.accept("OR") { _ = p.accept("REPLACE"); replace = true }
        if p.accept("REPLACE") { replace = true }
        _ = p.accept("TEMPORARY")
        var engine: String?
        var columnsKnown = true
        if p.accept("TABLE") {
        } else if p.accept("MATERIALIZED") || p.accept("LIVE") || p.accept("WINDOW") {
            guard p.accept("VIEW") else { return }
            engine = "MaterializedView"
            columnsKnown = false
        } else if p.accept("VIEW") {
            engine = "View"
            columnsKnown = false
        } else if p.accept("DICTIONARY") {
            engine = "Dictionary"
            columnsKnown = false
        } else {
            return  // DATABASE, USER, FUNCTION …
        }
        let ifNotExists = p.accept("IF") && p.accept("NOT") && p.accept("EXISTS")
        guard let name = p.qualifiedName() else { return }
        if ifNotExists, index(name) != nil { return }
        var columns: [ColumnSchema]?
        if columnsKnown {
            p.skipClauses(until: ["("], stopAt: ["AS", "ENGINE"])
            if p.peek?.isPunct("(") == true, let elements = p.parenthesized() {
                columns = elements.compactMap { Self.column($0) }
            }
        }
        if engine == nil, p.seek(keyword: "ENGINE") {
            _ = p.acceptPunct("=")
            engine = p.next()?.name
        }
        let table = TableSchema(database: name.0, name: name.1, engine: engine, columns: columns)
        if let i = index(name) {
            if replace { tables[i] = table }
        } else {
            tables.append(table)
        }
    }

    private mutating func drop(_ p: inout Parser) {
        if p.accept("DATABASE") {
            _ = p.accept("IF") && p.accept("EXISTS")
            if let db = p.next()?.name { tables.removeAll { $0.database == db } }
            return
        }
        _ = p.accept("TEMPORARY")
        guard p.accept("TABLE") || p.accept("VIEW") || p.accept("DICTIONARY") else { return }
        _ = p.accept("IF") && p.accept("EXISTS")
        while let name = p.qualifiedName() {
            if let i = index(name) { tables.remove(at: i) }
            guard p.acceptPunct(",") else { break }
        }
    }

    private mutating func rename(_ p: inout Parser) {
        guard p.accept("TABLE") || p.accept("DICTIONARY") else { return }
        repeat {
            guard let from = p.qualifiedName(), p.accept("TO"), let to = p.qualifiedName() else { return }
            if let i = index(from) { tables[i].database = to.0; tables[i].name = to.1 }
        } while p.acceptPunct(",")
    }

    private mutating func exchange(_ p: inout Parser) {
        guard p.accept("TABLES") || p.accept("DICTIONARIES"), let a = p.qualifiedName(), p.accept("AND"),
              let b = p.qualifiedName(), let i = index(a), let j = index(b) else { return }
        (tables[i].database, tables[i].name, tables[j].database, tables[j].name) = (b.0, b.1, a.0, a.1)
    }

    private mutating func alter(_ p: inout Parser) {
        guard p.accept("TABLE"), let name = p.qualifiedName(), let t = index(name) else { return }
        if p.accept("ON") { _ = p.accept("CLUSTER"); _ = p.next() }
        for action in p.commaSeparatedRest() {
            var a = Parser(tokens: action, database: name.0)
            let verb = a.keyword()
            guard a.accept("COLUMN") else { continue }
            var columns = tables[t].columns ?? []
            switch verb {
            case "ADD":
                _ = a.accept("IF") && a.accept("NOT") && a.accept("EXISTS")
                // An existing column is kept (IF NOT EXISTS), or the server refuses the statement.
                guard let column = Self.column(Array(a.rest)), !columns.contains(where: { $0.name == column.name }) else { continue }
                let rest = Array(a.rest)
                if let first = rest.firstIndex(where: { $0.keyword == "FIRST" }), first > 0 {
                    columns.insert(column, at: 0)
                } else if let after = rest.firstIndex(where: { $0.keyword == "AFTER" }), after + 1 < rest.count,
                          let anchor = rest[after + 1].name, let at = columns.firstIndex(where: { $0.name == anchor }) {
                    columns.insert(column, at: at + 1)
                } else {
                    columns.append(column)
                }
            case "DROP":
                _ = a.accept("IF") && a.accept("EXISTS")
                if let column = a.next()?.name { columns.removeAll { $0.name == column } }
            case "RENAME":
                _ = a.accept("IF") && a.accept("EXISTS")
                guard let from = a.next()?.name, a.accept("TO"), let to = a.next()?.name,
                      let i = columns.firstIndex(where: { $0.name == from }) else { continue }
                columns[i].name = to
            case "MODIFY":
                _ = a.accept("IF") && a.accept("EXISTS")
                guard let changed = Self.column(Array(a.rest)),
                      let i = columns.firstIndex(where: { $0.name == changed.name }) else { continue }
                if let type = changed.type { columns[i].type = type }
                if !changed.defaultKind.isEmpty {
                    columns[i].defaultKind = changed.defaultKind
                    columns[i].defaultExpression = changed.defaultExpression
                }
                if a.rest.contains(where: { $0.keyword == "REMOVE" }) {
                    columns[i].defaultKind = ""
                    columns[i].defaultExpression = ""
                }
            default:
                continue
            }
            if tables[t].columns != nil { tables[t].columns = columns }
        }
    }

    /// Keywords that end a column's type or default expression.
    static let columnClauses: Set<String> = ["DEFAULT", "MATERIALIZED", "ALIAS", "EPHEMERAL", "COMMENT", "CODEC", "TTL",
                                             "NULL", "NOT", "PRIMARY", "SETTINGS", "STATISTICS", "FIRST", "AFTER", "REMOVE"]
    static let defaultKinds: Set<String> = ["DEFAULT", "MATERIALIZED", "ALIAS", "EPHEMERAL"]

    /// One element of a column list; nil for INDEX, PROJECTION, CONSTRAINT and PRIMARY KEY.
    static func column(_ tokens: [ClickHouseSQL.Token]) -> ColumnSchema? {
        guard let first = tokens.first, let name = first.name else { return nil }
        if ["INDEX", "PROJECTION", "CONSTRAINT", "PRIMARY"].contains(first.keyword ?? "") && tokens.count > 1
            && tokens[1].kind != .punct { return nil }
        var i = 1
        func span(_ from: Int, _ to: Int) -> String? {
            guard from < to else { return nil }
            let text = tokens[from].text.base
            return String(text[tokens[from].range.lowerBound..<tokens[to - 1].range.upperBound])
        }
        // The type: up to the first clause keyword outside parentheses.
        var depth = 0
        let typeStart = i
        while i < tokens.count {
            let t = tokens[i]
            if t.isPunct("(") { depth += 1 } else if t.isPunct(")") { depth -= 1 }
            if depth == 0, let k = t.keyword, columnClauses.contains(k) { break }
            i += 1
        }
        var type = span(typeStart, i)
        if i + 1 < tokens.count, tokens[i].keyword == "NOT", tokens[i + 1].keyword == "NULL" {
            i += 2
        } else if i < tokens.count, tokens[i].keyword == "NULL" {
            type = type.map { "Nullable(\($0))" }
            i += 1
        }
        var kind = ""
        var expression = ""
        if i < tokens.count, let k = tokens[i].keyword, defaultKinds.contains(k) {
            kind = k
            i += 1
            let start = i
            depth = 0
            while i < tokens.count {
                let t = tokens[i]
                if t.isPunct("(") { depth += 1 } else if t.isPunct(")") { depth -= 1 }
                if depth == 0, let k = t.keyword, ["COMMENT", "CODEC", "TTL", "PRIMARY", "SETTINGS", "FIRST", "AFTER", "STATISTICS"].contains(k) { break }
                i += 1
            }
            expression = span(start, i) ?? ""
        }
        return ColumnSchema(name: name, type: type, defaultKind: kind, defaultExpression: expression)
    }
}

/// A cursor over one statement's tokens.
struct Parser {
    let tokens: [ClickHouseSQL.Token]
    let database: String
    var position = 0

    init(tokens: [ClickHouseSQL.Token], database: String) {
        self.tokens = tokens
        self.database = database
    }

    var peek: ClickHouseSQL.Token? { position < tokens.count ? tokens[position] : nil }
    var rest: ArraySlice<ClickHouseSQL.Token> { tokens[min(position, tokens.count)...] }

    mutating func next() -> ClickHouseSQL.Token? {
        defer { position += 1 }
        return peek
    }

    mutating func keyword() -> String? { next()?.keyword }

    mutating func accept(_ keyword: String) -> Bool {
        guard peek?.keyword == keyword else { return false }
        position += 1
        return true
    }

    mutating func acceptPunct(_ p: String) -> Bool {
        guard peek?.isPunct(p) == true else { return false }
        position += 1
        return true
    }

    /// `db.name` or `name` (in the parser's database).
    mutating func qualifiedName() -> (String, String)? {
        guard let first = peek?.name else { return nil }
        position += 1
        if acceptPunct("."), let second = next()?.name { return (first, second) }
        return (database, first)
    }

    /// Skips tokens until one of `targets` (punctuation) or a keyword in `stopAt`, at depth 0.
    mutating func skipClauses(until targets: Set<String>, stopAt: Set<String>) {
        while let t = peek {
            if t.kind == .punct, targets.contains(String(t.text)) { return }
            if let k = t.keyword, stopAt.contains(k) { return }
            position += 1
        }
    }

    /// Reads `( … )` and returns its top-level comma-separated elements.
    mutating func parenthesized() -> [[ClickHouseSQL.Token]]? {
        guard acceptPunct("(") else { return nil }
        var elements: [[ClickHouseSQL.Token]] = [[]]
        var depth = 1
        while let t = next() {
            if t.isPunct("(") { depth += 1 }
            if t.isPunct(")") { depth -= 1; if depth == 0 { break } }
            if depth == 1 && t.isPunct(",") { elements.append([]); continue }
            elements[elements.count - 1].append(t)
        }
        return elements.filter { !$0.isEmpty }
    }

    /// The remaining tokens split on top-level commas.
    mutating func commaSeparatedRest() -> [[ClickHouseSQL.Token]] {
        var parts: [[ClickHouseSQL.Token]] = [[]]
        var depth = 0
        while let t = next() {
            if t.isPunct("(") { depth += 1 } else if t.isPunct(")") { depth -= 1 }
            if depth == 0 && t.isPunct(",") { parts.append([]); continue }
            parts[parts.count - 1].append(t)
        }
        return parts.filter { !$0.isEmpty }
    }

    /// Moves past the next top-level `keyword`; false (and at the end) when there is none.
    mutating func seek(keyword: String) -> Bool {
        var depth = 0
        while let t = next() {
            if t.isPunct("(") { depth += 1 } else if t.isPunct(")") { depth -= 1 }
            if depth == 0 && t.keyword == keyword { return true }
        }
        return false
    }
}
