import Diagnostics
import Foundation

/// StarRocks' BE maps many files; below vm.max_map_count 262144 it fails under load (and its
/// start script refuses). cdcctl only reads the value (/proc/sys/vm/max_map_count) and says how
/// to raise it; it never writes it (a host-wide setting is the operator's decision).
public enum MaxMapCount {
    public static let path = "/proc/sys/vm/max_map_count"

    /// The problem with `text` (the file's contents; nil when unreadable) against `minimum`, or nil.
    public static func problem(_ text: String?, minimum: Int) -> CdcError? {
        guard let text else {
            return CdcError(.operationFailed, "cannot read \(path), so the StarRocks BE's vm.max_map_count is unknown",
                            subject: "vm.max_map_count",
                            fix: "check it with `sysctl vm.max_map_count` on the Docker host (at least \(minimum)), or set starrocks.enabled: false")
        }
        guard let value = Int(text.trimmingCharacters(in: .whitespacesAndNewlines)) else {
            return CdcError(.operationFailed, "\(path) holds '\(text.trimmingCharacters(in: .whitespacesAndNewlines))', not a number",
                            subject: "vm.max_map_count", fix: "check `sysctl vm.max_map_count` on the Docker host")
        }
        guard value < minimum else { return nil }
        return CdcError(.operationFailed, "vm.max_map_count is \(value), below the \(minimum) the StarRocks BE needs",
                        subject: "vm.max_map_count",
                        fix: "as root on the Docker host: `sysctl -w vm.max_map_count=\(minimum)` and, to keep it, "
                            + "`echo vm.max_map_count=\(minimum) > /etc/sysctl.d/60-starrocks.conf` (cdcctl never changes host settings)")
    }

    /// Reads the host's value (nil when it cannot).
    public static func read(path: String = MaxMapCount.path) -> String? {
        FileManager.default.contents(atPath: path).flatMap { String(data: $0, encoding: .utf8) }
    }
}
