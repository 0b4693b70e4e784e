import ArgumentParser
import Diagnostics
import Drills
import Foundation
import OperationsCore
import Stack
import State
import Telemetry

struct FailoverTest: CdcCommand {
    static let configuration = CommandConfiguration(
        commandName: "failover-test",
        abstract: "Take one broker down under an idempotent acks=all load; prove nothing acked is lost or doubled; record the run.",
        discussion: """
            Phases: steady (--warmup) → fault on the target (--fault) → restore → recovery (until healed, at most
            --recovery-timeout) → drain (the consumer reaches the last acked offset of every partition). The target is
            restored on every exit path: error, timeout, SIGINT and SIGTERM. Preflight refuses (exit 3) unless every broker
            is live, nothing is under-replicated or under min ISR, and the target can go without dropping a partition
            below min.insync.replicas (--force runs anyway). Exit 0 passed, 1 a condition violated (each is named).
            Runs are kept in the state store: --list, --show ID, cdcctl history. docs/failover.md says what each engine shows.
            """)

    @ParentCommand var parent: CDCCtl
    var global: GlobalOptions { parent.global }

    @Argument(help: "The broker to take down: broker-N (or kafka-N, its compose service).")
    var target: String?

    @Option(help: "kill (SIGKILL, a hard bounce), stop (clean shutdown), pause (frozen process) or disconnect (network partition).")
    var mode: FaultMode = .kill

    @Option(help: "Messages per second the producer sends.") var rate: Int = 1000
    @Option(help: "Seconds of steady load before the fault.") var warmup: Double = 20
    @Option(help: "Seconds the target stays down.") var fault: Double = 30
    @Option(help: "Seconds to wait after the restore until the cluster is healed.") var recoveryTimeout: Double = 120
    @Option(help: "Partitions of the test topic _cdcctl_failover (RF 3, min.insync.replicas 2).") var partitions: Int = 6
    @Flag(help: "Run even when the preflight finds the cluster unhealthy.") var force = false
    @Flag(help: "Also write orders to MySQL with the order generator during the whole run and check afterwards that every change is in ClickHouse exactly once (cdc_orders_raw, cdc_order_executions_raw, orders_current) once the processor caught up: condition 7.")
    var throughPipeline = false
    @Option(help: ArgumentHelp("Write a picture of the run: FILE.html or FILE.svg (self-contained, no network).", valueName: "file"))
    var report: String?
    @Flag(help: "List the recorded failover runs, newest first.") var list = false
    @Option(help: ArgumentHelp("Show one recorded run.", valueName: "id")) var show: Int64?

    func validate() throws {
        if list || show != nil {
            guard target == nil else { throw ValidationError("--list and --show take no target") }
            return
        }
        guard target != nil else { throw ValidationError("name the broker to take down, e.g. `cdcctl failover-test broker-2` (or --list / --show ID)") }
        guard rate > 0, rate <= 100_000 else { throw ValidationError("--rate must be 1…100000 messages per second") }
        guard warmup >= 0, fault > 0, recoveryTimeout > 0 else {
            throw ValidationError("--warmup must be ≥ 0 seconds; --fault and --recovery-timeout positive seconds")
        }
        guard partitions > 0 else { throw ValidationError("--partitions must be positive") }
        if let report, (try? FailoverOperation.reportFormat(report)) == nil {
            throw ValidationError("--report '\(report)' must end in .html or .svg (e.g. --report run.html)")
        }
    }

    var journal: JournalSpec? {
        guard !list, show == nil, let target else { return nil }
        var args = [target, "--mode", mode.rawValue, "--rate", String(rate), "--warmup", Self.n(warmup), "--fault", Self.n(fault),
                    "--recovery-timeout", Self.n(recoveryTimeout), "--partitions", String(partitions)]
        if force { args.append("--force") }
        if throughPipeline { args.append("--through-pipeline") }
        if let report { args += ["--report", report] }
        // The drill traps SIGINT/SIGTERM itself: it restores the target, then returns its verdict.
        return JournalSpec(command: "failover-test", arguments: args, handlesSignals: true)
    }

    static func n(_ v: Double) -> String { v == v.rounded() ? String(Int(v)) : String(v) }

    func execute(_ context: CommandContext) throws -> CommandResult {
        if list { return listRuns(try FailoverOperation.list(context.workspace)) }
        if let show { return showRun(try FailoverOperation.show(context.workspace, id: show)) }
        let m = try context.manifest().manifest
        let t = try FailoverTarget.resolve(target ?? "", brokers: m.kafka.brokers)
        var p = FailoverParameters(target: t, mode: mode, ratePerSecond: rate, warmupSeconds: warmup, faultSeconds: fault,
                                   recoveryTimeoutSeconds: recoveryTimeout, partitions: partitions, force: force, engine: m.kafka.engine)
        p.throughPipeline = throughPipeline
        let runtime = try UpOperation.runtime(context.workspace, manifest: m)
        // SIGINT/SIGTERM go through the processor's ServiceHost: they set the stop flag, the drill restores the target.
        let drill = FailoverDrill { stop in
            try FailoverOperation.run(context.workspace, manifest: m, parameters: p, runtime: runtime, reportPath: report,
                                      progress: context.progress, cancel: stop)
        }
        try ServiceHost.run(drill, secondSignal: .ignore, log: { context.progress.step($0) })
        guard let r = drill.report else { throw CdcError.failed("the drill ended without a report", subject: "failover-test") }
        var notes: [String] = []
        if r.verdict != "passed" {
            notes.append("failover-test \(r.verdict)" + (r.violated.isEmpty ? "" : ": " + r.violated.map { "\($0.number). \($0.name)" }.joined(separator: ", ")))
        }
        return CommandResult(json: r, table: FailoverSummary.text(r), exitCode: r.exitCode, notes: notes,
                             detail: "run \(r.runId ?? 0): \(r.verdict)")
    }

    func listRuns(_ runs: [TestRunRecord]) -> CommandResult {
        CommandResult(json: runs.map(RunRow.init), table: runs.isEmpty ? "no failover runs recorded" : Self.table(runs))
    }

    static func table(_ runs: [TestRunRecord]) -> String {
        var rows = [["ID", "WHEN (UTC)", "CLUSTER", "TARGET", "MODE", "VERDICT", "DURATION", "SUMMARY"]]
        for r in runs {
            rows.append([String(r.id ?? 0), UTCTime.format(r.startedAtMs), r.cluster ?? "-", r.target, r.mode, r.verdict,
                         String(format: "%.1f s", Double(r.durationMs) / 1000), r.summary])
        }
        return TextTable.render(rows)
    }

    func showRun(_ r: TestRunRecord) -> CommandResult {
        let decode = { (s: String) in (try? JSONSerialization.jsonObject(with: Data(s.utf8))) ?? [:] }
        var lines = [Self.table([r])]
        if let conditions = decode(r.conditions) as? [[String: Any]] {
            lines.append("conditions:")
            for c in conditions {
                let mark = ConditionOutcome(rawValue: c["outcome"] as? String ?? "")?.mark ?? "?"
                lines.append("  \(mark) \(c["number"] ?? ""). \(c["name"] ?? ""): \(c["detail"] ?? "")")
            }
        }
        lines.append("parameters: \(r.parameters)")
        lines.append("figures: \(r.figures)")
        return CommandResult(json: ShowRow(run: RunRow(r), parameters: JSONText(r.parameters), figures: JSONText(r.figures),
                                           conditions: JSONText(r.conditions), timeline: JSONText(r.timeline)),
                             table: lines.joined(separator: "\n"))
    }

    struct RunRow: Encodable {
        var id: Int64?, cluster: String?, target: String, mode: String, startedAtMs: Int64, durationMs: Int64, verdict: String
        var exitCode: Int32, summary: String
        init(_ r: TestRunRecord) {
            id = r.id; cluster = r.cluster; target = r.target; mode = r.mode; startedAtMs = r.startedAtMs; durationMs = r.durationMs
            verdict = r.verdict; exitCode = r.exitCode; summary = r.summary
        }
    }

    struct ShowRow: Encodable {
        var run: RunRow, parameters: JSONText, figures: JSONText, conditions: JSONText, timeline: JSONText
    }

    /// Stored JSON passed through as JSON (not as a string).
    struct JSONText: Encodable {
        var text: String
        init(_ text: String) { self.text = text }
        func encode(to encoder: Encoder) throws {
            var c = encoder.singleValueContainer()
            try c.encode(AnyJSON(try JSONSerialization.jsonObject(with: Data(text.utf8), options: [.fragmentsAllowed])))
        }
    }

    struct AnyJSON: Encodable {
        var value: Any
        init(_ v: Any) { value = v }
        func encode(to encoder: Encoder) throws {
            var c = encoder.singleValueContainer()
            switch value {
            case let d as [String: Any]: try c.encode(d.mapValues(AnyJSON.init))
            case let a as [Any]: try c.encode(a.map(AnyJSON.init))
            case let s as String: try c.encode(s)
            case let n as NSNumber:
                if String(cString: n.objCType) == "c" { try c.encode(n.boolValue) }
                else if n.doubleValue == n.doubleValue.rounded(), abs(n.doubleValue) < 1e15 { try c.encode(n.int64Value) }
                else { try c.encode(n.doubleValue) }
            default: try c.encodeNil()
            }
        }
    }
}

extension FaultMode: ExpressibleByArgument {}
