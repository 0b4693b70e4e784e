import Diagnostics
import Foundation
import Kafka
import Manifest
import OperationsCore
import Runtime
import State
import Telemetry

/// `cdcctl failover-test`: preflight, drive the phases, judge, record in `test_runs`, write the picture.
public enum FailoverOperation {
    public static let kind = "failover"

    /// Runs one drill against the manifest's cluster. A refused preflight is recorded and thrown (exit 3).
    public static func run(_ ws: Workspace, manifest m: Manifest, parameters p: FailoverParameters, runtime: Runtime,
                           reportPath: String?, progress: ProgressSink, cancel: StopFlag) throws -> FailoverReport {
        if let reportPath { _ = try reportFormat(reportPath) }
        let observer = try KafkaFailoverObserver(manifest: m, parameters: p)
        let runId = String(UUID().uuidString.prefix(8)).lowercased()
        let workload = LazyWorkload {
            KafkaFailoverWorkload(settings: KafkaSettings(bootstrap: m.access.kafkaBootstrap, clientId: "cdcctl-failover"),
                                  parameters: p, partitions: observer.partitions, runId: runId)
        }
        let driver = FailoverDriver(parameters: p, runtime: runtime, workload: workload, observer: observer, cancel: cancel,
                                    progress: progress, nowMs: ws.environment.nowMs)
        let started = ws.environment.nowMs()
        var history: FailoverHistory
        // --through-pipeline: orders into MySQL for the whole run, followed to ClickHouse afterwards.
        let pipeline = p.throughPipeline ? try PipelineLoad(ws, manifest: m, catchUpTimeoutSeconds: max(60, p.recoveryTimeoutSeconds)) : nil
        do {
            try pipeline?.start(progress: progress.step)
            history = try driver.run()
        } catch {
            _ = pipeline?.stopGenerator()
            let code = CdcErrors.exitCode(of: error)
            if code == 3 {
                _ = try? ws.openState().recordTestRun(TestRunRecord(
                    cluster: m.cluster.name, kind: kind, target: p.target.service, mode: p.mode.rawValue, startedAtMs: started,
                    durationMs: ws.environment.nowMs() - started, verdict: "refused", exitCode: 3,
                    summary: "preflight refused: " + ((error as? CdcErrors)?.errors.map(\.message).joined(separator: "; ") ?? CdcError.bridging(error).message),
                    parameters: json(p), figures: "{}", conditions: "[]", timeline: "[]"))
            }
            throw error
        }
        if let pipeline {
            if history.interrupted != nil {
                _ = pipeline.stopGenerator()
                history.pipeline = PipelineObservation(error: "interrupted before MySQL and ClickHouse were compared")
            } else {
                history.pipeline = pipeline.finish(progress: progress.step)
            }
        }
        var report = FailoverVerdict.judge(history)
        report.reportFile = reportPath
        report.messageTag = runId
        report.runId = try ws.openState().recordTestRun(record(report, cluster: m.cluster.name))
        if let reportPath { try write(report, to: reportPath) }
        return report
    }

    public enum ReportFormat { case svg, html }

    public static func reportFormat(_ path: String) throws -> ReportFormat {
        let lower = path.lowercased()
        if lower.hasSuffix(".svg") { return .svg }
        if lower.hasSuffix(".html") || lower.hasSuffix(".htm") { return .html }
        throw CdcError.invalid("report file '\(path)' must end in .html or .svg", subject: "--report", fix: "pass --report run.html or --report run.svg")
    }

    public static func write(_ r: FailoverReport, to path: String) throws {
        let text = try reportFormat(path) == .svg ? FailoverChart.svg(r) : FailoverChart.html(r)
        do {
            try Data(text.utf8).write(to: URL(fileURLWithPath: path), options: .atomic)
        } catch {
            throw CdcError.failed("cannot write the report: \(error.localizedDescription)", subject: path)
        }
    }

    public static func record(_ r: FailoverReport, cluster: String) -> TestRunRecord {
        let violated = r.violated.map { "\($0.number). \($0.name)" }
        let g = r.figures
        var summary = violated.isEmpty ? "" : "violated: " + violated.joined(separator: ", ") + "; "
        summary += "acked \(g.acked), lost \(g.missingCount), duplicates \(g.duplicates), acked during fault \(g.ackedDuringFault), "
        let stall: String = g.maxStall.map { String(format: "%.2f s", $0.seconds) } ?? "-"
        summary += "max stall " + stall
        if let p = r.pipeline, p.error == nil {
            summary += "; pipeline \(p.committedChanges) changes, \(p.rawOrderEvents) in ClickHouse"
        }
        if let i = r.interrupted { summary += "; interrupted by \(i)" }
        if let e = r.error { summary += "; error: \(e)" }
        return TestRunRecord(cluster: cluster, kind: kind, target: r.parameters.target.service, mode: r.parameters.mode.rawValue,
                             startedAtMs: r.startedAtMs, durationMs: Int64(r.durationSeconds * 1000), verdict: r.verdict,
                             exitCode: r.exitCode, summary: summary, parameters: json(r.parameters), figures: json(r.figures),
                             conditions: json(r.conditions), timeline: json(TimelineRecord(phases: r.phases, faultAt: r.faultAt,
                                                                                           restoredAt: r.restoredAt, healedAt: r.healedAt,
                                                                                           restore: r.restore, seconds: r.timeline)))
    }

    struct TimelineRecord: Codable {
        var phases: [PhaseSpan]
        var faultAt: Double?
        var restoredAt: Double?
        var healedAt: Double?
        var restore: String?
        var seconds: [TimelinePoint]
    }

    static func json<T: Encodable>(_ v: T) -> String {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys]
        return (try? e.encode(v)).map { String(decoding: $0, as: UTF8.self) } ?? "{}"
    }

    public static func list(_ ws: Workspace, limit: Int = 50) throws -> [TestRunRecord] {
        try ws.existingState()?.testRuns(limit: limit, kind: kind) ?? []
    }

    public static func show(_ ws: Workspace, id: Int64) throws -> TestRunRecord {
        guard let r = try ws.existingState()?.testRun(id: id), r.kind == kind else {
            throw CdcError.invalid("no failover run \(id) in \(ws.statePath)", subject: "--show", fix: "cdcctl failover-test --list shows the runs")
        }
        return r
    }
}

/// The workload is made after the preflight (which learns the test topic's partition count).
final class LazyWorkload: FailoverWorkload {
    let make: () -> FailoverWorkload
    var inner: FailoverWorkload?
    init(_ make: @escaping () -> FailoverWorkload) { self.make = make }
    func start(now: @escaping @Sendable () -> Double) throws {
        let w = make()
        inner = w
        try w.start(now: now)
    }
    var ackedCount: Int { inner?.ackedCount ?? 0 }
    func stopSending(flushTimeoutSeconds: Double) { inner?.stopSending(flushTimeoutSeconds: flushTimeoutSeconds) }
    func drained() -> Bool { inner?.drained() ?? true }
    func finish() -> (sent: Int64, acks: [AckRecord], consumed: [ConsumedRecord]) { inner?.finish() ?? (0, [], []) }
}

/// One drill as a Telemetry `Service`, so the failover test stops on SIGINT/SIGTERM the way the
/// processor does (`ServiceHost`): the signal sets the `StopFlag`, the driver stops at its next
/// step and restores the target, and the run is recorded as `interrupted`. A second signal does
/// not end it early (`ServiceHost.SecondSignal.ignore`): the broker is restored first. (SIGKILL
/// cannot be caught: then `docker start <cluster>-kafka-N`.)
public final class FailoverDrill: Service {
    public let name = "failover-test"
    public var stopping: String { "stopping; the target is restored first (a second signal does not skip that)" }
    let body: (StopFlag) throws -> FailoverReport
    public private(set) var report: FailoverReport?

    public init(_ body: @escaping (StopFlag) throws -> FailoverReport) { self.body = body }

    public func run(until stop: StopFlag) throws { report = try body(stop) }
}
