import Dispatch
import Foundation

/// While alive, turns SIGINT and SIGTERM into a call of `handler` (on a queue of its own, not in
/// a signal handler, so it may write SQLite). Cancelled, it restores the default dispositions.
public final class InterruptGuard {
    private let sources: [DispatchSourceSignal]

    public init(_ handler: @escaping @Sendable (Int32) -> Void) {
        let queue = DispatchQueue(label: "cdcctl.interrupt")
        sources = [SIGINT, SIGTERM].map { sig in
            signal(sig, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: sig, queue: queue)
            source.setEventHandler { handler(sig) }
            source.resume()
            return source
        }
    }

    public func cancel() {
        for s in sources { s.cancel() }
        signal(SIGINT, SIG_DFL)
        signal(SIGTERM, SIG_DFL)
    }
}
