/// Progress on stderr: `step` lines stay, `live` lines are overwritten on a terminal.
public struct ProgressSink: Sendable {
    public var step: @Sendable (String) -> Void
    public var live: @Sendable (String) -> Void

    public init(step: @escaping @Sendable (String) -> Void, live: @escaping @Sendable (String) -> Void = { _ in }) {
        self.step = step
        self.live = live
    }

    public static let silent = ProgressSink(step: { _ in })
}
