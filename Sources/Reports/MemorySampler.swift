import Diagnostics
import Foundation
import OperationsCore
import Runtime
import Telemetry

/// `cdcctl report memory --record --every`: one reading per interval into the history, a log
/// line for each, and the latest figures on /metrics for the stack's Prometheus. A reading that
/// fails is logged and the next one is taken as usual; SIGTERM (systemd's stop) ends it between
/// readings with exit 0, never in the middle of writing samples.
public final class MemorySamplerService: Service {
    public let name = "memory-sampler"
    public var stopping: String { "stopping after the current reading" }
    let workspace: Workspace
    let options: MemoryOperation.Options
    let intervalMs: Int64
    /// 0: no /metrics.
    let metricsPort: Int
    /// What chose the port, for errors (`--metrics-port` or `reports.memoryMetricsPort`).
    let portSource: String
    let log: @Sendable (String) -> Void
    private let latest = Locked("")

    public init(workspace: Workspace, options: MemoryOperation.Options, intervalMs: Int64, metricsPort: Int, portSource: String,
                log: @escaping @Sendable (String) -> Void) {
        self.workspace = workspace
        self.options = options
        self.intervalMs = intervalMs
        self.metricsPort = metricsPort
        self.portSource = portSource
        self.log = log
    }

    public func run(until stop: StopFlag) throws {
        var server: MetricsServer?
        if metricsPort > 0 {
            // A port already held is refused naming portSource, with what to do (MetricsServer's error).
            server = try MetricsServer.scrapedByTheStack(port: metricsPort, source: portSource) { [latest] in latest.get() }
            log("memory sampler: metrics on " + (server?.addresses ?? []).map { "http://\($0):\(metricsPort)/metrics" }.joined(separator: " and "))
        }
        defer { withExtendedLifetime(server) {} }
        var readings = 0
        while !stop.isSet {
            let started = Date()
            do {
                let r = try MemoryOperation.run(workspace, options: options)
                let report = r.report
                let text = MemoryMetrics.exposition(report)
                latest.set(text)
                readings += 1
                log("\(UTCTime.format(report.atMs)) recorded \(r.recorded) samples, total \(Bytes.mib(report.totals.usageBytes)) of budget \(Bytes.mib(report.totals.budgetBytes))"
                    + (report.healthy ? "" : "; " + report.problems.map(\.description).joined(separator: "; ")))
            } catch {
                log("error: " + CdcError.bridging(error).description)
            }
            // In slices, so a stop is seen within a fraction of a second, not after the interval.
            let next = started.addingTimeInterval(Double(intervalMs) / 1000)
            while !stop.isSet, Date() < next { Thread.sleep(forTimeInterval: min(0.2, max(0, next.timeIntervalSinceNow))) }
        }
        log("memory sampler: stopped after \(readings) reading(s) (\(stop.reason ?? "asked to"))")
    }
}
