import Diagnostics
import Foundation
import HTTP
import Polling

public struct ConnectorState: Sendable, Codable, Equatable {
    public struct Task: Sendable, Codable, Equatable {
        public var id: Int
        public var state: String
        public var workerId: String
        public var trace: String?
    }

    public var name: String
    public var state: String
    public var workerId: String
    public var trace: String?
    public var tasks: [Task]
    public var type: String?

    /// RUNNING with at least one task and every task RUNNING.
    public var isRunning: Bool { state == "RUNNING" && !tasks.isEmpty && tasks.allSatisfy { $0.state == "RUNNING" } }
    public var failed: Bool { state == "FAILED" || tasks.contains { $0.state == "FAILED" } }
}

/// One field problem from `PUT /connector-plugins/{class}/config/validate`.
public struct ConfigProblem: Sendable, Codable, Equatable {
    public var field: String
    public var errors: [String]
}

/// A typed client for the Kafka Connect REST API.
public struct ConnectClient: Sendable {
    public let baseURL: String
    let http: HTTPClient
    let timeoutSeconds: Double
    let rebalanceSeconds: Double = 20

    public init(baseURL: String, http: HTTPClient = HTTPClient(), timeoutSeconds: Double = 30) {
        self.baseURL = baseURL.hasSuffix("/") ? String(baseURL.dropLast()) : baseURL
        self.http = http
        self.timeoutSeconds = timeoutSeconds
    }

    // MARK: - Cluster

    /// `GET /`: the worker's Kafka version and cluster id.
    public func info() throws -> [String: String] {
        (try call("GET", "/") as? [String: Any] ?? [:]).compactMapValues { $0 as? String }
    }

    public func plugins() throws -> [String] {
        (try call("GET", "/connector-plugins") as? [[String: Any]] ?? []).compactMap { $0["class"] as? String }
    }

    // MARK: - Connectors

    public func list() throws -> [String] {
        (try call("GET", "/connectors") as? [String] ?? []).sorted()
    }

    /// The stored config, or nil when the connector does not exist.
    public func config(_ name: String) throws -> [String: String]? {
        guard let obj = try call("GET", "/connectors/\(path(name))/config", allow404: true) else { return nil }
        return (obj as? [String: Any] ?? [:]).compactMapValues { $0 as? String }
    }

    /// Creates or updates (`PUT /connectors/{name}/config`).
    public func put(_ name: String, config: [String: String]) throws {
        _ = try call("PUT", "/connectors/\(path(name))/config", body: config)
    }

    public func status(_ name: String) throws -> ConnectorState? {
        guard let obj = try call("GET", "/connectors/\(path(name))/status", allow404: true) as? [String: Any] else { return nil }
        let connector = obj["connector"] as? [String: Any] ?? [:]
        let tasks = (obj["tasks"] as? [[String: Any]] ?? []).map {
            ConnectorState.Task(id: $0["id"] as? Int ?? 0, state: $0["state"] as? String ?? "UNKNOWN",
                                workerId: $0["worker_id"] as? String ?? "", trace: $0["trace"] as? String)
        }.sorted { $0.id < $1.id }
        return ConnectorState(name: obj["name"] as? String ?? name, state: connector["state"] as? String ?? "UNKNOWN",
                              workerId: connector["worker_id"] as? String ?? "", trace: connector["trace"] as? String,
                              tasks: tasks, type: obj["type"] as? String)
    }

    /// Field errors for a config; empty when Connect (and the connector's own checks) accept it.
    public func validate(name: String, _ config: [String: String]) throws -> [ConfigProblem] {
        var config = config
        config["name"] = name
        guard let plugin = config["connector.class"] else {
            return [ConfigProblem(field: "connector.class", errors: ["is required"])]
        }
        let obj = try call("PUT", "/connector-plugins/\(path(plugin))/config/validate", body: config) as? [String: Any] ?? [:]
        return (obj["configs"] as? [[String: Any]] ?? []).compactMap { entry in
            let value = entry["value"] as? [String: Any] ?? [:]
            let errors = value["errors"] as? [String] ?? []
            return errors.isEmpty ? nil : ConfigProblem(field: value["name"] as? String ?? "?", errors: errors)
        }.sorted { $0.field < $1.field }
    }

    public func restart(_ name: String, includeTasks: Bool, onlyFailed: Bool) throws {
        _ = try call("POST", "/connectors/\(path(name))/restart?includeTasks=\(includeTasks)&onlyFailed=\(onlyFailed)", idempotent: true)
    }

    public func pause(_ name: String) throws { _ = try call("PUT", "/connectors/\(path(name))/pause") }
    public func resume(_ name: String) throws { _ = try call("PUT", "/connectors/\(path(name))/resume") }
    public func stop(_ name: String) throws { _ = try call("PUT", "/connectors/\(path(name))/stop") }
    public func delete(_ name: String) throws { _ = try call("DELETE", "/connectors/\(path(name))") }

    /// `GET /connectors/{name}/offsets` (Connect 3.5+).
    public func offsets(_ name: String) throws -> Any {
        try call("GET", "/connectors/\(path(name))/offsets") ?? [:]
    }

    /// `DELETE /connectors/{name}/offsets` (Connect 3.6+; the connector must be STOPPED).
    public func resetOffsets(_ name: String) throws -> String {
        let obj = try call("DELETE", "/connectors/\(path(name))/offsets") as? [String: Any]
        return obj?["message"] as? String ?? "offsets reset"
    }

    // MARK: - Plumbing

    private func path(_ s: String) -> String {
        s.addingPercentEncoding(withAllowedCharacters: .urlPathAllowed.subtracting(CharacterSet(charactersIn: "/"))) ?? s
    }

    /// One REST call; Connect's error body (`{"error_code", "message"}`) becomes the error text.
    private func call(_ method: String, _ path: String, body: Any? = nil, allow404: Bool = false,
                      idempotent: Bool? = nil) throws -> Any? {
        let data = try body.map { try JSONSerialization.data(withJSONObject: $0, options: [.sortedKeys]) }
        let request = HTTPRequest(method, baseURL + path, headers: [("Content-Type", "application/json"), ("Accept", "application/json")],
                                  body: data.map { Array($0) }, timeoutSeconds: timeoutSeconds, idempotent: idempotent)
        var response = try http.send(request)
        // 409: the group is rebalancing (e.g. right after a create). Transient; wait it out, bounded.
        if response.status == 409 {
            response = try Poll.until(Deadline(seconds: rebalanceSeconds), backoff: .every(1)) { () -> HTTPResponse? in
                let again = try http.send(request)
                return again.status == 409 ? nil : again
            } ?? response
        }
        if response.status == 404 && allow404 { return nil }
        guard (200..<300).contains(response.status) else {
            let message = ((try? response.json()) as? [String: Any])?["message"] as? String ?? String(response.text.prefix(300))
            throw ConnectError(.http(status: response.status, request: "\(method) \(path)", message: Redact.secrets(in: message)),
                               worker: baseURL)
        }
        return response.body.isEmpty ? nil : try response.json()
    }
}

/// What went wrong with Kafka Connect or a connector on it; callers branch on `reason`.
public struct ConnectError: Error, Sendable, Equatable, CustomStringConvertible, CdcErrorConvertible {
    public enum Reason: Sendable, Equatable {
        /// The REST API answered with an error status.
        case http(status: Int, request: String, message: String)
        /// The connector or one of its tasks reached FAILED: registering it again will not help.
        case connectorFailed(connector: String, trace: String)
        /// Still not RUNNING when the wait ended.
        case notRunning(connector: String, seconds: Int, last: String)
    }

    public var reason: Reason
    public var worker: String

    public init(_ reason: Reason, worker: String) {
        self.reason = reason
        self.worker = worker
    }

    /// A rebalance (409), a worker starting (5xx) or a connector still starting.
    public var isTransient: Bool {
        switch reason {
        case let .http(status, _, _): status == 409 || status >= 500
        case .connectorFailed: false
        case .notRunning: true
        }
    }

    public var description: String {
        switch reason {
        case let .http(status, request, message): "Kafka Connect \(request) answered HTTP \(status): \(message)"
        case let .connectorFailed(connector, trace): "\(connector) FAILED: \(trace)"
        case let .notRunning(connector, seconds, last): "\(connector) not RUNNING after \(seconds) s (last: \(last.isEmpty ? "no status" : last))"
        }
    }

    public var cdcError: CdcError {
        switch reason {
        case let .http(status, _, _):
            CdcError([400, 404, 409, 422].contains(status) ? .invalidInput : .operationFailed, description, subject: worker,
                     fix: status == 409 ? "the worker is rebalancing; try again in a few seconds" : nil, transient: isTransient)
        case let .connectorFailed(connector, _):
            CdcError(.operationFailed, description, subject: "connector \(connector)",
                     fix: "see `cdcctl connector status \(connector)`; fix the cause, then `cdcctl connector restart \(connector) --include-tasks --only-failed`")
        case let .notRunning(connector, _, _):
            CdcError(.operationFailed, description, subject: "connector \(connector)",
                     fix: "check the worker's log, or wait longer with --timeout", transient: true)
        }
    }
}
