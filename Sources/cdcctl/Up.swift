import ArgumentParser
import Diagnostics
import Foundation
import OperationsCore
import Producers
import Stack

struct Up: CdcCommand {
    static let configuration = CommandConfiguration(
        abstract: "Render, start and health-gate the stack, then bootstrap topics, schema and connectors. Idempotent.",
        discussion: """
            Waits for each service's health in dependency order (Kafka quorum, MySQL, Connect, ClickHouse, the rest),
            then applies topics, the ClickHouse schema and registers the connectors. Running it on a running cluster
            converges: healthy services whose definition did not change are left alone.
            The compose project is rendered into <state dir>/<cluster> unless --out is given.
            """)

    @ParentCommand var parent: CDCCtl
    var global: GlobalOptions { parent.global }

    @Option(name: .customLong("out"), help: ArgumentHelp("Render the compose project here.", valueName: "dir"))
    var outputDir: String?

    @Flag(help: "Start and health-gate the services only; skip topics, schema and connectors.")
    var noBootstrap = false

    @Option(help: "Seconds to wait for health and the bootstrap.")
    var timeout: Double = 600

    @Flag(help: "Then start `produce orders` and `produce trades` in the background (logs and pid files in <state dir>/producers; `status` shows them).")
    var withProducers = false

    func validate() throws {
        guard timeout > 0 else { throw ValidationError("--timeout must be positive seconds") }
    }

    func execute(_ context: CommandContext) throws -> CommandResult {
        var args: [String] = []
        if let outputDir { args += ["--out", outputDir] }
        if noBootstrap { args.append("--no-bootstrap") }
        if withProducers { args.append("--with-producers") }
        let result = try UpOperation.run(context.workspace, options: UpOptions(projectDir: outputDir, bootstrap: !noBootstrap, timeoutSeconds: timeout),
                                         arguments: args, progress: context.progress)
        var rows = [["SERVICE", "STATE", "HEALTH", "PORTS", "IMAGE", "THIS UP"]]
        for s in result.services {
            rows.append([s.service, s.state, s.health, s.ports.joined(separator: " "), s.image, s.change ?? ""])
        }
        var lines = [TextTable.render(rows)]
        if let b = result.bootstrap {
            lines.append("topics: \(b.topicsCreated.count) created, \(b.topicsAltered.count) altered")
            lines.append("schema: \(b.schema)")
            for c in b.connectors { lines.append("connector \(c.connector): \(c.action), \(c.state?.state ?? "-")") }
        }
        lines.append(String(format: "cluster %@ up: healthy after %.1f s, done in %.1f s (project %@)",
                            result.cluster, result.secondsToHealthy, result.seconds, result.projectDir))
        if withProducers {
            let ws = context.workspace
            let manifest = URL(fileURLWithPath: ws.manifestPath).standardizedFileURL.path
            let stateDir = URL(fileURLWithPath: ws.stateDir).standardizedFileURL.path
            for name in ProducerProcesses.names {
                let started = try ProducerProcesses.start(executable: (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0], stateDir: stateDir, name: name,
                                                          arguments: ["-m", manifest, "--state-dir", stateDir])
                lines.append("producer \(name): " + (started.map { "started (pid \($0)), log \(ProducerProcesses.logFile(stateDir, name))" } ?? "already running"))
            }
        }
        lines.append("next:")
        lines += result.next.map { "  " + $0 }
        return CommandResult(json: result, table: lines.joined(separator: "\n"))
    }
}

struct Down: CdcCommand {
    static let configuration = CommandConfiguration(
        abstract: "Stop and remove the stack's containers and networks; --volumes also deletes its data (asks first).")

    @ParentCommand var parent: CDCCtl
    var global: GlobalOptions { parent.global }

    @Flag(help: "Also remove the named volumes: every topic, table row and binlog.")
    var volumes = false

    @Flag(name: .shortAndLong, help: "Do not ask before removing volumes.")
    var yes = false

    func execute(_ context: CommandContext) throws -> CommandResult {
        var confirmed = yes
        if volumes && !yes && isatty(STDIN_FILENO) == 1 {
            let cluster = (try? context.manifest().manifest.cluster.name) ?? "?"
            FileHandle.standardError.write(Data("This deletes every topic, table row and binlog of cluster \(cluster). Type the cluster name to confirm: ".utf8))
            confirmed = readLine()?.trimmingCharacters(in: .whitespaces) == cluster
        }
        let args = (volumes ? ["--volumes"] : []) + (yes ? ["--yes"] : [])
        let result = try DownOperation.run(context.workspace, volumes: volumes, confirmed: confirmed, arguments: args)
        let text = "cluster \(result.cluster) down: removed \(result.removedContainers.count) container(s)"
            + (result.volumesRemoved ? " and its volumes" : "; volumes kept (cdcctl down --volumes --yes deletes them)") + "\nnext: cdcctl up"
        return CommandResult(json: result, table: text)
    }
}
