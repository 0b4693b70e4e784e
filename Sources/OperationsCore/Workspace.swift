import BuiltinFiles
import Checksum
import ClickHouse
import Diagnostics
import Foundation
import Manifest
import Postgres
import Render
import State

/// Things from the outside world a command uses, injected so tests control them.
public struct Environment: Sendable {
    public var variables: [String: String]
    public var nowMs: @Sendable () -> Int64

    public init(variables: [String: String] = ProcessInfo.processInfo.environment,
                nowMs: @escaping @Sendable () -> Int64 = { Int64(Date().timeIntervalSince1970 * 1000) }) {
        self.variables = variables
        self.nowMs = nowMs
    }
}

/// Where a command's manifest and state live.
public struct Workspace {
    public var manifestPath: String
    public var stateDir: String
    public var environment: Environment

    /// `stateDir` nil: `.cdcctl` beside the manifest, so the same manifest finds the same state
    /// (and generated secrets) from whatever directory cdcctl runs in.
    public init(manifestPath: String, stateDir: String? = nil, environment: Environment = Environment()) {
        self.manifestPath = manifestPath
        self.stateDir = stateDir ?? Self.defaultStateDir(manifestPath: manifestPath)
        self.environment = environment
    }

    public static func defaultStateDir(manifestPath: String) -> String {
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: manifestPath, isDirectory: &isDirectory), isDirectory.boolValue {
            return manifestPath + "/.cdcctl"  // `-m DIR` reads DIR/cdcctl.yaml
        }
        let dir = (manifestPath as NSString).deletingLastPathComponent
        return (dir.isEmpty ? "." : dir) + "/.cdcctl"
    }

    public var statePath: String { stateDir + "/state.db" }

    /// The options a suggested next command needs to reach this same manifest and state
    /// (` -m x.yaml --state-dir d`), empty for the defaults.
    public var commandFlags: String {
        var flags = manifestPath == "cdcctl.yaml" ? "" : " -m \(manifestPath)"
        if stateDir != Self.defaultStateDir(manifestPath: manifestPath) { flags += " --state-dir \(stateDir)" }
        return flags
    }
    public var secretsPath: String { stateDir + "/secrets.env" }

    public func loadManifest() throws -> LoadedManifest {
        try ManifestLoader.load(path: manifestPath, environment: environment.variables)
    }

    /// The manifest's secret references resolved (generated ones kept in the state dir; with
    /// `persist` false a secret generated now is not stored, for checks that must write nothing).
    public func resolveSecrets(_ m: Manifest, persist: Bool = true) throws -> ResolvedSecrets {
        try SecretResolver(environment: environment.variables, storePath: secretsPath).resolve(m, persist: persist)
    }

    /// How cdcctl reaches ClickHouse: `access.clickhouseURL` as `access.clickhouseUser`.
    public func clickhouse(_ m: Manifest, secrets: ResolvedSecrets, timeoutSeconds: Double = 30) -> ClickHouseConfig {
        clickhouse(m, secrets: secrets.clickhousePassword, timeoutSeconds: timeoutSeconds)
    }

    /// The same with the password given (status asks even when a secret cannot be resolved).
    public func clickhouse(_ m: Manifest, secrets password: String, timeoutSeconds: Double = 30) -> ClickHouseConfig {
        ClickHouseConfig(url: m.access.clickhouseURL, user: m.access.clickhouseUser, password: password, timeoutSeconds: timeoutSeconds)
    }

    /// How the processor reaches ClickHouse: as `access.clickhouseWriterUser` (INSERT and SELECT, no DDL).
    public func clickhouseWriter(_ m: Manifest, secrets: ResolvedSecrets, timeoutSeconds: Double = 30) -> ClickHouseConfig {
        ClickHouseConfig(url: m.access.clickhouseURL, user: m.access.clickhouseWriterUser, password: secrets.clickhouseWriterPassword,
                         timeoutSeconds: timeoutSeconds)
    }

    /// How cdcctl reaches the PostgreSQL sink's database (`access.postgresHost/Port`, `postgres.user`).
    public func postgres(_ m: Manifest, secrets: ResolvedSecrets, connectTimeoutSeconds: Int = 5,
                         applicationName: String = "cdcctl") -> PostgresEndpoint {
        PostgresEndpoint(host: m.access.postgresHost, port: m.access.postgresPort, user: m.postgres.user, password: secrets.postgresPassword,
                         database: m.postgres.database, connectTimeoutSeconds: connectTimeoutSeconds, applicationName: applicationName)
    }

    /// Grafana's read-only user, for `schema status` to check its grants as Grafana would see them.
    public func clickhouseReader(_ m: Manifest, secrets: ResolvedSecrets, timeoutSeconds: Double = 30) -> ClickHouseConfig {
        ClickHouseConfig(url: m.access.clickhouseURL, user: m.access.clickhouseReaderUser, password: secrets.clickhouseReaderPassword,
                         timeoutSeconds: timeoutSeconds)
    }

    public func openState() throws -> StateStore {
        do {
            try FileManager.default.createDirectory(atPath: stateDir, withIntermediateDirectories: true,
                                                    attributes: [.posixPermissions: 0o700])
        } catch {
            throw CdcError.failed("cannot create the state directory: \(error.localizedDescription)", subject: stateDir,
                                  fix: "pass --state-dir to a writable directory")
        }
        return try StateStore(path: statePath)
    }

    /// The state store if one exists; nil without creating anything (read-only commands).
    public func existingState() throws -> StateStore? {
        guard FileManager.default.fileExists(atPath: statePath) else { return nil }
        return try StateStore(path: statePath)
    }

    /// The built-in templates, with `--templates DIR` first when given (a user overrides single files).
    public func templates(override dir: String?) throws -> TemplateSource {
        if let dir, !FileManager.default.fileExists(atPath: dir) {
            throw CdcError.invalid("templates directory does not exist", subject: "--templates \(dir)",
                                   fix: "pass a directory holding the templates you override")
        }
        return TemplateSource(directories: dir.map { [$0] } ?? [], embedded: BuiltinFiles.templates)
    }

    /// Runs a command that changes something and writes its journal row, whatever the outcome.
    /// The row is written before the caller prints the result. A SIGINT/SIGTERM while it runs is
    /// recorded as `interrupted` (exit 130/143) before the process ends, unless the command
    /// `handlesSignals` itself (the processor drains and then returns normally).
    public func journaled<T>(_ command: String, arguments: [String], inputsHash: String, cluster: String?,
                             handlesSignals: Bool = false, _ body: () throws -> (T, detail: String)) throws -> T {
        let store = try openState()
        let started = environment.nowMs()
        let (path, nowMs, joined) = (statePath, environment.nowMs, arguments.joined(separator: " "))
        let guardian = handlesSignals ? nil : InterruptGuard { signal in
            // On the signal's own queue: a second connection (WAL), then leave with 128 + signal.
            let code = 128 + signal
            if let late = try? StateStore(path: path) {
                try? late.record(JournalEntry(cluster: cluster, command: command, arguments: joined,
                                              inputsHash: inputsHash, startedAtMs: started, durationMs: nowMs() - started,
                                              outcome: .interrupted, exitCode: code,
                                              detail: "interrupted by \(signal == SIGINT ? "SIGINT" : "SIGTERM") before it finished"))
            }
            FileHandle.standardError.write(Data("\ninterrupted: \(command) stopped before it finished (recorded in cdcctl history)\n".utf8))
            exit(code)
        }
        defer { guardian?.cancel() }
        do {
            let (result, detail) = try body()
            try store.record(JournalEntry(cluster: cluster, command: command, arguments: arguments.joined(separator: " "),
                                       inputsHash: inputsHash, startedAtMs: started, durationMs: environment.nowMs() - started,
                                       outcome: .ok, exitCode: 0, detail: detail))
            return result
        } catch {
            let (outcome, code, detail) = Self.describe(error)
            _ = try? store.record(JournalEntry(cluster: cluster, command: command, arguments: arguments.joined(separator: " "),
                                        inputsHash: inputsHash, startedAtMs: started, durationMs: environment.nowMs() - started,
                                        outcome: outcome, exitCode: code, detail: detail))
            throw error
        }
    }

    /// `journaled` for a command on a loaded manifest: the inputs are the manifest text and the
    /// arguments, the cluster is the manifest's.
    public func journaled<T>(_ command: String, arguments: [String], manifest loaded: LoadedManifest, handlesSignals: Bool = false,
                             _ body: () throws -> (T, detail: String)) throws -> T {
        try journaled(command, arguments: arguments, inputsHash: InputsHash.of([loaded.text] + arguments),
                      cluster: loaded.manifest.cluster.name, handlesSignals: handlesSignals, body)
    }

    static func describe(_ error: Error) -> (JournalEntry.Outcome, Int32, String) {
        let code = CdcErrors.exitCode(of: error)
        let outcome: JournalEntry.Outcome = code == 2 ? .invalid : code == 3 ? .unhealthy : .failed
        return (outcome, code, (error as? CdcErrors)?.description ?? CdcError.bridging(error).description)
    }
}

/// The manifest profiles built into the binary (manifests/*.yaml), for `cdcctl init`.
public enum BuiltinProfiles {
    public static var names: [String] {
        BuiltinFiles.manifests.keys.filter { $0.hasSuffix(".yaml") && !$0.contains("/") }.map { String($0.dropLast(5)) }.sorted()
    }

    public static func text(_ profile: String) -> String? { BuiltinFiles.manifests[profile + ".yaml"] }
}

public enum InputsHash {
    /// Hash of the manifest text plus the command's arguments: equal hashes, equal inputs.
    public static func of(_ parts: [String]) -> String {
        String(SHA256.hex(parts.joined(separator: "\u{0}")).prefix(16))
    }
}

public enum UTCTime {
    /// `2025-01-02 03:04:05`, or with `milliseconds` `2025-01-02 03:04:05.678` (ClickHouse's DateTime64(3) text).
    public static func format(_ ms: Int64, milliseconds: Bool = false) -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = milliseconds ? "yyyy-MM-dd HH:mm:ss.SSS" : "yyyy-MM-dd HH:mm:ss"
        return formatter.string(from: Date(timeIntervalSince1970: Double(ms) / 1000))
    }
}
