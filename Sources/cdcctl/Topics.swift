import ArgumentParser
import Diagnostics
import Foundation
import Operations

struct Topics: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Kafka topics from the manifest: plan, apply, describe, health.",
        subcommands: [Plan.self, Apply.self, Describe.self, Health.self])

    struct Plan: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show what apply would change. Exit 3 when the cluster differs.")
        @OptionGroup var global: GlobalOptions
        @Flag(help: "Also exit 3 for topics on the cluster that the manifest does not declare.")
        var failOnExtra = false

        func run() throws {
            try cdcctl.run {
                let m = try global.workspace.loadManifest().manifest
                let steps = try TopicsOperation(manifest: m).plan()
                switch global.output {
                case .json: try Console.json(steps)
                case .table: print(TopicsTable.plan(steps))
                }
                if TopicPlanner.hasDrift(steps, countExtra: failOnExtra) {
                    if global.output == .table, let next = TopicPlanner.nextStep(steps) { print("next: \(next)") }
                    throw ExitCode(3)
                }
            }
        }
    }

    struct Apply: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create missing topics and fix config drift. Idempotent; refuses unsafe changes.")
        @OptionGroup var global: GlobalOptions
        @Flag(help: "Show the plan and check it against the live brokers without changing anything.")
        var dryRun = false

        func run() throws {
            try cdcctl.run {
                let ws = global.workspace
                let loaded = try ws.loadManifest()
                let args = dryRun ? ["--dry-run"] : []
                let result = try ws.journaled("topics apply", arguments: args, manifest: loaded) {
                    let r = try TopicsOperation(manifest: loaded.manifest).apply(dryRun: dryRun)
                    return (r, r.dryRun ? "dry run" : "created \(r.created.count), altered \(r.altered.count)")
                }
                switch global.output {
                case .json: try Console.json(result)
                case .table:
                    print(TopicsTable.plan(result.steps))
                    if result.dryRun {
                        print("dry run: nothing changed")
                    } else if result.changed {
                        print("created \(result.created.count), altered \(result.altered.count) topic(s)")
                        print("next: cdcctl topics health")
                    } else {
                        print("no changes: every topic matches the manifest")
                    }
                }
            }
        }
    }

    struct Describe: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Partitions, leaders, replicas, ISR and configs.")
        @OptionGroup var global: GlobalOptions
        @Argument(help: "A topic; all manifest topics when omitted.") var topic: String?

        func run() throws {
            try cdcctl.run {
                let m = try global.workspace.loadManifest().manifest
                let topics = try TopicsOperation(manifest: m).describe(topic)
                switch global.output {
                case .json: try Console.json(topics)
                case .table:
                    for t in topics {
                        print("TOPIC \(t.name)")
                        print(TopicsTable.partitions(t.partitions))
                        let configs = t.configs.filter { !$0.isDefault }.map { "\($0.name)=\($0.isSensitive ? Redact.mask : $0.value ?? "")" }
                        print("configs: " + (configs.isEmpty ? "(defaults)" : configs.joined(separator: " ")))
                        print("")
                    }
                }
            }
        }
    }

    struct Health: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Under-replicated, under-min-ISR and leaderless partitions. Exit 0 healthy, 3 unhealthy.")
        @OptionGroup var global: GlobalOptions
        @Flag(help: "Keep checking until healthy (or --timeout).") var exitWhenHealthy = false
        @Option(help: "Seconds to wait with --exit-when-healthy.") var timeout: Double = 60

        func validate() throws {
            guard timeout > 0 else { throw ValidationError("--timeout must be positive seconds") }
        }

        func run() throws {
            try cdcctl.run {
                let m = try global.workspace.loadManifest().manifest
                let op = try TopicsOperation(manifest: m)
                let deadline = Date().addingTimeInterval(timeout)
                var report = try op.health()
                while exitWhenHealthy && !report.healthy && Date() < deadline {
                    Console.progress("waiting: \(report.problems.count) problem(s), first: \(report.problems[0])")
                    Thread.sleep(forTimeInterval: 1)
                    report = try op.health()
                }
                switch global.output {
                case .json: try Console.json(report)
                case .table:
                    print("brokers: \(report.brokersLive) of \(report.brokersExpected) live"
                          + report.brokers.filter { !$0.live }.map { "; \($0.label) DOWN" }.joined())
                    // Internal topics (offsets, Connect's, …) have many partitions: only the unhealthy ones get rows.
                    let internalOk = report.partitions.filter { $0.internalTopic && $0.healthy && $0.ledByPreferred }
                    print(TopicsTable.partitions(report.partitions.filter { p in !internalOk.contains(p) }))
                    if !internalOk.isEmpty {
                        print("internal topics: \(internalOk.count) more partition(s) ok (\(Set(internalOk.map(\.topic)).sorted().joined(separator: ", ")))")
                    }
                    for w in report.warnings { print("warning: \(w)") }
                    for d in report.drift { print("drift: \(d)") }
                    print(report.healthy ? "healthy" : "UNHEALTHY:\n" + report.problems.map { "  - " + $0 }.joined(separator: "\n"))
                }
                if !report.healthy { throw ExitCode(3) }
            }
        }
    }
}

enum TopicsTable {
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
