import Diagnostics
import Foundation

/// A minimal HTTP/1.0 responder for GET /metrics on one background thread. Hand-written
/// (about 50 lines of POSIX sockets) rather than a server framework, which would add minutes
/// to every build for one read-only endpoint. Nothing it meets can crash the process: the port
/// is validated before use, writes to a client that went away do not raise SIGPIPE, and a
/// failed accept only ends the thread.
public final class MetricsServer: @unchecked Sendable {
    let fds: [Int32]
    public let port: Int
    /// Every address it listens on, loopback first.
    public let addresses: [String]

    /// A TCP port for /metrics, or a CdcError (exit 2) naming where it came from: `--metrics-port`
    /// or `processor.metricsPort`.
    public static func validatePort(_ port: Int, source: String) throws {
        guard (1...65535).contains(port) else {
            throw CdcError.invalid("port \(port) is outside 1–65535", subject: source,
                                   fix: "give \(source) a free TCP port between 1 and 65535 (e.g. 9400)")
        }
    }

    /// Listens on `host:port`. `source` names the setting the port came from, for errors.
    public convenience init(host: String = "127.0.0.1", port: Int, source: String = "processor.metricsPort",
                            body: @escaping @Sendable () -> String) throws {
        try self.init(hosts: [host], optional: [], port: port, source: source, body: body)
    }

    /// For a host process the stack's Prometheus scrapes: loopback, and the Docker bridge's
    /// address when the host has one. The Prometheus container reaches the host as
    /// `host.docker.internal`, which Docker's `host-gateway` maps to that bridge address
    /// (docker0), so a loopback-only listener can never be scraped from the container, while
    /// 0.0.0.0 would publish /metrics on every interface. The bridge listener is best effort.
    public static func scrapedByTheStack(port: Int, source: String, bridge: String? = HostGateway.dockerBridgeIPv4(),
                                         body: @escaping @Sendable () -> String) throws -> MetricsServer {
        try MetricsServer(hosts: ["127.0.0.1"], optional: bridge.map { [$0] } ?? [], port: port, source: source, body: body)
    }

    /// Listens on every one of `hosts` (a failure is an error) and of `optional` (a failure is skipped).
    init(hosts: [String], optional: [String], port: Int, source: String, body: @escaping @Sendable () -> String) throws {
        try Self.validatePort(port, source: source)
        var fds: [Int32] = []
        var addresses: [String] = []
        for (host, required) in hosts.map({ ($0, true) }) + optional.map({ ($0, false) }) {
            do {
                fds.append(try Self.listen(host: host, port: port, source: source))
                addresses.append(host)
            } catch where !required {
                continue
            } catch {
                for fd in fds { close(fd) }
                throw error
            }
        }
        self.fds = fds
        self.port = port
        self.addresses = addresses
        for listener in fds { Self.serve(listener, body: body) }
    }

    static func listen(host: String, port: Int, source: String) throws -> Int32 {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw CdcError.failed("cannot open a socket for /metrics: \(String(cString: strerror(errno)))", subject: source) }
        var yes: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &yes, socklen_t(MemoryLayout<Int32>.size))
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = in_port_t(UInt16(port).bigEndian)
        addr.sin_addr.s_addr = inet_addr(host)
        let bound = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
            bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        guard bound == 0, Foundation.listen(fd, 16) == 0 else {
            let reason = String(cString: strerror(errno))
            close(fd)
            throw CdcError.invalid("cannot listen on \(host):\(port) for /metrics: \(reason)", subject: source,
                                   fix: "another process holds port \(port): stop it or choose another port (\(source))")
        }
        return fd
    }

    static func serve(_ listener: Int32, body: @escaping @Sendable () -> String) {
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

    deinit { for fd in fds { close(fd) } }
}

/// The host's address as containers see it through Docker's `host-gateway` (`host.docker.internal`).
public enum HostGateway {
    /// The IPv4 address of the Docker bridge interface (`docker0` by default), or nil without one.
    public static func dockerBridgeIPv4(interface: String = "docker0") -> String? {
        var list: UnsafeMutablePointer<ifaddrs>?
        guard getifaddrs(&list) == 0, let first = list else { return nil }
        defer { freeifaddrs(list) }
        var cursor: UnsafeMutablePointer<ifaddrs>? = first
        while let entry = cursor {
            defer { cursor = entry.pointee.ifa_next }
            guard let name = entry.pointee.ifa_name, String(cString: name) == interface,
                  let sa = entry.pointee.ifa_addr, sa.pointee.sa_family == sa_family_t(AF_INET) else { continue }
            var host = [CChar](repeating: 0, count: Int(NI_MAXHOST))
            let rc = getnameinfo(sa, socklen_t(MemoryLayout<sockaddr_in>.size), &host, socklen_t(host.count), nil, 0, NI_NUMERICHOST)
            if rc == 0 { return String(cString: host) }
        }
        return nil
    }
}
