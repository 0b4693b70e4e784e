import Diagnostics
import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL
import NIOWebSocket
import Synchronization

/// The one door to a WebSocket server (the live trade feeds): swift-nio's WebSocket upgrader and
/// frame codec over swift-nio-ssl, with certificate verification. Only this module imports NIO;
/// what it exposes is text in and text out.
///
/// Why not swift-websocket's `WSClient`: its upgrade request always carries an `Origin` header
/// (`WebSocketClientChannel.setupWSUpgrade` sets it with `replaceOrAdd`, and additional headers
/// cannot remove it), and Upbit limits requests with an `Origin` header to one per 10 s. The
/// framing, masking and handshake validation here are NIO's; this file answers pings, sends its
/// own, and notices a dead connection.
public struct WebSocketOptions: Sendable {
    /// `wss://host[:port]/path` (TLS, verified) or `ws://…` (KIS's real-time server is plain).
    public var url: String
    /// PEM file of CA certificates to trust instead of the system's (tests, TLS-intercepting proxies).
    public var caFile: String?
    /// A WebSocket ping every this many seconds (Upbit drops a connection idle for ~120 s); 0 = never.
    public var pingSeconds: Double
    /// No frame at all (data, pong, anything) for this long: the connection is dead, close it.
    public var deadAfterSeconds: Double
    public var connectTimeoutSeconds: Double
    /// Extra request headers (never `Origin`: it is refused here).
    public var headers: [(String, String)]

    public init(url: String, caFile: String? = nil, pingSeconds: Double = 30, deadAfterSeconds: Double = 90,
                connectTimeoutSeconds: Double = 10, headers: [(String, String)] = []) {
        self.url = url
        self.caFile = caFile
        self.pingSeconds = pingSeconds
        self.deadAfterSeconds = deadAfterSeconds
        self.connectTimeoutSeconds = connectTimeoutSeconds
        self.headers = headers
    }
}

/// Why a connection could not be made or ended. `isTransient`: worth reconnecting.
public enum WebSocketFailure: Error, Equatable, CdcErrorConvertible {
    case badURL(String)
    /// TCP connect refused, reset, timed out, name not resolved.
    case connect(String)
    /// The TLS handshake failed (an unknown CA, a wrong host name): not retried.
    case tls(String)
    /// The server answered the upgrade with this HTTP status (429: too many requests).
    case upgradeRefused(status: Int)
    /// The server closed the WebSocket (its close code, if it sent one) or the TCP connection ended.
    case closed(code: Int?)
    /// No frame for `deadAfterSeconds`.
    case dead(seconds: Double)
    case protocolError(String)

    public var isTransient: Bool {
        switch self {
        case .badURL, .tls: false
        case .upgradeRefused(let status): status == 429 || status == 418 || status >= 500
        default: true
        }
    }

    public var cdcError: CdcError {
        switch self {
        case .badURL(let u): .invalid("not a ws:// or wss:// URL: \(u)", subject: "--url", fix: "e.g. wss://api.upbit.com/websocket/v1")
        case .connect(let m): .failed("cannot connect: \(m)", subject: "websocket", transient: true)
        case .tls(let m): .failed("TLS handshake failed: \(m)", subject: "websocket",
                                  fix: "the server's certificate is not trusted: pass --ca-file with the CA that signed it")
        case .upgradeRefused(let s): .failed("the server refused the WebSocket upgrade with HTTP \(s)", subject: "websocket",
                                             fix: s == 429 || s == 418 ? "too many connections: wait and reconnect less often" : nil,
                                             transient: isTransient)
        case .closed(let c): .failed("the server closed the connection" + (c.map { " (code \($0))" } ?? ""), subject: "websocket", transient: true)
        case .dead(let s): .failed("no frame for \(Int(s)) s: connection presumed dead", subject: "websocket", transient: true)
        case .protocolError(let m): .failed("WebSocket protocol error: \(m)", subject: "websocket", transient: true)
        }
    }
}

/// The connection's shared half (the watchdog pings through it and closes it).
final class WebSocketLink: Sendable {
    let outbound: NIOAsyncChannelOutboundWriter<WebSocketFrame>
    let lastFrame = Mutex<ContinuousClock.Instant>(.now)
    let ended = Mutex<WebSocketFailure?>(nil)
    let channel: any Channel

    init(outbound: NIOAsyncChannelOutboundWriter<WebSocketFrame>, channel: any Channel) {
        self.outbound = outbound
        self.channel = channel
    }

    func write(_ opcode: WebSocketOpcode, _ data: ByteBuffer) async throws {
        try await outbound.write(WebSocketFrame(fin: true, opcode: opcode, maskKey: .random(), data: data))
    }

    func abort(_ why: WebSocketFailure?) {
        if let why { ended.withLock { if $0 == nil { $0 = why } } }
        channel.close(promise: nil)
    }
}

/// An open connection, handed to the caller's body: text (or UTF-8 binary) messages in, text out.
/// Used by the task that opened it.
public final class WebSocketSession {
    let link: WebSocketLink
    var iterator: NIOAsyncChannelInboundStream<WebSocketFrame>.AsyncIterator

    init(link: WebSocketLink, inbound: NIOAsyncChannelInboundStream<WebSocketFrame>) {
        self.link = link
        self.iterator = inbound.makeAsyncIterator()
    }

    /// The next text or binary message as text; throws `WebSocketFailure` when the connection ends.
    /// Pings are answered and pongs noted here.
    public func receive() async throws -> String {
        while true {
            let frame: WebSocketFrame?
            do { frame = try await iterator.next() } catch {
                if let why = link.ended.withLock({ $0 }) { throw why }
                // Once open, whatever ends the connection (an unclean TLS shutdown included) is a loss to reconnect from.
                let f = WebSocketClient.classify(error)
                throw f.isTransient ? f : WebSocketFailure.closed(code: nil)
            }
            guard let frame else { throw link.ended.withLock { $0 } ?? WebSocketFailure.closed(code: nil) }
            link.lastFrame.withLock { $0 = .now }
            switch frame.opcode {
            case .text, .binary:
                return String(buffer: frame.unmaskedData)
            case .ping:
                try? await link.write(.pong, frame.unmaskedData)
            case .connectionClose:
                var data = frame.unmaskedData
                let code = data.readInteger(as: UInt16.self).map(Int.init)
                // Echo the close (RFC 6455 §5.5.1), then end.
                try? await link.write(.connectionClose, frame.unmaskedData)
                link.outbound.finish()
                throw WebSocketFailure.closed(code: code)
            default:
                continue  // pong (liveness noted above); continuations are aggregated before here
            }
        }
    }

    public func send(_ text: String) async throws {
        do { try await link.write(.text, ByteBuffer(string: text)) } catch { throw WebSocketFailure.closed(code: nil) }
    }

    /// Closes the connection from our side (a stop request).
    public func close() { link.abort(nil) }
}

public enum WebSocketClient {
    enum Upgrade: Sendable {
        case websocket(NIOAsyncChannel<WebSocketFrame, WebSocketFrame>)
        case refused(NIOAsyncChannel<HTTPClientResponsePart, HTTPClientRequestPart>)
    }

    struct Target: Equatable {
        var tls: Bool
        var host: String
        var port: Int
        var path: String
    }

    static func parse(_ url: String) -> Target? {
        guard let u = URLComponents(string: url), let scheme = u.scheme?.lowercased(), scheme == "ws" || scheme == "wss",
              let host = u.host, !host.isEmpty else { return nil }
        let tls = scheme == "wss"
        let path = (u.percentEncodedPath.isEmpty ? "/" : u.percentEncodedPath) + (u.percentEncodedQuery.map { "?\($0)" } ?? "")
        return Target(tls: tls, host: host, port: u.port ?? (tls ? 443 : 80), path: path)
    }

    /// Connects, upgrades, runs `body` with the open session (pinging and watching for a dead
    /// connection meanwhile), and closes. Throws `WebSocketFailure`.
    public static func connect<T>(_ options: WebSocketOptions, _ body: (WebSocketSession) async throws -> T) async throws -> T {
        guard let target = parse(options.url) else { throw WebSocketFailure.badURL(options.url) }
        if options.headers.contains(where: { $0.0.lowercased() == "origin" }) { throw WebSocketFailure.badURL("an Origin header is never sent") }
        var sslContext: NIOSSLContext?
        if target.tls {
            var tls = TLSConfiguration.makeClientConfiguration()  // certificateVerification = .fullVerification
            if let ca = options.caFile { tls.trustRoots = .file(ca) }
            do { sslContext = try NIOSSLContext(configuration: tls) } catch { throw WebSocketFailure.tls("cannot load trust roots: \(error)") }
        }
        let isIP = target.host.contains(":") || target.host.split(separator: ".").allSatisfy { Int($0) != nil }
        var headers = HTTPHeaders()
        headers.add(name: "Host", value: target.port == (target.tls ? 443 : 80) ? target.host : "\(target.host):\(target.port)")
        for (k, v) in options.headers { headers.add(name: k, value: v) }
        let head = HTTPRequestHead(version: .http1_1, method: .GET, uri: target.path, headers: headers)
        let context = sslContext

        let upgrade: EventLoopFuture<Upgrade>
        do {
            upgrade = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .connectTimeout(.milliseconds(Int64(options.connectTimeoutSeconds * 1000)))
                .connect(host: target.host, port: target.port) { channel in
                    channel.eventLoop.makeCompletedFuture {
                        if let context {
                            let handler = try NIOSSLClientHandler(context: context, serverHostname: isIP ? nil : target.host)
                            try channel.pipeline.syncOperations.addHandler(handler)
                        }
                        let upgrader = NIOTypedWebSocketClientUpgrader<Upgrade>(maxFrameSize: 1 << 20, upgradePipelineHandler: { channel, _ in
                            channel.eventLoop.makeCompletedFuture {
                                try channel.pipeline.syncOperations.addHandler(
                                    NIOWebSocketFrameAggregator(minNonFinalFragmentSize: 0, maxAccumulatedFrameCount: 64, maxAccumulatedFrameSize: 1 << 22))
                                return .websocket(try NIOAsyncChannel<WebSocketFrame, WebSocketFrame>(wrappingChannelSynchronously: channel))
                            }
                        })
                        let config = NIOTypedHTTPClientUpgradeConfiguration<Upgrade>(
                            upgradeRequestHead: head, upgraders: [upgrader],
                            notUpgradingCompletionHandler: { channel in
                                channel.eventLoop.makeCompletedFuture {
                                    .refused(try NIOAsyncChannel<HTTPClientResponsePart, HTTPClientRequestPart>(wrappingChannelSynchronously: channel))
                                }
                            })
                        return try channel.pipeline.syncOperations.configureUpgradableHTTPClientPipeline(
                            configuration: .init(upgradeConfiguration: config))
                    }
                }
        } catch {
            throw classify(error)
        }
        let result: Upgrade
        do { result = try await upgrade.get() } catch { throw classify(error) }
        switch result {
        case .refused(let http):
            var status = 0
            try? await http.executeThenClose { inbound, _ in
                for try await part in inbound { if case .head(let h) = part { status = Int(h.status.code) }; break }
            }
            throw WebSocketFailure.upgradeRefused(status: status)
        case .websocket(let ws):
            let channel = ws.channel
            do {
                return try await ws.executeThenClose { inbound, outbound in
                    let link = WebSocketLink(outbound: outbound, channel: channel)
                    let session = WebSocketSession(link: link, inbound: inbound)
                    let watchdog = Task {
                        let step = max(0.05, min(options.pingSeconds > 0 ? options.pingSeconds : 1, options.deadAfterSeconds / 4))
                        var sincePing = 0.0
                        while !Task.isCancelled {
                            try? await Task.sleep(for: .milliseconds(Int64(step * 1000)))
                            if Task.isCancelled { break }
                            let quiet = link.lastFrame.withLock { ContinuousClock.now - $0 }
                            if quiet > .milliseconds(Int64(options.deadAfterSeconds * 1000)) {
                                link.abort(.dead(seconds: options.deadAfterSeconds))
                                break
                            }
                            sincePing += step
                            if options.pingSeconds > 0 && sincePing >= options.pingSeconds {
                                sincePing = 0
                                try? await link.write(.ping, ByteBuffer())
                            }
                        }
                    }
                    defer { watchdog.cancel() }
                    return try await body(session)
                }
            } catch let f as WebSocketFailure {
                throw f
            } catch {
                throw classify(error)
            }
        }
    }

    static func classify(_ error: any Error) -> WebSocketFailure {
        if let f = error as? WebSocketFailure { return f }
        if let e = error as? NIOSSLError {
            if case .uncleanShutdown = e { return .closed(code: nil) }
            return .tls(String(describing: e))
        }
        if error is BoringSSLError { return .tls(String(describing: error)) }
        if let e = error as? NIOSSLExtraError { return .tls(String(describing: e)) }
        if error is NIOHTTPClientUpgradeError { return .protocolError(String(describing: error)) }
        if let e = error as? ChannelError {
            switch e {
            case .connectTimeout: return .connect("timed out")
            case .eof, .ioOnClosedChannel, .alreadyClosed, .outputClosed: return .closed(code: nil)
            default: return .connect(String(describing: e))
            }
        }
        return .connect(String(describing: error))
    }
}
