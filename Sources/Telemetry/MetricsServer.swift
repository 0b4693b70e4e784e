import Diagnostics
import Foundation

/// A minimal HTTP/1.0 responder for GET /metrics on one background thread. Hand-written
/// (about 50 lines of POSIX sockets) rather than a server framework, which would add minutes
/// to every build for one read-only endpoint. Nothing it meets can crash the process: the port
/// is validated before use, writes to a client that went away do not raise SIGPIPE, and a
/// failed accept only ends the thread.
public final class MetricsServer: @unchecked Sendable {
    let fd: Int32
    public let port: Int

    /// A TCP port for /metrics, or a CdcError (exit 2) naming where it came from: `--metrics-port`
    /// or `processor.metricsPort`.
    public static func validatePort(_ port: Int, source: String) throws {
        guard (1...65535).contains(port) else {
            throw CdcError.invalid("port \(port) is outside 1–65535", subject: source,
                                   fix: "give \(source) a free TCP port between 1 and 65535 (e.g. 9400)")
        }
    }

    /// Listens on `host:port`. `source` names the setting the port came from, for errors.
    public init(host: String = "127.0.0.1", port: Int, source: String = "processor.metricsPort",
                body: @escaping @Sendable () -> String) throws {
        try Self.validatePort(port, source: source)
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw CdcError.failed("cannot open a socket for /metrics: \(String(cString: strerror(errno)))", subject: source) }
        self.fd = fd
        var yes: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &yes, socklen_t(MemoryLayout<Int32>.size))
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = in_port_t(UInt16(port).bigEndian)
        addr.sin_addr.s_addr = inet_addr(host)
        let bound = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
            bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        guard bound == 0, listen(fd, 16) == 0 else {
            let reason = String(cString: strerror(errno))
            close(fd)
            throw CdcError.invalid("cannot listen on \(host):\(port) for /metrics: \(reason)", subject: source,
                                   fix: "another process holds port \(port): stop it or choose another port (--metrics-port)")
        }
        self.port = port
        let listener = fd
        Thread.detachNewThread {
            while true {
                let client = accept(listener, nil, nil)
                if client < 0 {
                    if errno == EINTR || errno == ECONNABORTED { continue }
                    return
                }
                var request = [UInt8](repeating: 0, count: 2048)
                let n = read(client, &request, request.count)
                let line = String(decoding: request.prefix(max(0, n)), as: UTF8.self)
                let ok = line.hasPrefix("GET /metrics")
                let content = ok ? body() : "only GET /metrics here\n"
                let head = "HTTP/1.0 \(ok ? "200 OK" : "404 Not Found")\r\nContent-Type: text/plain; version=0.0.4\r\n"
                    + "Content-Length: \(content.utf8.count)\r\nConnection: close\r\n\r\n"
                let bytes = Array((head + content).utf8)
                _ = bytes.withUnsafeBytes { send(client, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
                close(client)
            }
        }
    }

    deinit { close(fd) }
}
