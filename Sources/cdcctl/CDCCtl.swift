import ArgumentParser

struct CDCCtl: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cdcctl",
        abstract: "Operate an on-premise change-data-capture pipeline from one cluster manifest.",
        discussion: """
            MySQL → Debezium (Kafka Connect) → Kafka ×3 (KRaft) → cdcctl's stream processor → ClickHouse → Grafana.
            Exit codes: 0 ok, 1 operation failed, 2 bad input or usage, 3 unhealthy or drift found.
            """,
        subcommands: [Init.self, Validate.self, RenderCommand.self, Up.self, Status.self, Down.self, Topics.self, Schema.self,
                      Source.self, ConnectorCommand.self, ProcessCommand.self, Bench.self, History.self])
}

@main
enum Main {
    /// Global options may also stand before the subcommand (`cdcctl -m x.yaml topics apply`):
    /// argument-parser only reads them after it, so move them there.
    static func main() {
        CDCCtl.main(GlobalArguments.moveAfterSubcommand(Array(CommandLine.arguments.dropFirst())))
    }
}

enum GlobalArguments {
    static let withValue: Set<String> = ["-m", "--manifest", "--state-dir", "-o", "--output"]

    static func moveAfterSubcommand(_ args: [String]) -> [String] {
        var leading: [String] = []
        var i = 0
        while i < args.count {
            let a = args[i]
            if withValue.contains(a), i + 1 < args.count {
                leading += [a, args[i + 1]]
                i += 2
            } else if let eq = a.firstIndex(of: "="), withValue.contains(String(a[..<eq])) {
                leading.append(a)
                i += 1
            } else {
                break
            }
        }
        return Array(args[i...]) + leading
    }
}
