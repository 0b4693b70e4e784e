import ArgumentParser
import Diagnostics
import Foundation
import OperationsCore
import Reports

struct DiskReportCommand: CdcCommand {
    static let configuration = CommandConfiguration(
        commandName: "disk",
        abstract: "Each service's disk now and the steady state the manifest's retentions imply, against cluster.host.disk. Exit 3 when the steady state passes 80 % of the disk or a volume's filesystem is above 85 % now.",
        discussion: """
            Kafka: retention.bytes × partitions × replicas per broker (retention time × the measured rate for topics
            bounded by time only); binlogs: expiry × measured rate; ClickHouse: longest TTL × measured growth;
            Prometheus: retention × series × samples per day × 2 bytes. Rates come from --sample (the volumes'
            growth over that many seconds). docs/operations.md says more.
            """)

    @ParentCommand var parent: Report
    var global: GlobalOptions { parent.global }

    @Option(help: ArgumentHelp("Measure each volume's growth over this many seconds (0: no rates).", valueName: "seconds"))
    var sample: Double = 0

    func validate() throws {
        guard sample >= 0, sample <= 3600 else { throw ValidationError("--sample \(sample): expected seconds from 0 to 3600") }
    }

    func execute(_ context: CommandContext) throws -> CommandResult {
        let r = try DiskOperation.run(context.workspace, sampleSeconds: sample, log: context.log)
        var rows = [["SERVICE", "USED NOW", "STEADY STATE", "GROWTH/DAY", "BASIS"]]
        for row in r.rows {
            rows.append([row.service, row.usedBytes.map(DiskVerdict.fmt) ?? "-", row.steadyBytes.map(DiskVerdict.fmt) ?? "unknown",
                         row.bytesPerDay.map(DiskVerdict.fmt) ?? "-", row.basis])
        }
        var out = [TextTable.render(rows), ""]
        out.append(String(format: "disk %@ (cluster.host.disk): used now %@, steady state %@ (%.1f %%)", DiskVerdict.fmt(r.diskBytes),
                          DiskVerdict.fmt(r.usedBytes), DiskVerdict.fmt(r.predictedBytes), r.predictedPercent))
        for f in r.filesystems { out.append(String(format: "filesystem of %@: %.1f %% used (%@)", f.volume, f.percentUsed, f.path)) }
        out += r.notes.map { "note: " + $0 }
        out.append(r.healthy ? "ok" : "UNHEALTHY:\n" + r.problems.map { "  - " + $0 }.joined(separator: "\n"))
        return CommandResult(json: r, table: out.joined(separator: "\n"), exitCode: r.healthy ? 0 : 3,
                             detail: r.healthy ? "ok" : "\(r.problems.count) problems")
    }
}
