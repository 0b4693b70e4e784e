import Foundation

/// A test-only crash point: an environment variable names `POINT[@N]`, and the process SIGKILLs
/// itself when it reaches that point in its Nth round (flush, batch; default 1), so tests prove
/// each point of a write against the real servers. Never set in production. The processor reads
/// `CDCCTL_PROCESSOR_FAILPOINT`, the PostgreSQL sink `CDCCTL_FAILPOINT=pg.…`.
public struct Failpoint: Sendable {
    /// The point, without the variable's prefix.
    public let point: String
    public let round: Int
    /// How the log names it: `processor: failpoint after-pend in flush 1: SIGKILL`.
    let owner: String
    let prefix: String
    let unit: String

    /// Nil when `variable` is unset, empty or does not start with `prefix`.
    public static func fromEnvironment(_ variable: String, prefix: String = "", owner: String, unit: String,
                                       environment: [String: String] = ProcessInfo.processInfo.environment) -> Failpoint? {
        guard let text = environment[variable], !text.isEmpty, text.hasPrefix(prefix) else { return nil }
        let parts = text.dropFirst(prefix.count).split(separator: "@", maxSplits: 1)
        guard let first = parts.first else { return nil }
        return Failpoint(point: String(first), round: parts.count > 1 ? Int(parts[1]) ?? 1 : 1, owner: owner, prefix: prefix, unit: unit)
    }

    public func hit(_ here: String, round n: Int, log: (String) -> Void) {
        guard here == point, n == round else { return }
        log("\(owner): failpoint \(prefix)\(here) in \(unit) \(n): SIGKILL")
        kill(getpid(), SIGKILL)
    }
}
