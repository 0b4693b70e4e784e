import Diagnostics

/// An error PostgreSQL or libpq reported. Callers branch on `sqlState` and `failure`, never on
/// the message text.
public struct PostgresError: Error, Sendable, Equatable, CustomStringConvertible, CdcErrorConvertible {
    public enum Phase: Sendable, Equatable {
        case connect
        case query(String)
    }

    /// What the error means for work that sent it (the sink's retry policy).
    public enum Failure: String, Sendable, Equatable {
        /// The server is not there, shutting down or out of resources, or the connection
        /// broke: the same work may succeed later.
        case unavailable
        /// The server refused the values (data exception 22xxx, integrity violation 23xxx).
        case badData = "bad-data"
        /// Anything else: a missing table, a denied privilege, a syntax error.
        case other
    }

    public var phase: Phase
    /// The five-character SQLSTATE, when the server sent one (libpq's own errors have none).
    public var sqlState: String?
    public var message: String
    public var endpoint: String
    /// libpq reported the connection as broken (`PQstatus != CONNECTION_OK`).
    public var connectionBad: Bool

    public init(_ phase: Phase, sqlState: String?, message: String, endpoint: PostgresEndpoint, connectionBad: Bool = false) {
        self.phase = phase
        self.sqlState = sqlState
        self.message = message
        self.endpoint = endpoint.description
        self.connectionBad = connectionBad
    }

    /// Class 08 (connection exception), 57P01–57P05 (admin/crash shutdown, cannot connect now,
    /// idle session timeout), class 53 (insufficient resources), or a broken connection →
    /// unavailable; class 22 and 23 → bad data; else other. (PostgreSQL's errcodes.txt.)
    public static func classify(sqlState: String?, connectionBad: Bool) -> Failure {
        if connectionBad { return .unavailable }
        guard let s = sqlState, s.count == 5 else { return .unavailable }  // no SQLSTATE: libpq itself (no server answer)
        if s.hasPrefix("08") || s.hasPrefix("53") || s.hasPrefix("57P0") { return .unavailable }
        if s.hasPrefix("22") || s.hasPrefix("23") { return .badData }
        return .other
    }

    public var failure: Failure { Self.classify(sqlState: sqlState, connectionBad: connectionBad) }
    public var isTransient: Bool { failure == .unavailable }

    /// 28P01 invalid_password, 28000 invalid_authorization_specification.
    public var isAuthentication: Bool { sqlState?.hasPrefix("28") ?? false }

    public var description: String {
        switch phase {
        case .connect: "cannot connect to PostgreSQL as \(endpoint): \(message)"
        case .query: "PostgreSQL error\(sqlState.map { " \($0)" } ?? ""): \(message)"
        }
    }

    public var cdcError: CdcError {
        switch phase {
        case .connect:
            CdcError(.operationFailed, description, subject: "postgres",
                     fix: "check the server is up at \(endpoint) (postgres.host/port in the manifest) and the password secrets.postgresPassword references",
                     transient: isTransient)
        case let .query(sql):
            CdcError(.operationFailed, description, subject: "\(endpoint): \(sql)", transient: isTransient)
        }
    }
}
