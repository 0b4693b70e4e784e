/// The memory figures in Prometheus' text exposition format (version 0.0.4). Pure; served by
/// the metrics server of the long-running process that samples (see docs/reports.md).
public enum MemoryMetrics {
    public static func exposition(_ report: MemoryReport) -> String {
        var out = ""
        func family(_ name: String, _ type: String, _ help: String, _ values: [(String, Int64)]) {
            out += "# HELP \(name) \(help)\n# TYPE \(name) \(type)\n"
            for (service, v) in values { out += "\(name){cluster=\"\(escape(report.cluster))\",service=\"\(escape(service))\"} \(v)\n" }
        }
        var seen = Set<String>()
        let rows = report.rows.filter { $0.usageBytes != nil && seen.insert($0.service).inserted }
        family("cdcctl_memory_usage_bytes", "gauge", "Memory in use as docker stats counts it (cgroup usage minus inactive file), or RSS for a host process.",
               rows.map { ($0.service, $0.usageBytes!) })
        family("cdcctl_memory_limit_bytes", "gauge", "Memory limit in force (the cgroup's; the manifest's for a host process).",
               rows.compactMap { r in r.limitBytes.map { (r.service, $0) } })
        family("cdcctl_memory_oom_kills_total", "counter", "OOM kills in the service's current container (cgroup oom_kill).",
               rows.filter { $0.kind != "process" }.map { ($0.service, $0.oomKills) })
        out += "# HELP cdcctl_memory_budget_bytes Host memory minus reserve, from the manifest.\n# TYPE cdcctl_memory_budget_bytes gauge\n"
        out += "cdcctl_memory_budget_bytes{cluster=\"\(escape(report.cluster))\"} \(report.totals.budgetBytes)\n"
        return out
    }

    static func escape(_ s: String) -> String {
        s.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"").replacingOccurrences(of: "\n", with: "\\n")
    }
}
