import ArgumentParser
import Foundation
import Synchronization
import OperationsCore

struct GlobalOptions: ParsableArguments {
    @Option(name: .shortAndLong, help: ArgumentHelp("Cluster manifest.", valueName: "path"))
    var manifest: String = ProcessInfo.processInfo.environment["CDCCTL_MANIFEST"] ?? "cdcctl.yaml"

    @Option(help: ArgumentHelp("Where cdcctl keeps its SQLite state and generated secrets (default: .cdcctl beside the manifest, or $CDCCTL_STATE_DIR).",
                               valueName: "dir"))
    var stateDir: String?

    @Option(name: .shortAndLong, help: "Result format on stdout: table or json.")
    var output: OutputFormat = .table

    var workspace: Workspace { Workspace(manifestPath: manifest, stateDir: stateDir ?? ProcessInfo.processInfo.environment["CDCCTL_STATE_DIR"]) }
}

enum OutputFormat: String, ExpressibleByArgument, CaseIterable {
    case table, json
}

enum Console {
    static func error(_ text: String) {
        FileHandle.standardError.write(Data(("error: " + text + "\n").utf8))
    }

    static func progress(_ text: String) {
        FileHandle.standardError.write(Data((text + "\n").utf8))
    }

    /// Step lines stay; live lines overwrite each other on a terminal and are printed at most
    /// every 15 s otherwise (so CI logs show progress without a line per second).
    static func progressReporter() -> ProgressSink {
        let terminal = isatty(STDERR_FILENO) == 1
        let state = LiveState()
        return ProgressSink(
            step: { text in
                let clear = state.takeLive() && terminal ? "\r\u{1B}[K" : ""
                FileHandle.standardError.write(Data((clear + text + "\n").utf8))
            },
            live: { text in
                if terminal {
                    state.setLive()
                    FileHandle.standardError.write(Data(("\r\u{1B}[K" + text).utf8))
                } else if state.due(every: 15) {
                    FileHandle.standardError.write(Data((text + "\n").utf8))
                }
            })
    }

    static func json<T: Encodable>(_ value: T) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        print(String(decoding: try encoder.encode(value), as: UTF8.self))
    }
}

/// Whether a live line is on screen, and when one was last printed.
final class LiveState: Sendable {
    private struct Shown {
        var showing = false
        var last = Date.distantPast
    }

    private let state = Mutex(Shown())

    func setLive() { state.withLock { $0.showing = true } }

    func takeLive() -> Bool {
        state.withLock { s in
            defer { s.showing = false }
            return s.showing
        }
    }

    func due(every seconds: Double) -> Bool {
        state.withLock { s in
            guard Date().timeIntervalSince(s.last) >= seconds else { return false }
            s.last = Date()
            return true
        }
    }
}
