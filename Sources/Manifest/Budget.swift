import Diagnostics

/// Memory limits of every service against the host budget.
public struct MemoryBudget: Sendable, Codable, Equatable {
    public struct Line: Sendable, Codable, Equatable {
        public var service: String
        /// `container` (compose service) or `process` (cdcctl subcommand on the host).
        public var kind: String
        public var limitMiB: Int
        public var heapMiB: Int?
    }

    public var lines: [Line]
    public var hostMiB: Int
    public var reserveMiB: Int

    public var totalMiB: Int { lines.reduce(0) { $0 + $1.limitMiB } }
    public var budgetMiB: Int { hostMiB - reserveMiB }
    public var headroomMiB: Int { budgetMiB - totalMiB }
    public var fits: Bool { totalMiB <= budgetMiB }

    public init(_ m: Manifest) {
        var lines: [Line] = [Line(service: "mysql", kind: "container", limitMiB: m.source.memoryMiB, heapMiB: nil)]
        for i in 1...max(m.kafka.brokers, 1) {
            lines.append(Line(service: "kafka-\(i)", kind: "container", limitMiB: m.kafka.memoryMiB, heapMiB: m.kafka.heapMiB))
        }
        lines.append(Line(service: "connect", kind: "container", limitMiB: m.connect.memoryMiB, heapMiB: m.connect.heapMiB))
        lines.append(Line(service: "clickhouse", kind: "container", limitMiB: m.clickhouse.memoryMiB, heapMiB: nil))
        lines.append(Line(service: "prometheus", kind: "container", limitMiB: m.prometheus.memoryMiB, heapMiB: nil))
        lines.append(Line(service: "grafana", kind: "container", limitMiB: m.grafana.memoryMiB, heapMiB: nil))
        if m.kafkaUI.enabled {
            lines.append(Line(service: "kafka-ui", kind: "container", limitMiB: m.kafkaUI.memoryMiB, heapMiB: m.kafkaUI.heapMiB))
        }
        if m.cloudflared.enabled {
            lines.append(Line(service: "cloudflared", kind: "container", limitMiB: m.cloudflared.memoryMiB, heapMiB: nil))
        }
        if m.starrocks.enabled {
            lines.append(Line(service: "starrocks-fe", kind: "container", limitMiB: m.starrocks.feMemoryMiB, heapMiB: m.starrocks.feHeapMiB))
            lines.append(Line(service: "starrocks-be", kind: "container", limitMiB: m.starrocks.beMemoryMiB, heapMiB: nil))
        }
        if m.postgresEnabled {
            lines.append(Line(service: "postgres", kind: "container", limitMiB: m.postgres.memoryMiB, heapMiB: nil))
        }
        lines.append(Line(service: "processor", kind: "process", limitMiB: m.processor.memoryMiB, heapMiB: nil))
        lines.append(Line(service: "producer-orders", kind: "process", limitMiB: m.producers.orders.memoryMiB, heapMiB: nil))
        lines.append(Line(service: "producer-trades", kind: "process", limitMiB: m.producers.trades.memoryMiB, heapMiB: nil))
        self.lines = lines
        self.hostMiB = m.cluster.host.memoryMiB
        self.reserveMiB = m.cluster.host.reserveMiB
    }

    /// A fixed-width table for terminals.
    public var table: String {
        var rows = [["SERVICE", "KIND", "LIMIT", "HEAP"]]
        for l in lines {
            rows.append([l.service, l.kind, "\(l.limitMiB) MiB", l.heapMiB.map { "\($0) MiB" } ?? "-"])
        }
        rows.append(["total", "", "\(totalMiB) MiB", ""])
        rows.append(["budget", "", "\(budgetMiB) MiB", "(\(hostMiB) MiB host - \(reserveMiB) MiB reserve)"])
        rows.append(["headroom", "", "\(headroomMiB) MiB", fits ? "" : "OVER BUDGET"])
        return TextTable.render(rows)
    }
}

