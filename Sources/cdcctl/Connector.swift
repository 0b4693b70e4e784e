import ArgumentParser
import Connect
import Diagnostics
import Foundation
import Operations

struct ConnectorCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "connector",
        abstract: "Debezium connectors on Kafka Connect, from the manifest.",
        subcommands: [Register.self, List.self, Status.self, Describe.self, Validate.self, Restart.self,
                      Lifecycle.Pause.self, Lifecycle.Resume.self, Lifecycle.Stop.self, Lifecycle.Delete.self, Offsets.self])

    /// Loads the manifest and builds the operation; progress goes to stderr.
    static func operation(_ global: GlobalOptions) throws -> (ConnectorOperation, String, String) {
        let loaded = try global.workspace.loadManifest()
        return (ConnectorOperation(global.workspace, manifest: loaded.manifest, progress: Console.progress),
                loaded.text, loaded.manifest.cluster.name)
    }

    struct Register: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Preflight the source, validate, create or update (idempotent), wait until RUNNING.")
        @OptionGroup var global: GlobalOptions
        @Argument(help: "A connector from the manifest; all when omitted.") var name: String?
        @Flag(inversion: .prefixedNo, help: "Wait until the connector and its tasks are RUNNING.") var wait = true
        @Option(help: "Seconds to wait.") var timeout: Double = 120
        @Flag(help: "Skip the source preflight (cdcctl source check).") var skipPreflight = false

        func run() throws {
            try cdcctl.run {
                let (op, text, cluster) = try ConnectorCommand.operation(global)
                var results: [RegisterResult] = []
                for c in try op.connector(name) {
                    let args = [c.name] + (skipPreflight ? ["--skip-preflight"] : [])
                    results.append(try global.workspace.journaled("connector register", arguments: args,
                                                                  inputsHash: InputsHash.of([text] + args), cluster: cluster) {
                        let r = try op.register(c, preflight: !skipPreflight, wait: wait, timeoutSeconds: timeout)
                        return (r, "\(r.action)" + (r.secondsToRunning.map { String(format: ", RUNNING after %.1f s", $0) } ?? ""))
                    })
                }
                switch global.output {
                case .json: try Console.json(results)
                case .table:
                    print(TextTable.render([["CONNECTOR", "ACTION", "STATE", "TASKS"]] + results.map {
                        [$0.connector, $0.action, $0.state?.state ?? "-", $0.state.map { ConnectorTable.tasks($0) } ?? "-"]
                    }))
                    print("next: cdcctl connector status")
                }
            }
        }
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Connectors on the worker and in the manifest.")
        @OptionGroup var global: GlobalOptions

        func run() throws {
            try cdcctl.run {
                let (op, _, _) = try ConnectorCommand.operation(global)
                let onWorker = try op.client.list()
                let declared = op.manifest.connect.connectors.map(\.name)
                let names = Array(Set(onWorker + declared)).sorted()
                let rows = try names.map { n -> [String] in
                    [n, declared.contains(n) ? "yes" : "no", onWorker.contains(n) ? (try op.client.status(n)?.state ?? "?") : "not registered"]
                }
                switch global.output {
                case .json: try Console.json(rows.map { ["name": $0[0], "inManifest": $0[1], "state": $0[2]] })
                case .table: print(TextTable.render([["CONNECTOR", "IN MANIFEST", "STATE"]] + rows))
                }
            }
        }
    }

    struct Status: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Connector and task states; the first lines of a FAILED task's trace. Exit 3 unless all RUNNING.")
        @OptionGroup var global: GlobalOptions
        @Argument var name: String?

        func run() throws {
            try cdcctl.run {
                let (op, _, _) = try ConnectorCommand.operation(global)
                let states = try op.connector(name).map { try op.status($0.name) }
                switch global.output {
                case .json: try Console.json(states)
                case .table:
                    var rows = [["CONNECTOR", "STATE", "WORKER", "TASKS"]]
                    for s in states { rows.append([s.name, s.state, s.workerId, ConnectorTable.tasks(s)]) }
                    print(TextTable.render(rows))
                    for s in states {
                        for t in s.tasks where t.trace != nil {
                            print("task \(s.name)/\(t.id) \(t.state):\n    " + (t.trace ?? "").split(separator: "\n").prefix(5).joined(separator: "\n    "))
                        }
                    }
                }
                if !states.allSatisfy(\.isRunning) { throw ExitCode(3) }
            }
        }
    }

    struct Describe: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "The stored config (secrets masked) and status.")
        @OptionGroup var global: GlobalOptions
        @Argument var name: String

        func run() throws {
            try cdcctl.run {
                let (op, _, _) = try ConnectorCommand.operation(global)
                let config = try op.describe(name)
                let status = try op.status(name)
                switch global.output {
                case .json: try Console.json(["config": config, "state": ["connector": status.state, "tasks": ConnectorTable.tasks(status)]])
                case .table:
                    print("connector \(name): \(status.state), tasks \(ConnectorTable.tasks(status))")
                    print(TextTable.render([["KEY", "VALUE"]] + config.keys.sorted().map { [$0, config[$0]!] }))
                }
            }
        }
    }

    struct Validate: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Ask Kafka Connect to validate the manifest's config. Exit 2 on errors.")
        @OptionGroup var global: GlobalOptions
        @Argument var name: String?

        func run() throws {
            try cdcctl.run {
                let (op, _, _) = try ConnectorCommand.operation(global)
                var errors: [CdcError] = []
                for c in try op.connector(name) {
                    let problems = try op.client.validate(name: c.name, op.desiredConfig(c))
                    errors += problems.map { .invalid($0.errors.joined(separator: "; "), subject: "connector \(c.name) \($0.field)") }
                    if problems.isEmpty && global.output == .table { print("\(c.name): valid") }
                }
                if !errors.isEmpty { throw CdcErrors(errors) }
            }
        }
    }

    struct Restart: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Restart a connector (and its tasks).")
        @OptionGroup var global: GlobalOptions
        @Argument var name: String
        @Flag(help: "Restart the tasks too.") var includeTasks = false
        @Flag(help: "Only the failed ones.") var onlyFailed = false

        func run() throws {
            try Lifecycle.act(global, "restart", name, extra: (includeTasks ? ["--include-tasks"] : []) + (onlyFailed ? ["--only-failed"] : [])) { op in
                try op.client.restart(name, includeTasks: includeTasks, onlyFailed: onlyFailed)
            }
        }
    }

    enum Lifecycle {
        static func act(_ global: GlobalOptions, _ verb: String, _ name: String, extra: [String] = [],
                        _ body: (ConnectorOperation) throws -> Void) throws {
            try cdcctl.run {
                let (op, text, cluster) = try ConnectorCommand.operation(global)
                try global.workspace.journaled("connector \(verb)", arguments: [name] + extra,
                                               inputsHash: InputsHash.of([text, verb, name] + extra), cluster: cluster) {
                    guard try op.client.status(name) != nil else { throw ConnectorOperation.notFound(name) }
                    try body(op)
                    return ((), verb)
                }
                if global.output == .table { print("\(name): \(verb) requested") }
            }
        }

        struct Pause: ParsableCommand {
            static let configuration = CommandConfiguration(abstract: "Pause a connector (keeps its tasks and resources).")
            @OptionGroup var global: GlobalOptions
            @Argument var name: String
            func run() throws { try Lifecycle.act(global, "pause", name) { try $0.client.pause(name) } }
        }

        struct Resume: ParsableCommand {
            static let configuration = CommandConfiguration(abstract: "Resume a paused or stopped connector.")
            @OptionGroup var global: GlobalOptions
            @Argument var name: String
            func run() throws { try Lifecycle.act(global, "resume", name) { try $0.client.resume(name) } }
        }

        struct Stop: ParsableCommand {
            static let configuration = CommandConfiguration(abstract: "Stop a connector and free its tasks (needed before an offset reset).")
            @OptionGroup var global: GlobalOptions
            @Argument var name: String
            func run() throws { try Lifecycle.act(global, "stop", name) { try $0.client.stop(name) } }
        }

        struct Delete: ParsableCommand {
            static let configuration = CommandConfiguration(abstract: "Delete a connector (its offsets stay; see offsets reset).")
            @OptionGroup var global: GlobalOptions
            @Argument var name: String
            @Option(help: "Seconds to wait until the worker no longer lists it.") var timeout: Double = 30
            func run() throws {
                try Lifecycle.act(global, "delete", name) { op in
                    try op.client.delete(name)
                    // Deletion is asynchronous in the worker; return once it is really gone.
                    let deadline = Date().addingTimeInterval(timeout)
                    while try op.client.list().contains(name) || (try op.client.status(name)) != nil {
                        if Date() > deadline { throw CdcError.failed("\(name) is still listed \(Int(timeout)) s after delete", subject: name) }
                        Thread.sleep(forTimeInterval: 0.5)
                    }
                }
            }
        }
    }

    struct Offsets: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Read or reset a connector's source offsets (Connect 3.6+).")
        @OptionGroup var global: GlobalOptions
        @Argument(help: "get or reset") var action: String
        @Argument var name: String

        func validate() throws {
            guard ["get", "reset"].contains(action) else { throw ValidationError("offsets takes `get` or `reset`, not '\(action)'") }
        }

        func run() throws {
            if action == "get" {
                try cdcctl.run {
                    let (op, _, _) = try ConnectorCommand.operation(global)
                    let offsets = try op.client.offsets(name)
                    let data = try JSONSerialization.data(withJSONObject: offsets, options: [.prettyPrinted, .sortedKeys])
                    print(String(decoding: data, as: UTF8.self))
                }
            } else {
                try Lifecycle.act(global, "offsets reset", name) { op in
                    guard try op.status(name).state == "STOPPED" else {
                        throw CdcError.invalid("connector \(name) must be STOPPED to reset its offsets", subject: name,
                                               fix: "cdcctl connector stop \(name), then run this again")
                    }
                    _ = try op.client.resetOffsets(name)
                }
            }
        }
    }
}

enum ConnectorTable {
    static func tasks(_ s: ConnectorState) -> String {
        s.tasks.isEmpty ? "none" : s.tasks.map { "\($0.id):\($0.state)" }.joined(separator: " ")
    }
}

struct Source: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "The MySQL/MariaDB source.", subcommands: [Check.self])

    struct Check: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Binlog, row image, GTID, server id, retention and CDC grants, each with its fix. Exit 3 on a failure.")
        @OptionGroup var global: GlobalOptions

        func run() throws {
            try cdcctl.run {
                let (op, _, _) = try ConnectorCommand.operation(global)
                let checks = try op.sourceCheck()
                switch global.output {
                case .json: try Console.json(checks)
                case .table:
                    print(TextTable.render([["CHECK", "STATUS", "OBSERVED", "EXPECTED"]] + checks.map { [$0.name, $0.status.rawValue.uppercased(), $0.observed, $0.expected] }))
                    for c in checks where c.fix != nil { print("fix \(c.name): \(c.fix!)") }
                }
                if checks.contains(where: { $0.status == .fail }) { throw ExitCode(3) }
            }
        }
    }
}
