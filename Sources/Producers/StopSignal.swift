import Foundation

/// SIGTERM / SIGINT ask a producer to stop: it finishes the step (or flushes the Kafka queue)
/// and prints its summary, instead of dying with writes in flight.
public enum StopSignal {
    nonisolated(unsafe) static var requested: sig_atomic_t = 0

    public static func install() {
        signal(SIGTERM) { _ in StopSignal.requested = 1 }
        signal(SIGINT) { _ in StopSignal.requested = 1 }
    }

    public static var isRequested: Bool { requested != 0 }
}
