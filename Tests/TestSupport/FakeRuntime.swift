import Diagnostics
import Foundation
import Runtime

/// A FAKE container engine, named as such: it answers the `Runtime` protocol from a script and
/// records what it was asked, so the deciding code above it (status verdicts, the health gate,
/// failover phases) is unit-tested without Docker. Everything that talks to a real engine is
/// tested against the project's own dockerd (scripts/docker-testbed) instead.
public final class FakeRuntime: Runtime, @unchecked Sendable {
    private let lock = NSLock()
    private var _services: [ServiceStatus]
    private var _calls: [String] = []
    /// Thrown by every call when set (an engine that is not there).
    public var unavailable: RuntimeError?
    public var statsAnswer: [ServiceStats] = []

    public init(services: [ServiceStatus] = []) { _services = services }

    public var calls: [String] { lock.withLock { _calls } }

    public func set(_ services: [ServiceStatus]) { lock.withLock { _services = services } }

    private func record(_ call: String) throws {
        lock.withLock { _calls.append(call) }
        if let unavailable { throw unavailable }
    }

    public func check() throws -> RuntimeInfo {
        try record("check")
        return RuntimeInfo(engineVersion: "fake", compose: "fake", composeVersion: "0")
    }
    public func up(services: [String], forceRecreate: Bool) throws { try record("up \(services.joined(separator: ","))") }
    public func down(volumes: Bool) throws { try record("down\(volumes ? " --volumes" : "")") }
    public func start(_ services: [String]) throws { try record("start \(services.joined(separator: ","))") }
    public func stop(_ services: [String], timeoutSeconds: Int) throws { try record("stop \(services.joined(separator: ","))") }
    public func kill(_ services: [String], signal: String) throws { try record("kill -\(signal) \(services.joined(separator: ","))") }
    public func pause(_ services: [String]) throws { try record("pause \(services.joined(separator: ","))") }
    public func unpause(_ services: [String]) throws { try record("unpause \(services.joined(separator: ","))") }
    public func disconnect(_ service: String) throws { try record("disconnect \(service)") }
    public func reconnect(_ service: String) throws { try record("reconnect \(service)") }
    public func services() throws -> [ServiceStatus] {
        try record("services")
        return lock.withLock { _services }
    }
    public func stats() throws -> [ServiceStats] {
        try record("stats")
        return statsAnswer
    }
    public func logs(_ service: String, tail: Int) throws -> String {
        try record("logs \(service)")
        return ""
    }
}
