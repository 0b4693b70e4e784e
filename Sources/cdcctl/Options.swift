import ArgumentParser
import Diagnostics
import Foundation
import Operations

struct GlobalOptions: ParsableArguments {
    @Option(name: .shortAndLong, help: ArgumentHelp("Cluster manifest.", valueName: "path"))
    var manifest: String = ProcessInfo.processInfo.environment["CDCCTL_MANIFEST"] ?? "cdcctl.yaml"

    @Option(help: ArgumentHelp("Where cdcctl keeps its SQLite state and generated secrets.", valueName: "dir"))
    var stateDir: String = ProcessInfo.processInfo.environment["CDCCTL_STATE_DIR"] ?? ".cdcctl"

    @Option(name: .shortAndLong, help: "Result format on stdout: table or json.")
    var output: OutputFormat = .table

    var workspace: Workspace { Workspace(manifestPath: manifest, stateDir: stateDir) }
}

enum OutputFormat: String, ExpressibleByArgument, CaseIterable {
    case table, json
}

/// Runs a command body, turning cdcctl's errors into a message on stderr and the exit code
/// the conventions give (1 failed, 2 bad input, 3 unhealthy).
func run(_ body: () throws -> Void) throws {
    do {
        try body()
    } catch let error as CdcErrors {
        for e in error.errors { Console.error(e.description) }
        if error.errors.count > 1 { Console.error("\(error.errors.count) problems found") }
        throw ExitCode(error.exitCode)
    } catch let error as CdcError {
        Console.error(error.description)
        throw ExitCode(error.exitCode)
    }
}

enum Console {
    static func error(_ text: String) {
        FileHandle.standardError.write(Data(("error: " + text + "\n").utf8))
    }

    static func progress(_ text: String) {
        FileHandle.standardError.write(Data((text + "\n").utf8))
    }

    static func json<T: Encodable>(_ value: T) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        print(String(decoding: try encoder.encode(value), as: UTF8.self))
    }
}
