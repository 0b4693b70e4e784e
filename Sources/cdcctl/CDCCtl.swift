import ArgumentParser

@main
struct CDCCtl: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cdcctl",
        abstract: "Operate an on-premise change-data-capture pipeline from one cluster manifest.",
        discussion: """
            MySQL → Debezium (Kafka Connect) → Kafka ×3 (KRaft) → cdcctl's stream processor → ClickHouse → Grafana.
            Exit codes: 0 ok, 1 operation failed, 2 bad input or usage, 3 unhealthy or drift found.
            """,
        subcommands: [Init.self, Validate.self, RenderCommand.self, History.self])
}
