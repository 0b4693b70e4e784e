import OperationsCore
import Polling
import Connect
import Diagnostics
import Foundation
import HTTP
import Manifest
import Render

public struct RegisterResult: Sendable, Codable {
    public var connector: String
    /// created, updated or unchanged
    public var action: String
    public var state: ConnectorState?
    public var secondsToRunning: Double?
}

/// `cdcctl connector …` and `cdcctl source check`.
public struct ConnectorOperation {
    public let manifest: Manifest
    let client: ConnectClient
    let workspace: Workspace
    let progress: (String) -> Void

    public init(_ ws: Workspace, manifest: Manifest, progress: @escaping (String) -> Void = { _ in }) {
        self.manifest = manifest
        self.workspace = ws
        self.client = ConnectClient(baseURL: manifest.access.connectURL)
        self.progress = progress
    }

    public func connector(_ name: String?) throws -> [Connector] {
        guard let name else { return manifest.connect.connectors }
        guard let c = manifest.connect.connectors.first(where: { $0.name == name }) else {
            throw CdcError.invalid("no connector named '\(name)' in the manifest", subject: name,
                                   fix: "known: \(manifest.connect.connectors.map(\.name).joined(separator: ", "))")
        }
        return [c]
    }

    public func desiredConfig(_ c: Connector) -> [String: String] {
        Dictionary(uniqueKeysWithValues: DebeziumConfig.build(c, manifest: manifest).map { ($0.key, $0.value) })
    }

    // MARK: - Source preflight

    public func sourceCheck() throws -> [PreflightCheck] {
        let secrets = try workspace.resolveSecrets(manifest)
        let facts = try SourcePreflight.gather(manifest, rootPassword: secrets.mysqlRootPassword, cdcPassword: secrets.mysqlCdcPassword)
        return SourcePreflight.assess(facts, manifest: manifest)
    }

    public static func failures(_ checks: [PreflightCheck]) -> [CdcError] {
        checks.filter { $0.status == .fail }.map {
            CdcError(.unhealthy, "\($0.observed), expected \($0.expected)", subject: "source \($0.name)", fix: $0.fix)
        }
    }

    // MARK: - Register

    /// preflight → validate → create or update (idempotent) → wait until RUNNING.
    public func register(_ c: Connector, preflight: Bool, wait: Bool, timeoutSeconds: Double) throws -> RegisterResult {
        let started = Date()
        if preflight {
            progress("[\(elapsed(started))] source preflight")
            let failed = Self.failures(try sourceCheck())
            if !failed.isEmpty { throw CdcErrors(failed) }
        }
        let config = desiredConfig(c)
        progress("[\(elapsed(started))] validating \(c.name) with Kafka Connect")
        let problems = try client.validate(name: c.name, config)
        if !problems.isEmpty {
            throw CdcErrors(problems.map {
                .invalid($0.errors.joined(separator: "; "), subject: "connector \(c.name) \($0.field)",
                         fix: "fix the manifest (connect.connectors) or the source; nothing was created")
            })
        }
        let existing = try client.config(c.name)
        let action: String
        if let existing, Self.sameConfig(existing, config, name: c.name) {
            action = "unchanged"
        } else {
            try client.put(c.name, config: config)
            action = existing == nil ? "created" : "updated"
        }
        progress("[\(elapsed(started))] \(c.name) \(action)")
        guard wait else { return RegisterResult(connector: c.name, action: action, state: try client.status(c.name), secondsToRunning: nil) }
        let state = try waitRunning(c.name, started: started, timeoutSeconds: timeoutSeconds)
        return RegisterResult(connector: c.name, action: action, state: state, secondsToRunning: Date().timeIntervalSince(started))
    }

    /// Connect adds `name` to the stored config; compare without it.
    static func sameConfig(_ stored: [String: String], _ desired: [String: String], name: String) -> Bool {
        var s = stored
        if s["name"] == name { s["name"] = nil }
        return s == desired
    }

    public func waitRunning(_ name: String, started: Date = Date(), timeoutSeconds: Double) throws -> ConnectorState {
        var last = ""
        let running = try Poll.until(Deadline(seconds: timeoutSeconds - Date().timeIntervalSince(started)), backoff: .every(0.5)) { () -> ConnectorState? in
            guard let state = try client.status(name) else { return nil }
            let summary = "\(state.state), tasks: " + (state.tasks.isEmpty ? "none yet" : state.tasks.map { "\($0.id)=\($0.state)" }.joined(separator: " "))
            if summary != last { progress("[\(elapsed(started))] \(name): \(summary)"); last = summary }
            if state.failed {
                let trace = (state.tasks.compactMap(\.trace).first ?? state.trace ?? "").split(separator: "\n").prefix(3).joined(separator: "\n    ")
                throw ConnectError(.connectorFailed(connector: name, trace: trace), worker: client.baseURL)
            }
            return state.isRunning ? state : nil
        }
        guard let running else {
            throw ConnectError(.notRunning(connector: name, seconds: Int(timeoutSeconds), last: last), worker: client.baseURL)
        }
        return running
    }

    // MARK: - Listing and lifecycle

    public struct Listed: Sendable, Codable, Equatable {
        public var name: String
        public var inManifest: Bool
        /// Connect's state, or `not registered`.
        public var state: String
    }

    /// Connectors on the worker and in the manifest, each with its state.
    public func list() throws -> [Listed] {
        let onWorker = try client.list()
        let declared = manifest.connect.connectors.map(\.name)
        return try Array(Set(onWorker + declared)).sorted().map { n in
            Listed(name: n, inManifest: declared.contains(n),
                   state: onWorker.contains(n) ? (try client.status(n)?.state ?? "?") : "not registered")
        }
    }

    /// Connect's own validation of the manifest's config for `c`, as bad-input problems.
    public func validate(_ c: Connector) throws -> [CdcError] {
        try client.validate(name: c.name, desiredConfig(c)).map {
            .invalid($0.errors.joined(separator: "; "), subject: "connector \(c.name) \($0.field)")
        }
    }

    public enum Lifecycle: String, Sendable, CaseIterable {
        case pause, resume, stop, restart, delete, resetOffsets = "offsets reset"
    }

    /// A lifecycle request on a registered connector. `delete` returns once the worker no
    /// longer lists it (deletion is asynchronous there); `resetOffsets` needs it STOPPED.
    public func act(_ action: Lifecycle, on name: String, includeTasks: Bool = false, onlyFailed: Bool = false,
                    timeoutSeconds: Double = 30) throws {
        guard try client.status(name) != nil else { throw Self.notFound(name) }
        switch action {
        case .pause: try client.pause(name)
        case .resume: try client.resume(name)
        case .stop: try client.stop(name)
        case .restart: try client.restart(name, includeTasks: includeTasks, onlyFailed: onlyFailed)
        case .delete:
            try client.delete(name)
            let gone = try Poll.until(Deadline(seconds: timeoutSeconds), backoff: .every(0.5)) { () -> Bool? in
                try client.list().contains(name) || (try client.status(name)) != nil ? nil : true
            }
            if gone == nil { throw CdcError.failed("\(name) is still listed \(Int(timeoutSeconds)) s after delete", subject: name) }
        case .resetOffsets:
            guard try status(name).state == "STOPPED" else {
                throw CdcError.invalid("connector \(name) must be STOPPED to reset its offsets", subject: name,
                                       fix: "cdcctl connector stop \(name), then run this again")
            }
            _ = try client.resetOffsets(name)
        }
    }

    /// The connector's source offsets as Connect returns them (JSON text, pretty-printed).
    public func offsetsJSON(_ name: String) throws -> String {
        let data = try JSONSerialization.data(withJSONObject: try client.offsets(name), options: [.prettyPrinted, .sortedKeys])
        return String(decoding: data, as: UTF8.self)
    }

    /// Config as stored by the worker, with secret values masked (references stay visible).
    public func describe(_ name: String) throws -> [String: String] {
        guard let config = try client.config(name) else { throw Self.notFound(name) }
        return config.mapValues { $0 }.reduce(into: [:]) { out, kv in
            out[kv.key] = Redact.isSecretKey(kv.key) && !kv.value.hasPrefix("${") ? Redact.mask : kv.value
        }
    }

    public func status(_ name: String) throws -> ConnectorState {
        guard let s = try client.status(name) else { throw Self.notFound(name) }
        return s
    }

    public static func notFound(_ name: String) -> CdcError {
        .invalid("connector '\(name)' is not registered on the worker", subject: name, fix: "cdcctl connector register \(name)")
    }

    func elapsed(_ since: Date) -> String { String(format: "%5.1fs", Date().timeIntervalSince(since)) }
}

extension ConnectorState {
    /// `0:RUNNING 1:FAILED`, or `none`.
    public var taskSummary: String {
        tasks.isEmpty ? "none" : tasks.map { "\($0.id):\($0.state)" }.joined(separator: " ")
    }
}
