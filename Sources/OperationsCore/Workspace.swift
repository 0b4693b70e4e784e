import Checksum
import ClickHouse
import Diagnostics
import Foundation
import Manifest
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
        let dir = (manifestPath as NSString).deletingLastPathComponent
        return (dir.isEmpty ? "." : dir) + "/.cdcctl"
    }

    public var statePath: String { stateDir + "/state.db" }
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
        let home = try Resources.home(environment: environment.variables)
        return TemplateSource(directories: (dir.map { [$0] } ?? []) + [home + "/templates"])
    }

    /// Runs a command that changes something and writes its journal row, whatever the outcome.
    /// The row is written before the caller prints the result.
    public func journaled<T>(_ command: String, arguments: [String], inputsHash: String, cluster: String?,
                             _ body: () throws -> (T, detail: String)) throws -> T {
        let store = try openState()
        let started = environment.nowMs()
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
    public func journaled<T>(_ command: String, arguments: [String], manifest loaded: LoadedManifest,
                             _ body: () throws -> (T, detail: String)) throws -> T {
        try journaled(command, arguments: arguments, inputsHash: InputsHash.of([loaded.text] + arguments),
                      cluster: loaded.manifest.cluster.name, body)
    }

    static func describe(_ error: Error) -> (JournalEntry.Outcome, Int32, String) {
        let code: Int32
        switch error {
        case let e as CdcError: code = e.exitCode
        case let e as CdcErrors: code = e.exitCode
        default: code = 1
        }
        let outcome: JournalEntry.Outcome = code == 2 ? .invalid : code == 3 ? .unhealthy : .failed
        return (outcome, code, String(describing: error))
    }
}

/// Finds the built-in `templates/` and `manifests/`: `$CDCCTL_HOME`, then the source tree the
/// binary was built in (walking up from the executable), then `<prefix>/share/cdcctl`.
public enum Resources {
    public static func home(environment: [String: String] = ProcessInfo.processInfo.environment) throws -> String {
        if let home = environment["CDCCTL_HOME"], isHome(home) { return home }
        var candidates: [String] = []
        if let exe = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe") {
            var dir = (exe as NSString).deletingLastPathComponent
            while dir != "/" && !dir.isEmpty {
                candidates.append(dir)
                candidates.append(dir + "/share/cdcctl")
                dir = (dir as NSString).deletingLastPathComponent
            }
        }
        candidates.append(FileManager.default.currentDirectoryPath)
        if let found = candidates.first(where: isHome) { return found }
        throw CdcError.failed("cannot find cdcctl's built-in templates/ and manifests/",
                              fix: "set CDCCTL_HOME to the cdcctl source or install directory")
    }

    static func isHome(_ dir: String) -> Bool {
        FileManager.default.fileExists(atPath: dir + "/templates/docker-compose.yml.mustache")
            && FileManager.default.fileExists(atPath: dir + "/manifests/default.yaml")
    }
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
