import ArgumentParser
import Diagnostics
import Foundation
import Manifest
import OperationsCore

/// What a leaf command hands back: the value `-o json` prints, the text `-o table` prints, the
/// exit code (0, or 3 for unhealthy/drift, 2 for a plan that would be refused) and the journal's
/// one-line detail. Commands never print results themselves.
struct CommandResult {
    var json: any Encodable & Sendable
    var table: String
    var exitCode: Int32 = 0
    /// Lines for stderr in table mode (a refusal's reason, a warning).
    var notes: [String] = []
    var detail: String = "ok"
}

/// A command that changes something names its journal row; read-only commands journal nothing.
struct JournalSpec {
    var command: String
    var arguments: [String]
    /// The command drains on SIGINT/SIGTERM itself (a long-running service); otherwise a
    /// signal is journaled as `interrupted` and ends the process.
    var handlesSignals = false
}

/// What `execute` gets: the workspace, the output format and the progress sinks. The manifest is
/// loaded once, on first use.
final class CommandContext {
    let workspace: Workspace
    let output: OutputFormat
    private var loaded: LoadedManifest?

    init(workspace: Workspace, output: OutputFormat) {
        self.workspace = workspace
        self.output = output
    }

    func manifest() throws -> LoadedManifest {
        if let loaded { return loaded }
        let m = try workspace.loadManifest()
        loaded = m
        return m
    }

    /// Step lines on stderr (and live lines overwritten on a terminal).
    var progress: ProgressSink { Console.progressReporter() }
    func log(_ line: String) { Console.progress(line) }
}

/// Every leaf command adopts this: it receives the loaded context and returns a typed result;
/// `run()` — written once, here — journals commands that change something, prints the result as
/// a table or JSON, and turns errors into the exit codes the conventions give (1 failed, 2 bad
/// input, 3 unhealthy).
protocol CdcCommand: ParsableCommand {
    var global: GlobalOptions { get }
    /// The journal row for a command that changes something; nil for reads.
    var journal: JournalSpec? { get }
    func execute(_ context: CommandContext) throws -> CommandResult
}

extension CdcCommand {
    var journal: JournalSpec? { nil }

    func run() throws { try runOnce() }

    func runOnce() throws {
        let context = CommandContext(workspace: global.workspace, output: global.output)
        let result: CommandResult
        do {
            if let journal {
                let loaded = try context.manifest()
                result = try context.workspace.journaled(journal.command, arguments: journal.arguments, manifest: loaded,
                                                         handlesSignals: journal.handlesSignals) {
                    let r = try execute(context)
                    // A result that ends non-zero (a failed verdict, drift) is journaled with its code.
                    if r.exitCode != 0 { throw NonZeroResult(result: r) }
                    return (r, r.detail)
                }
            } else {
                result = try execute(context)
            }
        } catch let e as NonZeroResult {
            result = e.result
        } catch {
            throw Console.report(error)
        }
        switch global.output {
        case .json: try Console.json(result.json)
        case .table:
            if !result.table.isEmpty { print(result.table) }
            // A warning is not an error: it prints as itself.
            for note in result.notes { if note.hasPrefix("WARNING") { Console.progress(note) } else { Console.error(note) } }
        }
        if result.exitCode != 0 { throw ExitCode(result.exitCode) }
    }
}

/// Carries a finished command's non-zero result through `journaled`, which records its exit
/// code and outcome; `run` then prints the result as usual.
struct NonZeroResult: Error, CdcErrorConvertible {
    var result: CommandResult
    var cdcError: CdcError {
        CdcError(result.exitCode == 2 ? .invalidInput : result.exitCode == 3 ? .unhealthy : .operationFailed, result.detail)
    }
}

extension Console {
    /// Prints cdcctl's errors (a typed adapter error through its bridge) and returns the exit
    /// code to leave with; argument-parser's own errors pass through unchanged.
    static func report(_ error: Error) -> Error {
        switch error {
        case is ExitCode, is ValidationError, is CleanExit: return error
        case let e as CdcErrors:
            for one in e.errors { Console.error(one.description) }
            if e.errors.count > 1 { Console.error("\(e.errors.count) problems found") }
            return ExitCode(e.exitCode)
        default:
            let e = CdcError.bridging(error)
            Console.error(e.description)
            return ExitCode(e.exitCode)
        }
    }
}
