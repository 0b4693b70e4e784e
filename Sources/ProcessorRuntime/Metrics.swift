import Foundation
import Processor

/// The processor's counters, served as Prometheus text on /metrics.
public final class RuntimeMetrics: @unchecked Sendable {
    public struct Snapshot: Sendable {
        public var eventsIn: UInt64 = 0
        public var malformed: UInt64 = 0
        public var rowsOut: [String: UInt64] = [:]
        public var sinkErrors: UInt64 = 0
        public var batches: UInt64 = 0
        public var batchSecondsSum: Double = 0
        /// Cumulative counts per upper bound, Prometheus histogram style.
        public var batchBuckets: [Double: UInt64] = [:]
        public var engine: ProcessorMetrics?
    }

    static let bounds: [Double] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]
    private let lock = NSLock()
    private var s = Snapshot()

    public init() {}

    public func snapshot() -> Snapshot { lock.lock(); defer { lock.unlock() }; return s }

    func add(eventsIn n: UInt64) { lock.lock(); s.eventsIn += n; lock.unlock() }
    func add(malformed n: UInt64) { lock.lock(); s.malformed += n; lock.unlock() }
    func add(sinkErrors n: UInt64) { lock.lock(); s.sinkErrors += n; lock.unlock() }
    func add(rowsOut n: Int, table: String) { lock.lock(); s.rowsOut[table, default: 0] += UInt64(n); lock.unlock() }
    func set(engine m: ProcessorMetrics) { lock.lock(); s.engine = m; lock.unlock() }

    func observeBatch(seconds: Double) {
        lock.lock()
        s.batches += 1
        s.batchSecondsSum += seconds
        for b in Self.bounds where seconds <= b { s.batchBuckets[b, default: 0] += 1 }
        lock.unlock()
    }

    /// Prometheus exposition format, names as the alert rules and dashboard use them.
    public func render() -> String {
        let s = snapshot()
        var out = ""
        func counter(_ name: String, _ help: String, _ value: UInt64, labels: String = "") {
            out += "# HELP \(name) \(help)\n# TYPE \(name) counter\n\(name)\(labels) \(value)\n"
        }
        counter("cdcctl_processor_events_in_total", "Records consumed from Kafka.", s.eventsIn)
        counter("cdcctl_processor_malformed_total", "Records that could not be decoded (skipped).", s.malformed)
        counter("cdcctl_processor_sink_errors_total", "Failed ClickHouse inserts (each retried).", s.sinkErrors)
        counter("cdcctl_processor_late_events_dropped_total", "Trades later than the allowed lateness.", s.engine?.lateEventsDropped ?? 0)
        counter("cdcctl_processor_late_events_updated_total", "Late trades that re-emitted their window.", s.engine?.lateEventsUpdated ?? 0)
        counter("cdcctl_processor_alerts_total", "Anomaly alerts emitted.", s.engine?.alerts ?? 0)
        out += "# HELP cdcctl_processor_rows_out_total Rows acknowledged by ClickHouse.\n# TYPE cdcctl_processor_rows_out_total counter\n"
        for table in s.rowsOut.keys.sorted() { out += "cdcctl_processor_rows_out_total{table=\"\(table)\"} \(s.rowsOut[table]!)\n" }
        out += "# HELP cdcctl_processor_batch_latency_seconds Flush time: pend commit, inserts, commit.\n"
        out += "# TYPE cdcctl_processor_batch_latency_seconds histogram\n"
        for b in Self.bounds { out += "cdcctl_processor_batch_latency_seconds_bucket{le=\"\(b)\"} \(s.batchBuckets[b] ?? 0)\n" }
        out += "cdcctl_processor_batch_latency_seconds_bucket{le=\"+Inf\"} \(s.batches)\n"
        out += "cdcctl_processor_batch_latency_seconds_sum \(s.batchSecondsSum)\ncdcctl_processor_batch_latency_seconds_count \(s.batches)\n"
        return out
    }
}

/// A minimal HTTP/1.0 responder for GET /metrics on one background thread. Hand-written
/// (about 50 lines of POSIX sockets) rather than a server framework, which would add minutes
/// to every build for one read-only endpoint.
public final class MetricsServer: @unchecked Sendable {
    let fd: Int32
    public let port: Int

    public init(host: String = "127.0.0.1", port: Int, body: @escaping @Sendable () -> String) throws {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
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
            throw NSError(domain: "metrics", code: Int(errno), userInfo: [NSLocalizedDescriptionKey:
                "cannot listen on \(host):\(port) for /metrics: \(reason)"])
        }
        self.port = port
        let listener = fd
        Thread.detachNewThread {
            while true {
                let client = accept(listener, nil, nil)
                if client < 0 { return }
                var request = [UInt8](repeating: 0, count: 2048)
                let n = read(client, &request, request.count)
                let line = String(decoding: request.prefix(max(0, n)), as: UTF8.self)
                let ok = line.hasPrefix("GET /metrics")
                let content = ok ? body() : "only GET /metrics here\n"
                let head = "HTTP/1.0 \(ok ? "200 OK" : "404 Not Found")\r\nContent-Type: text/plain; version=0.0.4\r\n"
                    + "Content-Length: \(content.utf8.count)\r\nConnection: close\r\n\r\n"
                let bytes = Array((head + content).utf8)
                _ = bytes.withUnsafeBytes { write(client, $0.baseAddress, $0.count) }
                close(client)
            }
        }
    }

    deinit { close(fd) }
}
