import Diagnostics
import Foundation

/// What a finished subprocess left behind.
public struct ProcessResult: Sendable, Equatable {
    public var status: Int32
    public var stdout: String
    public var stderr: String

    public init(status: Int32, stdout: String = "", stderr: String = "") {
        self.status = status
        self.stdout = stdout
        self.stderr = stderr
    }

    public var ok: Bool { status == 0 }
    /// stderr, or stdout when stderr is empty, trimmed: what to show when it failed.
    public var message: String {
        let text = stderr.trimmingCharacters(in: .whitespacesAndNewlines)
        return text.isEmpty ? stdout.trimmingCharacters(in: .whitespacesAndNewlines) : text
    }
}

/// Spawns processes. Injected so tests check the exact argv without Docker.
public protocol ProcessRunner: Sendable {
    /// The absolute path of an executable on PATH, or nil.
    func which(_ name: String) -> String?
    /// Runs `argv` (argv[0] found on PATH) to completion.
    func run(_ argv: [String], timeoutSeconds: Double?) throws -> ProcessResult
}

public struct ExecutableNotFound: Error, Sendable, Equatable {
    public var name: String
    public init(name: String) { self.name = name }
}

/// The real one: Foundation's Process, stdout and stderr read concurrently.
public struct SystemProcessRunner: ProcessRunner {
    public var environment: [String: String]

    public init(environment: [String: String] = ProcessInfo.processInfo.environment) {
        self.environment = environment
    }

    public func which(_ name: String) -> String? {
        if name.contains("/") { return FileManager.default.isExecutableFile(atPath: name) ? name : nil }
        for dir in (environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin").split(separator: ":") {
            let path = "\(dir)/\(name)"
            if FileManager.default.isExecutableFile(atPath: path) { return path }
        }
        return nil
    }

    public func run(_ argv: [String], timeoutSeconds: Double? = nil) throws -> ProcessResult {
        guard let first = argv.first, let path = which(first) else { throw ExecutableNotFound(name: argv.first ?? "") }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: path)
        process.arguments = Array(argv.dropFirst())
        process.environment = environment
        process.standardInput = FileHandle.nullDevice
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        let errData = Locked(Data())
        let reader = Thread { errData.set(err.fileHandleForReading.readDataToEndOfFile()) }
        reader.start()
        // A timer source, not asyncAfter: a cancelled DispatchWorkItem stays queued (holding the
        // Process, its pipes and environment) until its deadline, so a monitor spawning docker
        // every scrape held a minute of them; a cancelled source releases its handler at once.
        var timer: DispatchSourceTimer?
        if let timeoutSeconds {
            let t = DispatchSource.makeTimerSource(queue: .global())
            t.setEventHandler { if process.isRunning { process.terminate() } }
            t.schedule(deadline: .now() + timeoutSeconds)
            t.resume()
            timer = t
        }
        let outData = out.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        timer?.cancel()
        while !reader.isFinished { Thread.sleep(forTimeInterval: 0.005) }
        return ProcessResult(status: process.terminationStatus, stdout: String(decoding: outData, as: UTF8.self),
                             stderr: String(decoding: errData.get(), as: UTF8.self))
    }
}

/// A value shared between threads.
public final class Locked<T>: @unchecked Sendable {
    private var value: T
    private let lock = NSLock()
    public init(_ value: T) { self.value = value }
    public func get() -> T { lock.lock(); defer { lock.unlock() }; return value }
    public func set(_ v: T) { lock.lock(); value = v; lock.unlock() }
}
