import ArgumentParser
import Diagnostics
import Foundation
import OperationsCore
import Polling
import TopicAdmin

struct Topics: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Kafka topics from the manifest: plan, apply, describe, health.",
        subcommands: [Plan.self, Apply.self, Describe.self, Health.self])

    @ParentCommand var root: CDCCtl
    var global: GlobalOptions { root.global }

    struct Plan: CdcCommand {
        static let configuration = CommandConfiguration(abstract: "Show what apply would change. Exit 3 when the cluster differs.")
        @ParentCommand var parent: Topics
        var global: GlobalOptions { parent.global }
        @Flag(help: "Also exit 3 for topics on the cluster that the manifest does not declare.")
        var failOnExtra = false

        func execute(_ context: CommandContext) throws -> CommandResult {
            let steps = try TopicsOperation(manifest: try context.manifest().manifest).plan()
            let drift = TopicPlanner.hasDrift(steps, countExtra: failOnExtra)
            let next = drift ? TopicPlanner.nextStep(steps).map { "\nnext: \($0)" } ?? "" : ""
            return CommandResult(json: steps, table: TopicsTable.plan(steps) + next, exitCode: drift ? 3 : 0)
        }
    }

    struct Apply: CdcCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create missing topics and fix config drift. Idempotent; refuses unsafe changes.")
        @ParentCommand var parent: Topics
        var global: GlobalOptions { parent.global }
        @Flag(help: "Show the plan and check it against the live brokers without changing anything.")
        var dryRun = false

        var journal: JournalSpec? { JournalSpec(command: "topics apply", arguments: dryRun ? ["--dry-run"] : []) }

        func execute(_ context: CommandContext) throws -> CommandResult {
            let r = try TopicsOperation(manifest: try context.manifest().manifest).apply(dryRun: dryRun)
            var lines = [TopicsTable.plan(r.steps)]
            if r.dryRun {
                lines.append("dry run: nothing changed")
            } else if r.changed {
                lines += ["created \(r.created.count), altered \(r.altered.count) topic(s)", "next: cdcctl topics health"]
            } else {
                lines.append("no changes: every topic matches the manifest")
            }
            return CommandResult(json: r, table: lines.joined(separator: "\n"),
                                 detail: r.dryRun ? "dry run" : "created \(r.created.count), altered \(r.altered.count)")
        }
    }

    struct Describe: CdcCommand {
        static let configuration = CommandConfiguration(abstract: "Partitions, leaders, replicas, ISR and configs.")
        @ParentCommand var parent: Topics
        var global: GlobalOptions { parent.global }
        @Argument(help: "A topic; all manifest topics when omitted.") var topic: String?

        func execute(_ context: CommandContext) throws -> CommandResult {
            let topics = try TopicsOperation(manifest: try context.manifest().manifest).describe(topic)
            let text = topics.map { t in
                let configs = t.configs.filter { !$0.isDefault }.map { "\($0.name)=\($0.isSensitive ? Redact.mask : $0.value ?? "")" }
                return "TOPIC \(t.name)\n" + TopicsTable.partitions(t.partitions) + "\nconfigs: "
                    + (configs.isEmpty ? "(defaults)" : configs.joined(separator: " ")) + "\n"
            }
            return CommandResult(json: topics, table: text.joined(separator: "\n"))
        }
    }

    struct Health: CdcCommand {
        static let configuration = CommandConfiguration(
            abstract: "Under-replicated, under-min-ISR and leaderless partitions. Exit 0 healthy, 3 unhealthy.")
        @ParentCommand var parent: Topics
        var global: GlobalOptions { parent.global }
        @Flag(help: "Keep checking until healthy (or --timeout).") var exitWhenHealthy = false
        @Option(help: "Seconds to wait with --exit-when-healthy.") var timeout: Double = 60

        func validate() throws {
            guard timeout > 0 else { throw ValidationError("--timeout must be positive seconds") }
        }

        func execute(_ context: CommandContext) throws -> CommandResult {
            let op = try TopicsOperation(manifest: try context.manifest().manifest)
            var report = try op.health()
            if exitWhenHealthy && !report.healthy {
                report = try Poll.until(Deadline(seconds: timeout), backoff: .every(1), waiting: { _ in
                    context.log("waiting: \(report.problems.count) problem(s), first: \(report.problems.first ?? "")")
                }) { () -> TopicHealthReport? in
                    report = try op.health()
                    return report.healthy ? report : nil
                } ?? report
            }
            return CommandResult(json: report, table: TopicsTable.health(report), exitCode: report.healthy ? 0 : 3)
        }
    }
}

enum TopicsTable {
    static func health(_ report: TopicHealthReport) -> String {
        var lines = ["brokers: \(report.brokersLive) of \(report.brokersExpected) live"
                     + report.brokers.filter { !$0.live }.map { "; \($0.label) DOWN" }.joined()]
        // Internal topics (offsets, Connect's, …) have many partitions: only the unhealthy ones get rows.
        let internalOk = report.partitions.filter { $0.internalTopic && $0.healthy && $0.ledByPreferred }
        lines.append(partitions(report.partitions.filter { p in !internalOk.contains(p) }))
        if !internalOk.isEmpty {
            lines.append("internal topics: \(internalOk.count) more partition(s) ok (\(Set(internalOk.map(\.topic)).sorted().joined(separator: ", ")))")
        }
        lines += report.warnings.map { "warning: \($0)" }
        lines += report.drift.map { "drift: \($0)" }
        let verdict: String = report.healthy ? "healthy" : "UNHEALTHY:\n" + report.problems.map { "  - " + $0 }.joined(separator: "\n")
        lines.append(verdict)
        return lines.joined(separator: "\n")
    }

    static func plan(_ steps: [TopicStep]) -> String {
        var rows = [["TOPIC", "ACTION", "PARTITIONS", "RF", "DETAIL"]]
        for s in steps {
            let detail = s.reason ?? s.changes.map(\.summary).joined(separator: "; ")
            rows.append([s.topic, s.kind.rawValue, s.partitions.map(String.init) ?? "-", s.replicationFactor.map(String.init) ?? "-",
                         s.kind == .create ? "" : detail])
        }
        return TextTable.render(rows)
    }

    static func partitions(_ ps: [PartitionHealth]) -> String {
        var rows = [["TOPIC", "PARTITION", "LEADER", "REPLICAS", "ISR", "MIN-ISR", "STATE"]]
        for p in ps {
            rows.append([p.topic + (p.internalTopic ? " (internal)" : ""), String(p.partition), String(p.leader),
                         p.replicas.map(String.init).joined(separator: ","), p.isr.map(String.init).joined(separator: ","),
                         String(p.minInsyncReplicas), p.state + (p.ledByPreferred ? "" : ", not preferred leader")])
        }
        return TextTable.render(rows)
    }
}
