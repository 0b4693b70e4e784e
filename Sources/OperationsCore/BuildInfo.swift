import Foundation

/// What `cdcctl --version` prints: the version, the commit of the source tree it was built from
/// (when that tree is still there to ask) and the librdkafka loaded at run time.
public enum BuildInfo {
    public static let version = "0.5.0"

    /// The source tree this binary was compiled from (the package root above this file).
    static let sourceRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().path

    /// `git rev-parse --short HEAD` of the source tree, or nil when it is gone (a copied binary).
    public static var commit: String? {
        guard FileManager.default.fileExists(atPath: sourceRoot + "/.git") else { return nil }
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["git", "-C", sourceRoot, "rev-parse", "--short", "HEAD"]
        let out = Pipe()
        p.standardOutput = out
        p.standardError = FileHandle.nullDevice
        guard (try? p.run()) != nil else { return nil }
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        let text = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        return p.terminationStatus == 0 && !text.isEmpty ? text : nil
    }

    public static func versionLine(librdkafka: String) -> String {
        "cdcctl \(version) (commit \(commit ?? "unknown: not run from its source tree"), librdkafka \(librdkafka) loaded)"
    }
}
