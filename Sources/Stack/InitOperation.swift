import OperationsCore
import Diagnostics
import Foundation
import Render

public enum InitOperation {
    /// Writes the commented default manifest; refuses to overwrite unless forced. Refusals are
    /// journaled too, so the history shows every attempt.
    public static func run(_ ws: Workspace, profile: String, force: Bool) throws -> String {
        let arguments = ["--profile", profile] + (force ? ["--force"] : [])
        return try ws.journaled("init", arguments: arguments, inputsHash: InputsHash.of(arguments), cluster: nil) {
            let home = try Resources.home(environment: ws.environment.variables)
            let profiles = ((try? FileManager.default.contentsOfDirectory(atPath: home + "/manifests")) ?? [])
                .filter { $0.hasSuffix(".yaml") }.map { String($0.dropLast(5)) }.sorted()
            guard profiles.contains(profile) else {
                throw CdcError.invalid("unknown profile '\(profile)'", subject: "--profile",
                                       fix: "use one of: \(profiles.joined(separator: ", "))")
            }
            if FileManager.default.fileExists(atPath: ws.manifestPath) && !force {
                throw CdcError.invalid("already exists; not overwriting it", subject: ws.manifestPath,
                                       fix: "pass --force to replace it, or --manifest to write elsewhere")
            }
            let text = try String(contentsOfFile: home + "/manifests/\(profile).yaml", encoding: .utf8)
            try AtomicFile.write(text, to: ws.manifestPath, mode: 0o644)
            return (ws.manifestPath, "wrote the \(profile) profile")
        }
    }
}
