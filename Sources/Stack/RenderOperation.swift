import OperationsCore
import Checksum
import Diagnostics
import Foundation
import HostServices
import Manifest
import Render
import State

public struct RenderResult: Sendable, Codable {
    public var cluster: String
    public var outputDir: String
    public var manifestHash: String
    public var files: [WrittenFile]
}

public enum RenderOperation {
    /// validate → resolve secrets → render in memory → write atomically → record.
    public static func run(_ ws: Workspace, outputDir: String, templatesDir: String?, arguments: [String]) throws -> RenderResult {
        let loaded = try ws.loadManifest()
        return try ws.journaled("render", arguments: arguments, manifest: loaded) {
            let result = try render(ws, loaded, outputDir: outputDir, templatesDir: templatesDir)
            return (result, "\(result.files.count) files into \(outputDir)")
        }
    }

    /// Renders and records the render, without a journal row of its own: for commands (up)
    /// that render as one of their steps and journal themselves.
    static func render(_ ws: Workspace, _ loaded: LoadedManifest, outputDir: String, templatesDir: String?) throws -> RenderResult {
        let manifestHash = SHA256.hex(loaded.text)
        let cluster = loaded.manifest.cluster.name
        let source = try ws.templates(override: templatesDir)
        let secrets = try ws.resolveSecrets(loaded.manifest)
        var files = try Renderer(templates: source).render(loaded.manifest, secrets: secrets)
        // The host processes' systemd units point at this binary, manifest and state dir (docs/operations.md).
        files += SystemdUnits.units(loaded.manifest, paths: UnitPaths.current(manifest: ws.manifestPath, stateDir: ws.stateDir))
            .map { RenderedFile(path: "systemd/" + $0.name, contents: $0.contents) }
        let written = try OutputWriter.write(files, to: outputDir)
        let store = try ws.openState()
        try store.upsertCluster(name: cluster, manifestPath: loaded.file, manifestHash: manifestHash, nowMs: ws.environment.nowMs())
        try store.recordRender(cluster: cluster, manifestHash: manifestHash, outputDir: outputDir,
                               files: written.map { RenderedFileRecord(path: $0.path, sha256: $0.sha256, bytes: $0.bytes, mode: $0.mode) },
                               nowMs: ws.environment.nowMs())
        return RenderResult(cluster: cluster, outputDir: outputDir, manifestHash: manifestHash, files: written)
    }
}
