import Foundation
import State

/// The memory report as a picture: every service's usage stacked over the period, each limit as
/// a dashed line, the budget and the host's memory as horizontal lines, OOM kills marked; then
/// the tables. Pure: samples and report in, text out.
public enum MemoryPicture {
    static let mib = 1_048_576.0

    public static func chart(cluster: String, samples: [MemorySampleRecord], report: MemoryReport) -> TimeChart {
        var chart = TimeChart(title: "the box: every service's usage stacked, against the budget and the host's memory")
        chart.unitLabel = "MiB"
        chart.tickBase = 1024
        chart.valueFormat = format
        let byService = Dictionary(grouping: samples, by: \.service)
        // Largest at the bottom of the stack.
        let order = byService.keys.sorted { a, b in
            let ma = byService[a]!.map(\.usageBytes).max() ?? 0, mb = byService[b]!.map(\.usageBytes).max() ?? 0
            return ma != mb ? ma > mb : a < b
        }
        chart.stacked = order.map { s in
            TimeChart.Series(name: s, points: byService[s]!.map { ($0.atMs, Double($0.usageBytes) / mib) })
        }
        chart.references = [TimeChart.Reference(label: "budget", value: Double(report.totals.budgetBytes) / mib, color: "#b00000")]
        if let host = report.totals.hostTotalBytes {
            chart.references.append(TimeChart.Reference(label: "host MemTotal", value: Double(host) / mib, color: "#444444"))
        } else {
            chart.references.append(TimeChart.Reference(label: "host (manifest)", value: Double(report.totals.plannedHostBytes) / mib, color: "#444444"))
        }
        chart.references.append(TimeChart.Reference(label: "limits planned", value: Double(report.totals.plannedBytes) / mib, color: "#7a5c00"))
        chart.markers = byService.flatMap { oomMarkers($0.key, $0.value) }.sorted { $0.atMs < $1.atMs }
        return chart
    }

    static let format: @Sendable (Double) -> String = { v in
        v >= 1024 ? String(format: v.truncatingRemainder(dividingBy: 1024) == 0 ? "%.0f GiB" : "%.1f GiB", v / 1024) : String(format: "%.0f MiB", v)
    }

    /// An OOM kill: the counter rose between two samples of a service (or a new container starts with kills).
    static func oomMarkers(_ service: String, _ list: [MemorySampleRecord]) -> [TimeChart.Marker] {
        var out: [TimeChart.Marker] = []
        var last: Int64? = nil
        for s in list.sorted(by: { $0.atMs < $1.atMs }) {
            let grew = last.map { s.oomKills > $0 ? s.oomKills - $0 : (s.oomKills < $0 ? s.oomKills : 0) } ?? s.oomKills
            if grew > 0 { out.append(TimeChart.Marker(atMs: s.atMs, label: "OOM \(service)" + (grew > 1 ? " ×\(grew)" : ""))) }
            last = s.oomKills
        }
        return out
    }

    /// One small chart per service: its usage against its own limit (dashed), its OOM kills,
    /// all over the same period, so the time axes line up.
    public static func serviceCharts(samples: [MemorySampleRecord]) -> [TimeChart] {
        let byService = Dictionary(grouping: samples, by: \.service)
        let t0 = samples.map(\.atMs).min() ?? 0, t1 = samples.map(\.atMs).max() ?? 0
        return byService.keys.sorted().map { service in
            let list = byService[service]!.sorted { $0.atMs < $1.atMs }
            var c = TimeChart(title: service + (list.last.map { $0.limitBytes > 0 ? " (limit \(Bytes.mib($0.limitBytes)))" : " (no limit)" } ?? ""))
            c.width = 440
            c.height = 230
            c.legend = false
            c.tickBase = 1024
            c.valueFormat = format
            // The shared period: invisible end points keep every small chart on the same time axis.
            c.stacked = [TimeChart.Series(name: service, points: list.map { ($0.atMs, Double($0.usageBytes) / mib) })]
            let limits = list.filter { $0.limitBytes > 0 }.map { ($0.atMs, Double($0.limitBytes) / mib) }
            c.lines = limits.isEmpty ? [] : [TimeChart.Series(name: service, points: limits)]
            c.markers = oomMarkers(service, list).map { TimeChart.Marker(atMs: $0.atMs, label: "OOM") }
            c.span = (t0, t1)
            return c
        }
    }

    public static func html(cluster: String, samples: [MemorySampleRecord], report: MemoryReport, summaries: [MemorySummary],
                            periodLabel: String) -> String {
        var page = HTMLPage(title: "cdcctl report memory — cluster \(cluster)")
        page.paragraph("At \(utc(report.atMs)) UTC; history: \(periodLabel), \(samples.count) samples. Host cgroup: \(report.cgroup ?? "not readable here").")
        if report.healthy {
            page.paragraph("healthy: every service below \(Int(MemoryVerdict.threshold * 100)) % of its limit, no new OOM kill, none restarting, total within budget", cssClass: "ok")
        } else {
            for p in report.problems { page.paragraph("\(p.subject): \(p.message) — fix: \(p.fix)", cssClass: "bad") }
        }
        page.chart(chart(cluster: cluster, samples: samples, report: report))
        page.heading("each service against its limit (dashed)")
        page.charts(serviceCharts(samples: samples))
        page.heading("now")
        let bad = Set(report.problems.map(\.subject))
        page.table(MemoryTables.nowRows(report), cssClasses: report.rows.map { r -> String? in bad.contains(r.service) ? "bad" : nil })
        if !summaries.isEmpty {
            page.heading("history: \(periodLabel)")
            page.table(MemoryTables.historyRows(summaries))
        }
        return page.html()
    }

    public static func svg(cluster: String, samples: [MemorySampleRecord], report: MemoryReport) -> String {
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n" + chart(cluster: cluster, samples: samples, report: report).svg()
    }

    static func utc(_ ms: Int64) -> String {
        let f = DateFormatter()
        f.locale = Locale(identifier: "en_US_POSIX")
        f.timeZone = TimeZone(identifier: "UTC")
        f.dateFormat = "yyyy-MM-dd HH:mm:ss"
        return f.string(from: Date(timeIntervalSince1970: Double(ms) / 1000))
    }
}

/// The rows of the tables, shared by the terminal and the HTML page.
public enum MemoryTables {
    static func m(_ b: Int64?) -> String { b.map(Bytes.mib) ?? "-" }

    public static func nowRows(_ r: MemoryReport) -> [[String]] {
        var rows = [["SERVICE", "KIND", "STATE", "USAGE", "LIMIT", "%", "PLANNED", "HEAP", "PEAK", "ANON", "FILE", "OOM", "RESTARTS", "SOURCE"]]
        for x in r.rows {
            rows.append([x.service, x.kind, x.state, m(x.usageBytes), m(x.limitBytes), x.percentOfLimit.map { String(format: "%.0f", $0) } ?? "-",
                         m(x.plannedLimitBytes), m(x.heapBytes), x.peakBytes.map { Bytes.mib($0) + (x.peakSource == "history" ? " (hist)" : "") } ?? "-",
                         m(x.anonBytes), m(x.fileBytes), x.newOOMKills > 0 ? "\(x.oomKills) (+\(x.newOOMKills))" : String(x.oomKills),
                         String(x.restarts), x.source])
        }
        let t = r.totals
        let blank = [String](repeating: "", count: 10)
        rows.append(["total used", "", "", m(t.usageBytes), "", "", m(t.plannedBytes)] + blank.prefix(7))
        rows.append(["budget", "", "", m(t.budgetBytes), "", t.budgetBytes > 0 ? String(format: "%.0f", Double(t.usageBytes) * 100 / Double(t.budgetBytes)) : "-",
                     ""] + blank.prefix(6) + ["host \(m(t.plannedHostBytes)) - reserve \(m(t.reserveBytes))"])
        rows.append(["host MemTotal", "", "", m(t.hostTotalBytes), "", "", ""] + blank.prefix(7))
        rows.append(["host MemAvailable", "", "", m(t.hostAvailableBytes), "", "", ""] + blank.prefix(7))
        return rows
    }

    public static func historyRows(_ s: [MemorySummary]) -> [[String]] {
        var rows = [["SERVICE", "SAMPLES", "MIN", "MEAN", "P95", "MAX", "PEAK AT (UTC)", "LIMIT", "OOM KILLS"]]
        for x in s {
            rows.append([x.service, String(x.samples), m(x.minBytes), m(x.meanBytes), m(x.p95Bytes), m(x.maxBytes),
                         MemoryPicture.utc(x.peakAtMs), x.limitBytes > 0 ? m(x.limitBytes) : "-", String(x.oomKills)])
        }
        return rows
    }
}
