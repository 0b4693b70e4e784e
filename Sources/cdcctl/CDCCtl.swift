import ArgumentParser
import Foundation
import OperationsCore
import TopicAdmin

struct CDCCtl: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cdcctl",
        abstract: "Operate an on-premise change-data-capture pipeline from one cluster manifest.",
        discussion: """
            MySQL → Debezium (Kafka Connect) → Kafka ×3 (KRaft) → cdcctl's stream processor → ClickHouse → Grafana.
            Exit codes: 0 ok, 1 operation failed, 2 bad input or usage, 3 unhealthy or drift found.
            Global options stand anywhere on the line: -m/--manifest, --state-dir, -o/--output table|json.
            `cdcctl --version` prints the version, the source commit and the librdkafka loaded at run time.
            """,
        subcommands: [Init.self, Validate.self, RenderCommand.self, Up.self, Status.self, Down.self, Topics.self, Schema.self, Produce.self,
                      Source.self, ConnectorCommand.self, ProcessCommand.self, Bench.self, FailoverTest.self, Report.self, History.self, Audit.self, Trace.self,
                      MonitorCommand.self])

    /// -m, --state-dir, -o: read by every subcommand through `@ParentCommand`, so they may stand
    /// before or after the subcommand's name (`cdcctl -m x.yaml topics apply`, `… apply -m x.yaml`).
    @OptionGroup var global: GlobalOptions
}

@main
enum Main {
    static func main() {
        let args = Array(CommandLine.arguments.dropFirst())
        if args.first == "--version" {
            // Asked here, not in CommandConfiguration(version:), so that no other command pays for the git lookup.
            print(BuildInfo.versionLine(librdkafka: TopicsOperation.librdkafkaVersion))
            return
        }
        do {
            var command = try CDCCtl.parseAsRoot(args)
            try command.run()
        } catch {
            exit(with: error, arguments: args)
        }
    }

    /// argument-parser's usage errors exit 64 (EX_USAGE); cdcctl promises 2 for bad input or
    /// usage, and suggests the nearest subcommand for a typo.
    static func exit(with error: Error, arguments: [String]) -> Never {
        let code = CDCCtl.exitCode(for: error)
        guard code == .validationFailure else { CDCCtl.exit(withError: error) }
        var message = CDCCtl.fullMessage(for: error)
        if let hint = CommandSuggestion.hint(for: arguments, root: CDCCtl.self) { message += "\n" + hint }
        FileHandle.standardError.write(Data((message + "\n").utf8))
        Foundation.exit(2)
    }
}

/// "did you mean status?" for `cdcctl statsu`: walks the words that name subcommands and, at the
/// first one that names none, offers the closest name (edit distance ≤ 2, or a unique prefix).
enum CommandSuggestion {
    static func hint(for arguments: [String], root: ParsableCommand.Type) -> String? {
        var command = root
        var path = [root.configuration.commandName ?? "cdcctl"]
        // The global options' values are not subcommand names.
        let withValue: Set<String> = ["-m", "--manifest", "--state-dir", "-o", "--output"]
        var words: [String] = []
        var skip = false
        for a in arguments {
            if skip { skip = false; continue }
            if withValue.contains(a) { skip = true; continue }
            if !a.hasPrefix("-") { words.append(a) }
        }
        for word in words {
            let subs = command.configuration.subcommands
            guard !subs.isEmpty else { return nil }
            let names = subs.map { $0.configuration.commandName ?? $0._commandName }
            if let i = names.firstIndex(of: word) {
                command = subs[i]
                path.append(word)
                continue
            }
            guard let best = nearest(word, among: names) else {
                return "the subcommands of \(path.joined(separator: " ")) are: \(names.joined(separator: ", "))"
            }
            return "did you mean `\((path + [best]).joined(separator: " "))`?"
        }
        return nil
    }

    static func nearest(_ word: String, among names: [String]) -> String? {
        let prefixed = names.filter { $0.hasPrefix(word) }
        if prefixed.count == 1 { return prefixed[0] }
        let scored = names.map { ($0, distance(word, $0)) }.filter { $0.1 <= 2 }.sorted { ($0.1, $0.0) < ($1.1, $1.0) }
        return scored.first?.0
    }

    /// Levenshtein distance, with a swap of two neighbours counting once (`statsu` → `status`).
    static func distance(_ a: String, _ b: String) -> Int {
        let x = Array(a), y = Array(b)
        if x.isEmpty { return y.count }
        if y.isEmpty { return x.count }
        var d = [[Int]](repeating: [Int](repeating: 0, count: y.count + 1), count: x.count + 1)
        for i in 0...x.count { d[i][0] = i }
        for j in 0...y.count { d[0][j] = j }
        for i in 1...x.count {
            for j in 1...y.count {
                d[i][j] = min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + (x[i - 1] == y[j - 1] ? 0 : 1))
                if i > 1, j > 1, x[i - 1] == y[j - 2], x[i - 2] == y[j - 1] { d[i][j] = min(d[i][j], d[i - 2][j - 2] + 1) }
            }
        }
        return d[x.count][y.count]
    }
}
