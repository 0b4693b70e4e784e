import OperationsCore
import Diagnostics
import Foundation
import Manifest
import Render

public enum InitOperation {
    /// The profiles `init --profile` offers, each a file in `manifests/`. `manifests/testbed.yaml`
    /// is there too, but it points cdcctl at the project's test servers (its values come from
    /// `scripts/testbed env`): a fixture for the project, not a place for a user to start.
    public static let profiles: [(name: String, summary: String)] = [
        ("default", "the 16 GB box"),
        ("lean", "an 8 GB box or a laptop, about 5 GiB of limits"),
    ]

    /// `default (the 16 GB box), lean (…)`, for help and error text.
    public static var profileList: String {
        profiles.map { "\($0.name) (\($0.summary))" }.joined(separator: ", ")
    }

    /// Writes the commented default manifest; refuses to overwrite unless forced. Refusals are
    /// journaled too, so the history shows every attempt. A directory given as the manifest
    /// gets a `cdcctl.yaml` written in it, the file loading that directory reads.
    public static func run(_ ws: Workspace, profile: String, force: Bool) throws -> String {
        let arguments = ["--profile", profile] + (force ? ["--force"] : [])
        return try ws.journaled("init", arguments: arguments, inputsHash: InputsHash.of(arguments), cluster: nil) {
            guard profiles.contains(where: { $0.name == profile }), let text = BuiltinProfiles.text(profile) else {
                throw CdcError.invalid("unknown profile '\(profile)'", subject: "--profile",
                                       fix: "use one of: \(profileList)")
            }
            var target = ws.manifestPath
            var isDirectory: ObjCBool = false
            if FileManager.default.fileExists(atPath: target, isDirectory: &isDirectory), isDirectory.boolValue {
                target = (target as NSString).appendingPathComponent(ManifestLoader.defaultFileName)
            }
            if FileManager.default.fileExists(atPath: target, isDirectory: &isDirectory) && (!force || isDirectory.boolValue) {
                throw CdcError.invalid(isDirectory.boolValue ? "is a directory; not replacing it" : "already exists; not overwriting it",
                                       subject: target,
                                       fix: isDirectory.boolValue ? "pass --manifest naming a file"
                                           : "pass --force to replace it, or --manifest to write elsewhere")
            }
            try AtomicFile.write(text, to: target, mode: 0o644)
            return (target, "wrote the \(profile) profile")
        }
    }
}
