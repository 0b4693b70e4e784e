import OperationsCore
import Diagnostics
import Foundation
import Manifest
import Runtime
import State

public struct DownResult: Sendable, Codable {
    public var cluster: String
    public var projectDir: String
    public var removedContainers: [String]
    public var volumesRemoved: Bool
}

/// `cdcctl down [--volumes]`: removes the project's containers and networks (and named
/// volumes, which hold every topic, row and binlog, only when asked and confirmed).
public enum DownOperation {
    public static func run(_ ws: Workspace, volumes: Bool, confirmed: Bool, arguments: [String],
                           runtime makeRuntime: UpOperation.RuntimeFactory = UpOperation.dockerCompose) throws -> DownResult {
        let loaded = try ws.loadManifest()
        let m = loaded.manifest
        return try ws.journaled("down", arguments: arguments, inputsHash: InputsHash.of([loaded.text] + arguments), cluster: m.cluster.name) {
            if volumes && !confirmed {
                throw CdcError.invalid("--volumes deletes every topic, table row and binlog of cluster \(m.cluster.name); not confirmed",
                                       subject: "--volumes", fix: "add --yes to confirm, or run it on a terminal and answer the prompt")
            }
            let store = try ws.openState()
            let dir = try store.cluster(named: m.cluster.name)?.projectDir ?? UpOperation.projectDir(ws, cluster: m.cluster.name)
            // compose needs the project files; render them again when they are gone.
            if !FileManager.default.fileExists(atPath: dir + "/docker-compose.yml") {
                _ = try RenderOperation.render(ws, loaded, outputDir: dir, templatesDir: nil)
            }
            let runtime = makeRuntime(ComposeProject(name: m.cluster.name, directory: dir), ws.environment.variables)
            _ = try runtime.check()
            let containers = try runtime.services().map(\.container)
            try runtime.down(volumes: volumes)
            try store.recordDown(cluster: m.cluster.name, volumesRemoved: volumes, nowMs: ws.environment.nowMs())
            return (DownResult(cluster: m.cluster.name, projectDir: dir, removedContainers: containers, volumesRemoved: volumes),
                    "removed \(containers.count) containers" + (volumes ? " and the volumes" : ""))
        }
    }
}
