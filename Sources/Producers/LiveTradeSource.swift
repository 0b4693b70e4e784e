import Diagnostics
import Foundation
import HTTP
import LiveFeed
import Polling
import Synchronization

/// A live feed (Upbit or KIS) as a trade source: a task keeps a WebSocket connection (reconnecting
/// with backoff and jitter), decodes frames with `LiveFrameHandler`, records raw frames
/// (`--record`), and queues trades for `TradeRunner`, which pulls them on its own thread.
/// Thin: every decision is in `LiveSession.swift`.
public final class LiveTradeSource: Sendable {
    public struct Settings: Sendable {
        public var kind: LiveFrameHandler.Kind
        public var url: String
        public var symbols: [String]
        public var caFile: String?
        public var pingSeconds: Double
        public var deadAfterSeconds: Double
        public var policy: ReconnectPolicy
        public var recordPath: String?
        /// KIS: where to ask for the approval key, and the app key and secret (resolved secrets).
        public var approvalURL: String
        public var appKey: String
        public var appSecret: String

        public init(kind: LiveFrameHandler.Kind, url: String, symbols: [String], caFile: String? = nil, pingSeconds: Double = 30,
                    deadAfterSeconds: Double = 90, policy: ReconnectPolicy = ReconnectPolicy(), recordPath: String? = nil,
                    approvalURL: String = KISApproval.defaultURL, appKey: String = "", appSecret: String = "") {
            self.kind = kind
            self.url = url
            self.symbols = symbols
            self.caFile = caFile
            self.pingSeconds = pingSeconds
            self.deadAfterSeconds = deadAfterSeconds
            self.policy = policy
            self.recordPath = recordPath
            self.approvalURL = approvalURL
            self.appKey = appKey
            self.appSecret = appSecret
        }
    }

    struct State {
        var queue: [TradeLine] = []
        var head = 0
        var counters = LiveFeedCounters()
        /// Set when the feed cannot go on (bad certificate, approval refused): the run ends with it.
        var fatal: CdcError?
        var finished = false
    }

    let settings: Settings
    let state = Mutex(State())
    let stop = Mutex(false)
    let wake = DispatchSemaphore(value: 0)
    let log: @Sendable (String) -> Void
    let recorder: FileHandle?

    public init(_ settings: Settings, log: @escaping @Sendable (String) -> Void) throws {
        self.settings = settings
        self.log = log
        if let path = settings.recordPath {
            guard FileManager.default.createFile(atPath: path, contents: nil), let h = FileHandle(forWritingAtPath: path) else {
                throw CdcError.invalid("cannot write \(path)", subject: "--record", fix: "name a writable file")
            }
            recorder = h
        } else {
            recorder = nil
        }
    }

    public var counters: LiveFeedCounters { state.withLock { $0.counters } }
    public var fatal: CdcError? { state.withLock { $0.fatal } }

    /// For `TradeRunner.run(into:pull:)`: a queued trade, or `.wait` after up to 50 ms, or `.end`
    /// once the feed stopped for good.
    public func pull() -> TradePull {
        for attempt in 0..<2 {
            let next: TradePull? = state.withLock { s in
                if s.head < s.queue.count {
                    let t = s.queue[s.head]
                    s.head += 1
                    if s.head > 4096 && s.head * 2 > s.queue.count { s.queue.removeFirst(s.head); s.head = 0 }
                    return .trade(t, at: nil)
                }
                return s.finished ? .end : nil
            }
            if let next { return next }
            if attempt == 0 { _ = wake.wait(timeout: .now() + 0.05) }
        }
        return .wait
    }

    /// Starts the connection task.
    public func start() {
        Task.detached { [self] in
            await self.runLoop()
            self.state.withLock { $0.finished = true }
            self.wake.signal()
        }
    }

    /// Asks the task to close the connection and end.
    public func requestStop() {
        stop.withLock { $0 = true }
        current.withLock { $0?.close() }
    }

    let current = Mutex<SessionRef?>(nil)
    final class SessionRef: @unchecked Sendable {
        // Only `close()` is called from another thread: it closes the NIO channel, which is thread-safe.
        let session: WebSocketSession
        init(_ s: WebSocketSession) { session = s }
        func close() { session.close() }
    }

    var stopped: Bool { stop.withLock { $0 } }

    func runLoop() async {
        var policy = settings.policy
        var handler = LiveFrameHandler(kind: settings.kind)
        var lostAt: Date?
        var approvalKey: String?
        while !stopped {
            if settings.kind == .kis && approvalKey == nil {
                do { approvalKey = try requestApprovalKey() } catch {
                    let e = CdcError.bridging(error)
                    if e.isTransient {
                        let d = policy.delay(rateLimited: false, random: Double.random(in: 0...1))
                        log("kis: approval key request failed (\(e.message)); retrying in \(String(format: "%.1f", d)) s")
                        await pause(d)
                        continue
                    }
                    state.withLock { $0.fatal = e }
                    return
                }
            }
            var options = WebSocketOptions(url: settings.url, caFile: settings.caFile, pingSeconds: settings.pingSeconds,
                                           deadAfterSeconds: settings.deadAfterSeconds)
            options.headers = []  // never an Origin header (Upbit limits requests with one to 1 per 10 s)
            let firstConnection = state.withLock { $0.counters.connections == 0 && $0.counters.connectFailures == 0 }
            var gotFrames = false
            var opened = false
            do {
                try await WebSocketClient.connect(options) { session in
                    opened = true
                    let ref = SessionRef(session)
                    current.withLock { $0 = ref }
                    defer { current.withLock { $0 = nil } }
                    state.withLock { s in
                        s.counters.connections += 1
                        if !firstConnection { s.counters.reconnects += 1 }
                        if let lostAt { s.counters.gapSeconds += Date().timeIntervalSince(lostAt) }
                    }
                    if let at = lostAt { log("\(settings.kind.rawValue): reconnected after \(String(format: "%.1f", Date().timeIntervalSince(at))) s") }
                    lostAt = nil
                    if stopped { return }
                    switch settings.kind {
                    case .upbit:
                        try await session.send(UpbitFrames.subscribe(ticket: "cdcctl-\(UUID().uuidString.lowercased())", codes: settings.symbols))
                    case .kis:
                        for code in settings.symbols { try await session.send(KISFrames.subscribe(approvalKey: approvalKey ?? "", code: code)) }
                    }
                    while !stopped {
                        let text = try await session.receive()
                        if !gotFrames { gotFrames = true; policy.succeeded() }
                        let (trades, reply, refused) = state.withLock { s in handler.handle(text, counters: &s.counters) }
                        record(text, refused: refused)
                        if let reply { try await session.send(reply) }
                        if !trades.isEmpty {
                            state.withLock { $0.queue.append(contentsOf: trades) }
                            wake.signal()
                        }
                    }
                }
                if stopped { return }
            } catch {
                if stopped { return }
                let failure = error as? WebSocketFailure ?? .protocolError(String(describing: error))
                let wasUp = opened
                state.withLock { s in
                    s.counters.lastError = failure.cdcError.message
                    if case .upgradeRefused(let status) = failure, status == 429 || status == 418 { s.counters.rateLimited += 1 }
                    if wasUp { s.counters.gaps += 1 } else { s.counters.connectFailures += 1 }
                }
                if !failure.isTransient {
                    state.withLock { $0.fatal = failure.cdcError }
                    return
                }
                if case .upgradeRefused(let status) = failure, status == 401 || status == 403 { approvalKey = nil }
                if wasUp && lostAt == nil { lostAt = Date() }
                var rateLimited = false
                if case .upgradeRefused(let status) = failure, status == 429 || status == 418 { rateLimited = true }
                let d = policy.delay(rateLimited: rateLimited, random: Double.random(in: 0...1))
                log("\(settings.kind.rawValue): \(failure.cdcError.message); reconnecting in \(String(format: "%.2f", d)) s")
                await pause(d)
            }
        }
    }

    /// Sleeps in small steps so a stop request ends the wait.
    func pause(_ seconds: Double) async {
        var left = seconds
        while left > 0 && !stopped {
            let step = min(0.05, left)
            try? await Task.sleep(for: .milliseconds(Int64(step * 1000)))
            left -= step
        }
    }

    func record(_ frame: String, refused: String?) {
        guard let recorder else { return }
        recorder.write(Data(FrameRecording.line(frame, refused: refused).utf8))
    }

    func requestApprovalKey() throws -> String {
        let request = HTTPRequest("POST", settings.approvalURL, headers: [("Content-Type", "application/json; charset=utf-8")],
                                  body: KISApproval.body(appKey: settings.appKey, appSecret: settings.appSecret), timeoutSeconds: 10,
                                  caFile: settings.caFile)
        let response = try HTTPClient(retries: 0).send(request)
        guard response.status == 200, let key = KISApproval.key(from: response.text) else {
            throw CdcError.failed("the approval-key request answered HTTP \(response.status) without approval_key", subject: "POST \(HTTPClient.origin(settings.approvalURL))/oauth2/Approval",
                                  fix: "check the app key and secret (--kis-app-key, --kis-app-secret) and the approval URL",
                                  transient: response.status >= 500 || response.status == 429)
        }
        log("kis: approval key received")
        return key
    }

    deinit { try? recorder?.close() }
}
