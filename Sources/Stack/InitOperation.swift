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
            let profiles = BuiltinProfiles.names
            guard let text = BuiltinProfiles.text(profile) else {
                throw CdcError.invalid("unknown profile '\(profile)'", subject: "--profile",
                                       fix: "use one of: \(profiles.joined(separator: ", "))")
            }
            if FileManager.default.fileExists(atPath: ws.manifestPath) && !force {
                throw CdcError.invalid("already exists; not overwriting it", subject: ws.manifestPath,
                                       fix: "pass --force to replace it, or --manifest to write elsewhere")
            }
            try AtomicFile.write(text, to: ws.manifestPath, mode: 0o644)
            return (ws.manifestPath, "wrote the \(profile) profile")
        }
    }
}
