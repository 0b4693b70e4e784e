import Foundation
import Synchronization

/// One part of the stack the monitor reads (Kafka, Connect, MySQL, ClickHouse, containers,
/// disk, the processor). `collect` may block on the network; the runner bounds it.
public protocol Collector: AnyObject, Sendable {
    /// `kafka`, `connect`, …: the `collector` label of `cdcctl_monitor_collector_up`.
    var name: String { get }
    func collect(into out: inout Exposition) throws
}

/// What one collector gave in one scrape.
public struct CollectorOutcome: Sendable, Equatable {
    public enum Status: String, Sendable { case ok, failed, timedOut = "timed out", stillRunning = "still running" }
    public var name: String
    public var status: Status
    public var text: String
    public var seconds: Double
    public var error: String?
}

/// Runs every collector at once, each on its own thread, and waits at most `timeout` for all.
/// One scrape never hangs: a collector that has not answered by then is reported with
/// `cdcctl_monitor_collector_up{collector=…} 0` and left to finish on its own (it is not started
/// again while it still runs, so a hung server costs one thread, not one per scrape); a collector
/// that throws is `0` too, and the others' families are exported as usual.
public final class CollectorRunner: Sendable {
    public let collectors: [any Collector]
    public let timeout: Double
    private let running = Mutex<Set<String>>([])

    public init(_ collectors: [any Collector], timeout: Double) {
        self.collectors = collectors
        self.timeout = timeout
    }

    final class Slot: Sendable {
        let value = Mutex<CollectorOutcome?>(nil)
    }

    public func run() -> [CollectorOutcome] {
        let group = DispatchGroup()
        var slots: [(any Collector, Slot, Bool)] = []
        for c in collectors {
            let slot = Slot()
            let started = running.withLock { $0.insert(c.name).inserted }
            slots.append((c, slot, started))
            guard started else { continue }
            group.enter()
            let name = c.name
            Thread.detachNewThread { [self] in
                let t0 = DispatchTime.now().uptimeNanoseconds
                var out = Exposition()
                var outcome: CollectorOutcome
                do {
                    try c.collect(into: &out)
                    outcome = CollectorOutcome(name: name, status: .ok, text: out.text, seconds: Self.since(t0), error: nil)
                } catch {
                    outcome = CollectorOutcome(name: name, status: .failed, text: out.text, seconds: Self.since(t0),
                                               error: String(String(describing: error).split(separator: "\n").first ?? ""))
                }
                slot.value.withLock { $0 = outcome }
                running.withLock { _ = $0.remove(name) }
                group.leave()
            }
        }
        _ = group.wait(timeout: .now() + timeout)
        return slots.map { c, slot, started in
            if !started { return CollectorOutcome(name: c.name, status: .stillRunning, text: "", seconds: 0, error: "the previous scrape's call has not returned") }
            return slot.value.withLock { $0 } ?? CollectorOutcome(name: c.name, status: .timedOut, text: "", seconds: timeout,
                                                                  error: "no answer within \(Exposition.format(timeout)) s")
        }
    }

    static func since(_ t0: UInt64) -> Double { Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9 }

    /// The scrape's text: each collector's families, then whether each answered and how long it took.
    public static func exposition(_ outcomes: [CollectorOutcome]) -> String {
        var e = Exposition()
        for o in outcomes where o.status == .ok || o.status == .failed { e.append(raw: o.text) }
        e.gauge("cdcctl_monitor_collector_up", "1 when the collector read its part of the stack in this scrape; 0 when it failed or timed out.",
                outcomes.map { ([("collector", $0.name)], $0.status == .ok ? 1 : 0) })
        e.gauge("cdcctl_monitor_collector_duration_seconds", "How long the collector took in this scrape (the timeout when it did not answer).",
                outcomes.map { ([("collector", $0.name)], ($0.seconds * 1000).rounded() / 1000) })
        return e.text
    }
}
