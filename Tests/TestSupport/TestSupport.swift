import Foundation
import XCTest

/// Shared by the test targets: where the repo is, how to find real tools and servers, and the
/// rule that in CI a missing one fails the run instead of skipping.
public enum TestSupport {
    /// A loopback TCP port nothing listens on now (the kernel's pick, released at once).
    public static func freePort() throws -> Int {
        let (fd, port) = try loopbackSocket(listening: false)
        close(fd)
        return port
    }

    /// A loopback socket on a port the kernel picks, listening: it holds the port, and accepts
    /// connections into its backlog but never answers them. The caller closes `fd`.
    public static func listeningSocket() throws -> (fd: Int32, port: Int) {
        try loopbackSocket(listening: true)
    }

    static func loopbackSocket(listening: Bool) throws -> (fd: Int32, port: Int) {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw CocoaError(.fileReadUnknown, userInfo: [NSLocalizedDescriptionKey: "no socket"]) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        addr.sin_port = 0
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &addr) { p in
            p.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, len) == 0 && getsockname(fd, $0, &len) == 0 }
        }
        guard bound, !listening || listen(fd, 8) == 0 else {
            close(fd)
            throw CocoaError(.fileReadUnknown, userInfo: [NSLocalizedDescriptionKey: "no free loopback port"])
        }
        return (fd, Int(UInt16(bigEndian: addr.sin_port)))
    }

    public static let repo = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().path

    public static var isCI: Bool { ProcessInfo.processInfo.environment["CI"] == "true" }

    /// Fails in CI, skips elsewhere: a developer without the testbed can still run unit tests.
    public static func missing(_ what: String, fix: String, file: StaticString = #filePath, line: UInt = #line) throws -> Never {
        let message = "\(what) is not available: \(fix)"
        if isCI {
            XCTFail("CI requires it: " + message, file: file, line: line)
            throw XCTSkip("failed above")
        }
        throw XCTSkip(message)
    }

    /// An executable from `$ENV_VAR`, the testbed's venv, or PATH.
    public static func tool(_ name: String, env: String, also: [String] = [], file: StaticString = #filePath, line: UInt = #line) throws -> String {
        let environment = ProcessInfo.processInfo.environment
        var candidates: [String] = []
        if let path = environment[env] { candidates.append(path) }
        candidates += also
        for dir in (environment["PATH"] ?? "").split(separator: ":") { candidates.append("\(dir)/\(name)") }
        if let found = candidates.first(where: { FileManager.default.isExecutableFile(atPath: $0) }) { return found }
        try missing(name, fix: "run scripts/test (it installs \(name)), or set \(env)", file: file, line: line)
    }

    /// Runs a process to completion and returns its exit code and combined output.
    @discardableResult
    public static func run(_ executable: String, _ arguments: [String], cwd: String? = nil,
                           environment: [String: String]? = nil) throws -> (status: Int32, output: String) {
        let (status, output) = try run(executable, arguments, cwd: cwd, environment: environment, stderr: nil)
        return (status, String(decoding: output, as: UTF8.self))
    }

    /// Runs a process to completion with stdout and stderr kept apart (results versus progress).
    public static func runSeparately(_ executable: String, _ arguments: [String], cwd: String? = nil,
                                     environment: [String: String]? = nil) throws -> (status: Int32, stdout: String, stderr: String) {
        // stderr goes to a file, so it cannot fill a pipe while stdout is being read.
        let errPath = NSTemporaryDirectory() + "cdcctl-stderr-" + UUID().uuidString
        _ = FileManager.default.createFile(atPath: errPath, contents: nil)
        defer { try? FileManager.default.removeItem(atPath: errPath) }
        let errFile = try FileHandle(forWritingTo: URL(fileURLWithPath: errPath))
        let (status, output) = try run(executable, arguments, cwd: cwd, environment: environment, stderr: errFile)
        try errFile.close()
        return (status, String(decoding: output, as: UTF8.self),
                String(decoding: FileManager.default.contents(atPath: errPath) ?? Data(), as: UTF8.self))
    }

    /// Runs to completion; returns the exit code and stdout (with stderr when `stderr` is nil).
    static func run(_ executable: String, _ arguments: [String], cwd: String?, environment: [String: String]?,
                    stderr: FileHandle?) throws -> (Int32, Data) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        if let cwd { process.currentDirectoryURL = URL(fileURLWithPath: cwd) }
        if let environment { process.environment = environment }
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = stderr ?? pipe
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, data)
    }

    /// A fresh temporary directory, removed when the test ends.
    public static func temporaryDirectory(_ test: XCTestCase) throws -> String {
        let dir = NSTemporaryDirectory() + "cdcctl-test-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        test.addTeardownBlock { try? FileManager.default.removeItem(atPath: dir) }
        return dir
    }

    /// The `cdcctl` executable built beside the test bundle.
    public static var cdcctlBinary: String {
        // On Linux the bundle URL is the build directory itself; on macOS the .xctest inside it.
        let url = Bundle(for: Marker.self).bundleURL
        let candidates = [url.appendingPathComponent("cdcctl").path, url.deletingLastPathComponent().appendingPathComponent("cdcctl").path]
        return candidates.first { FileManager.default.isExecutableFile(atPath: $0) } ?? candidates[0]
    }

    final class Marker {}
}

/// Connection settings of the running testbed (`scripts/testbed env`), or a skip/failure.
public struct Testbed {
    public let env: [String: String]

    public static func require(file: StaticString = #filePath, line: UInt = #line) throws -> Testbed {
        let env = ProcessInfo.processInfo.environment
        guard env["TESTBED_KAFKA_BOOTSTRAP"] != nil else {
            try TestSupport.missing("the testbed", fix: "run scripts/test, or `scripts/testbed up` and eval \"$(scripts/testbed env)\"",
                                    file: file, line: line)
        }
        return Testbed(env: env)
    }

    public subscript(_ name: String) -> String { env[name] ?? "" }

    public var kafkaBootstrap: String { self["TESTBED_KAFKA_BOOTSTRAP"] }
    /// The testbed's ClickHouse HTTP interface (chdb behind a test front; user `default`, no password).
    public var clickhouseURL: String { self["TESTBED_CLICKHOUSE_URL"] }
    public var clickhouseUser: String { env["TESTBED_CLICKHOUSE_USER"] ?? "default" }
    public var clickhousePassword: String { self["TESTBED_CLICKHOUSE_PASSWORD"] }
    public var python: String { self["TESTBED_PYTHON"] }
    /// The testbed's PostgreSQL 15 (a real server; user with CREATEDB, so tests make their own databases).
    public var postgresHost: String { env["TESTBED_POSTGRES_HOST"] ?? "127.0.0.1" }
    public var postgresPort: Int { Int(self["TESTBED_POSTGRES_PORT"]) ?? 0 }
    public var postgresUser: String { self["TESTBED_POSTGRES_USER"] }
    public var postgresPassword: String { self["TESTBED_POSTGRES_PASSWORD"] }
    public var postgresDatabase: String { self["TESTBED_POSTGRES_DB"] }

    /// The PostgreSQL settings, or a failure in CI / a skip locally when the testbed has none.
    public func requirePostgres(file: StaticString = #filePath, line: UInt = #line) throws -> Testbed {
        guard postgresPort > 0, !postgresUser.isEmpty else {
            try TestSupport.missing("the testbed's PostgreSQL", fix: "scripts/testbed up starts it; eval \"$(scripts/testbed env)\"",
                                    file: file, line: line)
        }
        return self
    }

    /// Runs a short Python snippet with the testbed's venv (confluent-kafka, an independent client).
    public func python(_ code: String) throws -> (status: Int32, output: String) {
        try TestSupport.run(python, ["-c", code])
    }
}

extension TestSupport {
    /// A name no earlier run used, so tests never see each other's topics or rows.
    public static func uniqueName(_ prefix: String) -> String {
        "\(prefix)-\(UUID().uuidString.prefix(8).lowercased())"
    }
}

/// The real `cdcctl` binary, run the way a user runs it: in a working directory, with its own
/// state directory, the test's extra arguments appended (the one runner every test target uses).
public struct CLI {
    public var directory: String
    public var stateDir: String
    /// Appended to every call (e.g. `-m manifest.yaml`, `--templates dir`).
    public var extraArguments: [String]
    public var environment: [String: String]?

    public init(directory: String, stateDir: String? = nil, extraArguments: [String] = [], environment: [String: String]? = nil) {
        self.directory = directory
        self.stateDir = stateDir ?? directory + "/state"
        self.extraArguments = extraArguments
        self.environment = environment
    }

    var arguments: [String] { extraArguments + ["--state-dir", stateDir] }

    /// Exit code and stdout + stderr together.
    @discardableResult
    public func callAsFunction(_ args: [String]) throws -> (status: Int32, output: String) {
        try TestSupport.run(TestSupport.cdcctlBinary, args + arguments, cwd: directory, environment: environment)
    }

    @discardableResult
    public func callAsFunction(_ args: String...) throws -> (status: Int32, output: String) {
        try callAsFunction(args)
    }

    /// Exit code, stdout (results) and stderr (progress, errors) apart.
    public func separately(_ args: [String]) throws -> (status: Int32, stdout: String, stderr: String) {
        try TestSupport.runSeparately(TestSupport.cdcctlBinary, args + arguments, cwd: directory, environment: environment)
    }
}

/// The project's Docker testbed (scripts/docker-testbed: its own dockerd with stand-in images):
/// the environment for running cdcctl against it, or a failure in CI / a skip elsewhere.
public enum DockerTestbed {
    public static func require(file: StaticString = #filePath, line: UInt = #line) throws -> [String: String] {
        let e = ProcessInfo.processInfo.environment
        guard e["DOCKER_TESTBED_DIR"] != nil, e["DOCKER_HOST"] != nil else {
            try TestSupport.missing("the Docker testbed", fix: "run scripts/test, or `scripts/docker-testbed up` and eval \"$(scripts/docker-testbed env)\"",
                                    file: file, line: line)
        }
        let version = try TestSupport.run("/usr/bin/env", ["docker", "version", "--format", "{{.Server.Version}}"], environment: e)
        guard version.status == 0 else {
            try TestSupport.missing("the Docker testbed's dockerd at \(e["DOCKER_HOST"]!)", fix: "scripts/docker-testbed up (\(version.output))",
                                    file: file, line: line)
        }
        var env = e
        // cdcctl links Debian's librdkafka 2.0.2, which cannot talk to Tansu; load 2.16.
        if let lib = e["DOCKER_TESTBED_RDKAFKA_LIB_DIR"] {
            env["LD_LIBRARY_PATH"] = lib + (e["LD_LIBRARY_PATH"].map { ":" + $0 } ?? "")
        }
        return env
    }
}
