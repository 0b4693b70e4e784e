import Diagnostics
import Foundation
import Synchronization

/// Set when a long-running service must stop (a signal, a test, the service itself); read by
/// its loop. A Mutex, not a lock behind `@unchecked Sendable`: the compiler checks it.
public final class StopFlag: Sendable {
    private let state = Mutex<(isSet: Bool, reason: String?)>((false, nil))

    public init() {}

    public var isSet: Bool { state.withLock { $0.isSet } }

    /// Why it was set first (`SIGTERM`, …), for the log.
    public var reason: String? { state.withLock { $0.reason } }

    /// Sets the flag; the first reason is kept. Returns true if it was already set.
    @discardableResult
    public func set(reason: String? = nil) -> Bool {
        state.withLock { s in
            let was = s.isSet
            if !was { s = (true, reason) }
            return was
        }
    }
}

/// One shape for long-running work (the processor now; producers, a monitor and the failover
/// drill too): run in the foreground until stopped or done, then drain — finish in-flight work,
/// flush, commit (or restore what it changed) — and return. A service that cannot drain throws
/// (exit 1, with what was left undone).
public protocol Service: AnyObject {
    /// For logs: `processor`.
    var name: String { get }
    /// Runs until `stop` is set (or the work is done), then drains.
    func run(until stop: StopFlag) throws
    /// What the first signal makes it do, for the log line (default: drain, flush and commit).
    var stopping: String { get }
}

extension Service {
    public var stopping: String { "draining (flush and commit) before exit; send it again to exit at once" }
}

/// Runs services with the shared signal handling: the first SIGTERM or SIGINT asks the service
/// to drain (exit 0 when it did, 1 when it could not); a second one exits at once with
/// 128 + signal, without draining (nothing half-committed: what was not committed is replayed) —
/// unless `secondSignal` is `.ignore`, for work that must finish undoing what it did (the
/// failover drill restores the broker it took down, whatever the operator presses).
public enum ServiceHost {
    public enum SecondSignal: Sendable { case exit, ignore }

    public static func run(_ service: some Service, stop: StopFlag = StopFlag(), signals: [Int32] = [SIGTERM, SIGINT],
                           secondSignal: SecondSignal = .exit, log: @escaping (String) -> Void) throws {
        let name = service.name, stopping = service.stopping
        let sources = signals.map { sig -> DispatchSourceSignal in
            // Off the default action (terminate) before the source exists. A handler already there
            // is libdispatch's from an earlier run in this process (it installs it only once per
            // signal): put it back, or the signal would be ignored and never reach this source.
            let previous = signal(sig, SIG_IGN)
            if ![0, 1].contains(unsafeBitCast(previous, to: Int.self)) { signal(sig, previous) }  // 0 SIG_DFL, 1 SIG_IGN
            let source = DispatchSource.makeSignalSource(signal: sig, queue: .global())
            source.setEventHandler {
                let label = sig == SIGTERM ? "SIGTERM" : sig == SIGINT ? "SIGINT" : "signal \(sig)"
                if stop.set(reason: label) {
                    guard secondSignal == .exit else {
                        log("\(name): \(label) again, still stopping: \(stopping)")
                        return
                    }
                    log("\(name): second \(label), exiting without draining (the next run replays what was not committed)")
                    exit(128 + sig)
                }
                log("\(name): \(label), \(stopping)")
            }
            source.resume()
            return source
        }
        // The sources are cancelled, the dispositions left as they are: resetting them to SIG_DFL
        // here made the next ServiceHost in the same process (tests run several) miss its signals,
        // since libdispatch installs its own handler only once per signal.
        defer { for s in sources { s.cancel() } }
        try service.run(until: stop)
    }
}
