import Diagnostics

/// ClickHouse SQL text: tokens, statement boundaries and quoting. Pure.
///
/// The HTTP interface runs one statement per request, so migration files are split here, on
/// `;` outside strings, quoted identifiers and comments.
public enum ClickHouseSQL {
    public struct Statement: Sendable, Equatable {
        /// The statement without the `;` and without leading comments.
        public var text: String
        /// 1-based line of its first token in the file.
        public var line: Int
    }

    /// Splits a script into statements. Comment-only pieces are dropped. Throws on an
    /// unterminated string, quoted identifier or block comment, naming its line.
    public static func split(_ script: String, file: String = "SQL") throws -> [Statement] {
        let tokens = try tokenize(script, file: file)
        var statements: [Statement] = []
        var first: Token?
        var last: Token?
        for token in tokens {
            if token.kind == .punct, token.text == ";" {
                if let first, let last {
                    statements.append(Statement(text: String(script[first.range.lowerBound..<last.range.upperBound]), line: first.line))
                }
                first = nil
                last = nil
            } else {
                if first == nil { first = token }
                last = token
            }
        }
        if let first, let last {
            statements.append(Statement(text: String(script[first.range.lowerBound..<last.range.upperBound]), line: first.line))
        }
        return statements
    }

    /// `name` as a backquoted identifier: safe for any name.
    public static func identifier(_ name: String) -> String {
        "`" + name.replacing("\\", with: "\\\\").replacing("`", with: "\\`") + "`"
    }

    /// `db.table`, each part quoted.
    public static func qualified(_ database: String?, _ table: String) -> String {
        (database.map { identifier($0) + "." } ?? "") + identifier(table)
    }

    /// A string literal.
    public static func literal(_ value: String) -> String {
        "'" + value.replacing("\\", with: "\\\\").replacing("'", with: "\\'") + "'"
    }

    /// Whitespace outside quotes removed: `Decimal(18,4)` and `Decimal(18, 4)` compare equal.
    public static func normalized(_ text: String) -> String {
        var out = ""
        var quote: Character?
        var escaped = false
        for ch in text {
            if let q = quote {
                out.append(ch)
                if escaped { escaped = false } else if ch == "\\" { escaped = true } else if ch == q { quote = nil }
            } else if ch == "'" || ch == "\"" || ch == "`" {
                quote = ch
                out.append(ch)
            } else if !ch.isWhitespace {
                out.append(ch)
            }
        }
        return out
    }

    // MARK: - Tokens

    public struct Token: Sendable, Equatable {
        public enum Kind: Sendable, Equatable {
            /// A bare word: keyword or identifier.
            case word
            /// `` `name` `` or `"name"`; `value` holds the name unescaped.
            case quotedIdentifier
            /// `'text'`; `value` holds the text unescaped.
            case string
            case number
            /// One character of punctuation or an operator.
            case punct
        }

        public var kind: Kind
        public var text: Substring
        public var value: String
        public var range: Range<String.Index>
        public var line: Int

        /// Upper-cased text of a bare word, for keyword checks.
        public var keyword: String? { kind == .word ? text.uppercased() : nil }
        /// The name of a bare or quoted identifier.
        public var name: String? { kind == .word || kind == .quotedIdentifier ? value : nil }
        func isPunct(_ p: String) -> Bool { kind == .punct && text == p }
    }

    /// Tokens of a script; comments and whitespace are skipped.
    public static func tokenize(_ s: String, file: String = "SQL") throws -> [Token] {
        var tokens: [Token] = []
        var i = s.startIndex
        var line = 1
        func unterminated(_ what: String, _ startLine: Int) -> CdcError {
            CdcError.invalid("unterminated \(what)", at: SourceLocation(file: file, line: startLine), subject: file,
                             fix: "close the \(what) that starts on line \(startLine)")
        }
        while i < s.endIndex {
            let c = s[i]
            let next = s.index(after: i) < s.endIndex ? s[s.index(after: i)] : nil
            if c == "\n" { line += 1; i = s.index(after: i); continue }
            if c.isWhitespace { i = s.index(after: i); continue }
            if c == "-" && next == "-" {
                while i < s.endIndex && s[i] != "\n" { i = s.index(after: i) }
                continue
            }
            if c == "/" && next == "*" {
                // ClickHouse allows nested block comments.
                let startLine = line
                var depth = 0
                repeat {
                    guard i < s.endIndex else { throw unterminated("comment", startLine) }
                    let n = s.index(after: i) < s.endIndex ? s[s.index(after: i)] : nil
                    if s[i] == "/" && n == "*" { depth += 1; i = s.index(i, offsetBy: 2) }
                    else if s[i] == "*" && n == "/" { depth -= 1; i = s.index(i, offsetBy: 2) }
                    else { if s[i] == "\n" { line += 1 }; i = s.index(after: i) }
                } while depth > 0
                continue
            }
            let start = i
            let startLine = line
            if c == "'" || c == "\"" || c == "`" {
                var value = ""
                i = s.index(after: i)
                var closed = false
                while i < s.endIndex {
                    let ch = s[i]
                    if ch == "\n" { line += 1 }
                    if ch == "\\" {
                        i = s.index(after: i)
                        guard i < s.endIndex else { break }
                        value.append(s[i])
                        if s[i] == "\n" { line += 1 }
                        i = s.index(after: i)
                        continue
                    }
                    if ch == c {
                        let after = s.index(after: i)
                        if after < s.endIndex && s[after] == c {  // doubled quote
                            value.append(c)
                            i = s.index(after: after)
                            continue
                        }
                        i = after
                        closed = true
                        break
                    }
                    value.append(ch)
                    i = s.index(after: i)
                }
                guard closed else { throw unterminated(c == "'" ? "string" : "quoted identifier", startLine) }
                tokens.append(Token(kind: c == "'" ? .string : .quotedIdentifier, text: s[start..<i], value: value,
                                    range: start..<i, line: startLine))
                continue
            }
            if c.isLetter || c == "_" {
                while i < s.endIndex && (s[i].isLetter || s[i].isNumber || s[i] == "_" || s[i] == "$") { i = s.index(after: i) }
                tokens.append(Token(kind: .word, text: s[start..<i], value: String(s[start..<i]), range: start..<i, line: startLine))
                continue
            }
            if c.isNumber {
                while i < s.endIndex && (s[i].isLetter || s[i].isNumber || s[i] == "_" || s[i] == ".") { i = s.index(after: i) }
                tokens.append(Token(kind: .number, text: s[start..<i], value: String(s[start..<i]), range: start..<i, line: startLine))
                continue
            }
            i = s.index(after: i)
            tokens.append(Token(kind: .punct, text: s[start..<i], value: String(c), range: start..<i, line: startLine))
        }
        return tokens
    }
}
