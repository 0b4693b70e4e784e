import Diagnostics
import Foundation

/// Whether the producers run: each running `produce orders|trades` keeps a pid file in
/// `<state dir>/producers/<name>.pid` (removed when it exits); `status` checks each with
/// `kill(pid, 0)`. `up --with-producers` starts them in the background, detached (own session),
/// logging to `<state dir>/producers/<name>.log`. Host-process supervision (restart on crash,
/// units) is not here: that is issue 19's systemd units.
public enum ProducerProcesses {
    public static let names = ["orders", "trades"]

    public struct State: Codable, Sendable, Equatable {
        public var name: String
        public var pid: Int32?
        /// `running`, `stopped` (no pid file), or `dead` (a pid file whose process is gone: it did not exit cleanly).
        public var state: String
        public var log: String?
    }

    static func dir(_ stateDir: String) -> String { stateDir + "/producers" }
    public static func pidFile(_ stateDir: String, _ name: String) -> String { dir(stateDir) + "/\(name).pid" }
    public static func logFile(_ stateDir: String, _ name: String) -> String { dir(stateDir) + "/\(name).log" }

    /// Writes this process's pid file; the returned closure removes it (call it on exit).
    /// Refuses (exit 2) when another live process already holds the name.
    public static func register(stateDir: String, name: String) throws -> () -> Void {
        if let other = readPid(pidFile(stateDir, name)), other != getpid(), isAlive(other) {
            throw CdcError.invalid("another produce \(name) runs already (pid \(other))", subject: "produce \(name)",
                                   fix: "stop it first (kill \(other)) or use another --state-dir")
        }
        try FileManager.default.createDirectory(atPath: dir(stateDir), withIntermediateDirectories: true)
        let path = pidFile(stateDir, name)
        try "\(getpid())\n".write(toFile: path, atomically: true, encoding: .utf8)
        let me = getpid()
        return { if readPid(path) == me { try? FileManager.default.removeItem(atPath: path) } }
    }

    public static func states(stateDir: String) -> [State] {
        names.map { name in
            let log = FileManager.default.fileExists(atPath: logFile(stateDir, name)) ? logFile(stateDir, name) : nil
            guard let pid = readPid(pidFile(stateDir, name)) else { return State(name: name, pid: nil, state: "stopped", log: log) }
            return State(name: name, pid: pid, state: isAlive(pid) ? "running" : "dead", log: log)
        }
    }

    static func readPid(_ path: String) -> Int32? {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return nil }
        return Int32(text.trimmingCharacters(in: .whitespacesAndNewlines))
    }

    /// kill(pid, 0): the process exists (EPERM: it exists but is another user's).
    static func isAlive(_ pid: Int32) -> Bool { pid > 0 && (kill(pid, 0) == 0 || errno == EPERM) }

    /// Starts `cdcctl produce NAME ARGS…` detached (its own session, stdin from /dev/null, output
    /// appended to its log). Returns the pid; a producer already running is left alone (nil).
    public static func start(executable: String, stateDir: String, name: String, arguments: [String]) throws -> Int32? {
        if let s = states(stateDir: stateDir).first(where: { $0.name == name }), s.state == "running" { return nil }
        try FileManager.default.createDirectory(atPath: dir(stateDir), withIntermediateDirectories: true)
        let log = logFile(stateDir, name)
        if !FileManager.default.fileExists(atPath: log) { _ = FileManager.default.createFile(atPath: log, contents: nil) }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, log, O_WRONLY | O_APPEND | O_CREAT, 0o644)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        // Nothing else of ours: a detached producer holding the caller's pipes (cdcctl up | tee, a
        // test runner) would keep them open for as long as it runs, and the caller would never end.
        for fd in (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd"))?.compactMap(Int32.init) ?? [] where fd > 2 {
            posix_spawn_file_actions_addclose(&actions, fd)
        }
        var attr = posix_spawnattr_t()
        posix_spawnattr_init(&attr)
        defer { posix_spawnattr_destroy(&attr) }
        posix_spawnattr_setflags(&attr, 0x80)  // POSIX_SPAWN_SETSID (glibc 2.26+; the macro does not import)
        let argv = [executable, "produce", name] + arguments
        var cargs: [UnsafeMutablePointer<CChar>?] = argv.map { strdup($0) } + [nil]
        defer { for p in cargs { free(p) } }
        var pid: pid_t = 0
        let rc = posix_spawn(&pid, executable, &actions, &attr, &cargs, environ)
        guard rc == 0 else {
            throw CdcError.failed("cannot start produce \(name): \(String(cString: strerror(rc)))", subject: "--with-producers")
        }
        return pid
    }
}
