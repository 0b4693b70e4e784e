/// The one error type cdcctl reports: what failed, where, what was expected and how to fix it.
///
/// Every module throws this (or a list of them) so the command line can print one consistent
/// message and pick the exit code from `kind`.
public struct CdcError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Kind: String, Sendable, Codable {
        /// Bad manifest, flag or argument: exit 2.
        case invalidInput
        /// The operation ran and failed (server error, I/O): exit 1.
        case operationFailed
        /// The cluster is reachable but unhealthy or drifted: exit 3.
        case unhealthy
    }

    public var kind: Kind
    /// File, line and column when the problem is in a file.
    public var location: SourceLocation?
    /// Field path (`kafka.topics[2].replicationFactor`), flag (`--timeout`) or service name.
    public var subject: String?
    public var message: String
    /// How to fix it, as an instruction.
    public var fix: String?
    /// The server did not answer (yet): the same request may succeed later. Set by the adapter
    /// that knows (a Kafka transport error, a refused connection, HTTP 503); waits retry only these.
    public var isTransient: Bool

    public init(_ kind: Kind, _ message: String, at location: SourceLocation? = nil,
                subject: String? = nil, fix: String? = nil, transient: Bool = false) {
        self.kind = kind
        self.location = location
        self.subject = subject
        self.message = message
        self.fix = fix
        self.isTransient = transient
    }

    public static func invalid(_ message: String, at location: SourceLocation? = nil,
                               subject: String? = nil, fix: String? = nil) -> CdcError {
        CdcError(.invalidInput, message, at: location, subject: subject, fix: fix)
    }

    public static func failed(_ message: String, subject: String? = nil, fix: String? = nil, transient: Bool = false) -> CdcError {
        CdcError(.operationFailed, message, subject: subject, fix: fix, transient: transient)
    }

    /// Any error as cdcctl reports it: a `CdcError` as it is, an adapter's typed error through
    /// `CdcErrorConvertible`, anything else as an operation failure with its description.
    public static func bridging(_ error: any Error) -> CdcError {
        switch error {
        case let e as CdcError: e
        case let e as any CdcErrorConvertible: e.cdcError
        case let e as CdcErrors where e.errors.count == 1: e.errors[0]
        case let e as CdcErrors: CdcError(e.exitCode == 2 ? .invalidInput : e.exitCode == 3 ? .unhealthy : .operationFailed,
                                          e.description)
        default: CdcError.failed(String(describing: error))
        }
    }

    public var exitCode: Int32 {
        switch kind {
        case .invalidInput: 2
        case .operationFailed: 1
        case .unhealthy: 3
        }
    }

    /// `cdcctl.yaml:14 kafka.topics[2].replicationFactor: 4 exceeds the 3 brokers (fix: …)`
    public var description: String {
        var head = ""
        if let location { head += "\(location) " }
        if let subject { head += "\(subject): " }
        var text = head + message
        if let fix { text += "\n  fix: \(fix)" }
        return text
    }
}

/// An adapter's own typed error (KafkaError, ConnectError, ClickHouseError, MySQLError,
/// RuntimeError): callers branch on its fields, never on message text; the command line prints
/// it through this one bridge.
public protocol CdcErrorConvertible: Error {
    var cdcError: CdcError { get }
}

extension CdcErrors {
    /// The exit code of any error: its own for cdcctl's types, 1 for anything else.
    public static func exitCode(of error: any Error) -> Int32 {
        (error as? CdcErrors)?.exitCode ?? CdcError.bridging(error).exitCode
    }
}

public struct SourceLocation: Sendable, Equatable, CustomStringConvertible {
    public var file: String
    public var line: Int
    public var column: Int

    public init(file: String, line: Int, column: Int = 0) {
        self.file = file
        self.line = line
        self.column = column
    }

    public var description: String { "\(file):\(line)" }
}

/// Several problems found at once (validation reports all of them, not just the first).
public struct CdcErrors: Error, Sendable, CustomStringConvertible {
    public var errors: [CdcError]
    public init(_ errors: [CdcError]) { self.errors = errors }
    public var description: String { errors.map(\.description).joined(separator: "\n") }
    public var exitCode: Int32 { errors.map(\.exitCode).max() ?? 1 }
}

/// Replaces secret values in text meant for logs or terminals.
public enum Redact {
    public static let mask = "******"

    /// Masks the given secret values, `key=value` / `"key": "value"` pairs whose key names a
    /// secret (password, secret, token), and credentials in URLs.
    public static func secrets(in text: String, values: [String] = []) -> String {
        var out = text
        for value in values where value.count >= 4 {
            out = out.replacing(value, with: mask)
        }
        out = out.replacing(#/(?i)("?[A-Za-z0-9_.-]*(?:password|passwd|secret|token)[A-Za-z0-9_.-]*"?\s*[:=]\s*"?)([^"\s,&}]+)/#) { m in
            "\(m.output.1)\(mask)"
        }
        out = out.replacing(#/(://[^:/@\s]+:)([^@\s/]+)@/#) { m in "\(m.output.1)\(mask)@" }
        return out
    }

    /// True when a config key names a secret (used to mask connector configs).
    public static func isSecretKey(_ key: String) -> Bool {
        let k = key.lowercased()
        return k.contains("password") || k.contains("secret") || k.contains("token")
    }
}
