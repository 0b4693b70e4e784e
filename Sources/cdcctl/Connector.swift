import ArgumentParser
import Connectors
import Diagnostics
import Foundation
import OperationsCore

struct ConnectorCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "connector",
        abstract: "Debezium connectors on Kafka Connect, from the manifest.",
        subcommands: [Register.self, List.self, Status.self, Describe.self, Validate.self, Restart.self,
                      Pause.self, Resume.self, Stop.self, Delete.self, Offsets.self])

    @ParentCommand var root: CDCCtl
    var global: GlobalOptions { root.global }

    /// The operation on the loaded manifest; progress goes to stderr.
    static func operation(_ context: CommandContext) throws -> ConnectorOperation {
        ConnectorOperation(context.workspace, manifest: try context.manifest().manifest, progress: Console.progress)
    }

    struct Register: CdcCommand {
        static let configuration = CommandConfiguration(
            abstract: "Preflight the source, validate, create or update (idempotent), wait until RUNNING.")
        @ParentCommand var parent: ConnectorCommand
        var global: GlobalOptions { parent.global }
        @Argument(help: "A connector from the manifest; all when omitted.") var name: String?
        @Flag(inversion: .prefixedNo, help: "Wait until the connector and its tasks are RUNNING.") var wait = true
        @Option(help: "Seconds to wait.") var timeout: Double = 120
        @Flag(help: "Skip the source preflight (cdcctl source check).") var skipPreflight = false

        func validate() throws {
            guard timeout > 0 else { throw ValidationError("--timeout must be positive seconds") }
        }

        var journal: JournalSpec? {
            JournalSpec(command: "connector register", arguments: (name.map { [$0] } ?? []) + (skipPreflight ? ["--skip-preflight"] : []))
        }

        func execute(_ context: CommandContext) throws -> CommandResult {
            let op = try ConnectorCommand.operation(context)
            let results = try op.connector(name).map { try op.register($0, preflight: !skipPreflight, wait: wait, timeoutSeconds: timeout) }
            let table = TextTable.render([["CONNECTOR", "ACTION", "STATE", "TASKS"]] + results.map {
                [$0.connector, $0.action, $0.state?.state ?? "-", $0.state.map { $0.taskSummary } ?? "-"]
            }) + "\nnext: cdcctl connector status"
            let detail = results.map { r in
                "\(r.connector) \(r.action)" + (r.secondsToRunning.map { String(format: ", RUNNING after %.1f s", $0) } ?? "")
            }.joined(separator: "; ")
            return CommandResult(json: results, table: table, detail: detail)
        }
    }

    struct List: CdcCommand {
        static let configuration = CommandConfiguration(abstract: "Connectors on the worker and in the manifest.")
        @ParentCommand var parent: ConnectorCommand
        var global: GlobalOptions { parent.global }

        func execute(_ context: CommandContext) throws -> CommandResult {
            let listed = try ConnectorCommand.operation(context).list()
            return CommandResult(json: listed, table: TextTable.render([["CONNECTOR", "IN MANIFEST", "STATE"]]
                + listed.map { [$0.name, $0.inManifest ? "yes" : "no", $0.state] }))
        }
    }

    struct Status: CdcCommand {
        static let configuration = CommandConfiguration(abstract: "Connector and task states; the first lines of a FAILED task's trace. Exit 3 unless all RUNNING.")
        @ParentCommand var parent: ConnectorCommand
        var global: GlobalOptions { parent.global }
        @Argument var name: String?

        func execute(_ context: CommandContext) throws -> CommandResult {
            let op = try ConnectorCommand.operation(context)
            let states = try op.connector(name).map { try op.status($0.name) }
            var lines = [TextTable.render([["CONNECTOR", "STATE", "WORKER", "TASKS"]] + states.map { [$0.name, $0.state, $0.workerId, $0.taskSummary] })]
            for s in states {
                for t in s.tasks where t.trace != nil {
                    lines.append("task \(s.name)/\(t.id) \(t.state):\n    " + (t.trace ?? "").split(separator: "\n").prefix(5).joined(separator: "\n    "))
                }
            }
            return CommandResult(json: states, table: lines.joined(separator: "\n"), exitCode: states.allSatisfy(\.isRunning) ? 0 : 3)
        }
    }

    struct Describe: CdcCommand {
        static let configuration = CommandConfiguration(abstract: "The stored config (secrets masked) and status.")
        @ParentCommand var parent: ConnectorCommand
        var global: GlobalOptions { parent.global }
        @Argument var name: String

        struct Output: Encodable {
            var config: [String: String]
            var state: [String: String]
        }

        func execute(_ context: CommandContext) throws -> CommandResult {
            let op = try ConnectorCommand.operation(context)
            let config = try op.describe(name)
            let status = try op.status(name)
            return CommandResult(json: Output(config: config, state: ["connector": status.state, "tasks": status.taskSummary]),
                                 table: "connector \(name): \(status.state), tasks \(status.taskSummary)\n"
                                     + TextTable.render([["KEY", "VALUE"]] + config.keys.sorted().map { [$0, config[$0]!] }))
        }
    }

    struct Validate: CdcCommand {
        static let configuration = CommandConfiguration(abstract: "Ask Kafka Connect to validate the manifest's config. Exit 2 on errors.")
        @ParentCommand var parent: ConnectorCommand
        var global: GlobalOptions { parent.global }
        @Argument var name: String?

        struct Verdict: Encodable {
            var connector: String
            var valid: Bool
        }

        func execute(_ context: CommandContext) throws -> CommandResult {
            let op = try ConnectorCommand.operation(context)
            var errors: [CdcError] = []
            var verdicts: [Verdict] = []
            for c in try op.connector(name) {
                let problems = try op.validate(c)
                errors += problems
                verdicts.append(Verdict(connector: c.name, valid: problems.isEmpty))
            }
            if !errors.isEmpty { throw CdcErrors(errors) }
            return CommandResult(json: verdicts, table: verdicts.map { "\($0.connector): valid" }.joined(separator: "\n"))
        }
    }

    /// A lifecycle request on one connector, journaled.
    struct LifecycleResult: Encodable {
        var connector: String
        var requested: String
    }

    static func lifecycle(_ context: CommandContext, _ action: ConnectorOperation.Lifecycle, _ name: String,
                          includeTasks: Bool = false, onlyFailed: Bool = false, timeout: Double = 30) throws -> CommandResult {
        try operation(context).act(action, on: name, includeTasks: includeTasks, onlyFailed: onlyFailed, timeoutSeconds: timeout)
        return CommandResult(json: LifecycleResult(connector: name, requested: action.rawValue),
                             table: "\(name): \(action.rawValue) requested", detail: action.rawValue)
    }

    struct Restart: CdcCommand {
        static let configuration = CommandConfiguration(abstract: "Restart a connector (and its tasks).")
        @ParentCommand var parent: ConnectorCommand
        var global: GlobalOptions { parent.global }
        @Argument var name: String
        @Flag(help: "Restart the tasks too.") var includeTasks = false
        @Flag(help: "Only the failed ones.") var onlyFailed = false

        var journal: JournalSpec? {
            JournalSpec(command: "connector restart", arguments: [name] + (includeTasks ? ["--include-tasks"] : []) + (onlyFailed ? ["--only-failed"] : []))
        }

        func execute(_ context: CommandContext) throws -> CommandResult {
            try lifecycle(context, .restart, name, includeTasks: includeTasks, onlyFailed: onlyFailed)
        }
    }

    struct Pause: CdcCommand {
        static let configuration = CommandConfiguration(abstract: "Pause a connector (keeps its tasks and resources).")
        @ParentCommand var parent: ConnectorCommand
        var global: GlobalOptions { parent.global }
        @Argument var name: String
        var journal: JournalSpec? { JournalSpec(command: "connector pause", arguments: [name]) }
        func execute(_ context: CommandContext) throws -> CommandResult { try lifecycle(context, .pause, name) }
    }

    struct Resume: CdcCommand {
        static let configuration = CommandConfiguration(abstract: "Resume a paused or stopped connector.")
        @ParentCommand var parent: ConnectorCommand
        var global: GlobalOptions { parent.global }
        @Argument var name: String
        var journal: JournalSpec? { JournalSpec(command: "connector resume", arguments: [name]) }
        func execute(_ context: CommandContext) throws -> CommandResult { try lifecycle(context, .resume, name) }
    }

    struct Stop: CdcCommand {
        static let configuration = CommandConfiguration(abstract: "Stop a connector and free its tasks (needed before an offset reset).")
        @ParentCommand var parent: ConnectorCommand
        var global: GlobalOptions { parent.global }
        @Argument var name: String
        var journal: JournalSpec? { JournalSpec(command: "connector stop", arguments: [name]) }
        func execute(_ context: CommandContext) throws -> CommandResult { try lifecycle(context, .stop, name) }
    }

    struct Delete: CdcCommand {
        static let configuration = CommandConfiguration(abstract: "Delete a connector (its offsets stay; see offsets reset).")
        @ParentCommand var parent: ConnectorCommand
        var global: GlobalOptions { parent.global }
        @Argument var name: String
        @Option(help: "Seconds to wait until the worker no longer lists it.") var timeout: Double = 30

        func validate() throws {
            guard timeout > 0 else { throw ValidationError("--timeout must be positive seconds") }
        }

        var journal: JournalSpec? { JournalSpec(command: "connector delete", arguments: [name]) }
        func execute(_ context: CommandContext) throws -> CommandResult { try lifecycle(context, .delete, name, timeout: timeout) }
    }

    struct Offsets: CdcCommand {
        static let configuration = CommandConfiguration(abstract: "Read or reset a connector's source offsets (Connect 3.6+).")
        @ParentCommand var parent: ConnectorCommand
        var global: GlobalOptions { parent.global }
        @Argument(help: "get or reset") var action: String
        @Argument var name: String

        func validate() throws {
            guard ["get", "reset"].contains(action) else { throw ValidationError("offsets takes `get` or `reset`, not '\(action)'") }
        }

        var journal: JournalSpec? { action == "reset" ? JournalSpec(command: "connector offsets reset", arguments: [name]) : nil }

        func execute(_ context: CommandContext) throws -> CommandResult {
            guard action == "get" else { return try lifecycle(context, .resetOffsets, name) }
            let text = try ConnectorCommand.operation(context).offsetsJSON(name)
            return CommandResult(json: RawJSON(text: text), table: text)
        }
    }
}

/// JSON text that `-o json` prints as it is (Connect's own document).
struct RawJSON: Encodable {
    var text: String
    func encode(to encoder: Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(try JSONDecoder().decode(JSONValue.self, from: Data(text.utf8)))
    }
}

/// Any JSON value, for passing a server's document through unchanged.
enum JSONValue: Codable {
    case null, bool(Bool), number(Double), string(String), array([JSONValue]), object([String: JSONValue])

    init(from decoder: Decoder) throws {
        let c = try decoder.singleValueContainer()
        if c.decodeNil() { self = .null }
        else if let b = try? c.decode(Bool.self) { self = .bool(b) }
        else if let n = try? c.decode(Double.self) { self = .number(n) }
        else if let s = try? c.decode(String.self) { self = .string(s) }
        else if let a = try? c.decode([JSONValue].self) { self = .array(a) }
        else { self = .object(try c.decode([String: JSONValue].self)) }
    }

    func encode(to encoder: Encoder) throws {
        var c = encoder.singleValueContainer()
        switch self {
        case .null: try c.encodeNil()
        case let .bool(b): try c.encode(b)
        case let .number(n): if n == n.rounded(), abs(n) < 1e15 { try c.encode(Int64(n)) } else { try c.encode(n) }
        case let .string(s): try c.encode(s)
        case let .array(a): try c.encode(a)
        case let .object(o): try c.encode(o)
        }
    }
}

struct Source: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "The MySQL/MariaDB source.", subcommands: [Check.self])

    @ParentCommand var root: CDCCtl
    var global: GlobalOptions { root.global }

    struct Check: CdcCommand {
        static let configuration = CommandConfiguration(
            abstract: "Binlog, row image, GTID, server id, retention and CDC grants, each with its fix. Exit 3 on a failure.")
        @ParentCommand var parent: Source
        var global: GlobalOptions { parent.global }

        func execute(_ context: CommandContext) throws -> CommandResult {
            let checks = try ConnectorCommand.operation(context).sourceCheck()
            let table = TextTable.render([["CHECK", "STATUS", "OBSERVED", "EXPECTED"]] + checks.map { [$0.name, $0.status.rawValue.uppercased(), $0.observed, $0.expected] })
                + checks.compactMap { c in c.fix.map { "\nfix \(c.name): \($0)" } }.joined()
            return CommandResult(json: checks, table: table, exitCode: checks.contains { $0.status == .fail } ? 3 : 0)
        }
    }
}
