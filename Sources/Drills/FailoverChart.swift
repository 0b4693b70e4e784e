import Foundation
import Reports

/// The picture of one run, drawn by the one chart writer (`Reports.TimeChart`, `HTMLPage`): acks
/// per second and the test topic's smallest live ISR (right axis) over time, the fault window
/// and the recovery shaded, phase boundaries, the longest produce stall and "healed" marked.
/// Self-contained SVG (no scripts, fonts or network); `html` adds the verdict, conditions, figures and phases.
public enum FailoverChart {
    public static func chart(_ r: FailoverReport) -> TimeChart {
        // The writer's time axis is in ms; the run's times are seconds since it started.
        let base = r.startedAtMs
        func ms(_ s: Double) -> Int64 { base + Int64((s * 1000).rounded()) }
        var c = TimeChart(title: title(r))
        c.width = 1100
        c.height = 440
        c.elapsedSinceMs = base
        c.span = (base, ms(max(r.durationSeconds, Double(r.timeline.last.map { $0.second + 1 } ?? 1), 1)))
        c.unitLabel = "acks per second"
        c.traces = [TimeChart.Trace(name: "acks/s", points: r.timeline.map { (ms(Double($0.second) + 0.5), Double($0.acks)) }, color: "#1f5fa8")]
        let failures = r.timeline.filter { $0.failures > 0 }
        if !failures.isEmpty {
            c.traces.append(TimeChart.Trace(name: "failed sends/s", points: failures.map { (ms(Double($0.second) + 0.5), Double($0.failures)) },
                                            color: "#a71d2a", style: .dots))
        }
        if r.parameters.replicationObservable {
            c.rightAxis = TimeChart.RightAxis(label: "min ISR", maximum: Double(FailoverParameters.replicationFactor) + 0.5,
                                              ticks: (0...FailoverParameters.replicationFactor).map { Double($0) }, color: "#e8710a")
            c.traces.append(TimeChart.Trace(name: "smallest live ISR", points: r.timeline.compactMap { p in p.minIsr.map { (ms(Double(p.second) + 0.5), Double($0)) } },
                                            color: "#e8710a", style: .dashed, rightAxis: true))
        } else {
            c.caption = "ISR: \(FailoverVerdict.notObservable) (\(r.parameters.engine))"
        }
        if let f = r.faultAt {
            c.windows.append(TimeChart.Window(fromMs: ms(f), toMs: ms(r.restoredAt ?? r.durationSeconds),
                                              label: "fault: \(r.parameters.mode.rawValue) \(r.parameters.target.service)", color: "#f8d7da"))
        }
        if let restored = r.restoredAt {
            c.windows.append(TimeChart.Window(fromMs: ms(restored), toMs: ms(r.healedAt ?? r.durationSeconds), label: "recovery", color: "#fff3cd"))
        }
        if let stall = r.figures.maxStall, stall.seconds > 0 {
            c.bars.append(TimeChart.Bar(fromMs: ms(stall.from), toMs: ms(stall.to), label: String(format: "longest stall %.2f s", stall.seconds), color: "#6f42c1"))
        }
        for span in r.phases {
            c.markers.append(TimeChart.Marker(atMs: ms(span.start), label: span.phase.rawValue, color: "#777777", dashed: true, legend: "phase start"))
        }
        if let healed = r.healedAt {
            c.markers.append(TimeChart.Marker(atMs: ms(healed), label: "healed", color: "#1e7e34", legend: "healed"))
        }
        return c
    }

    public static func svg(_ r: FailoverReport) -> String { chart(r).svg() }

    public static func html(_ r: FailoverReport) -> String {
        var page = HTMLPage(title: title(r))
        page.paragraph(r.verdict.uppercased() + (r.violated.isEmpty ? "" : " — violated: " + r.violated.map { "\($0.number). \($0.name)" }.joined(separator: ", ")),
                       cssClass: r.verdict == "passed" ? "ok" : "bad")
        page.chart(chart(r))
        page.heading("Conditions")
        page.table([["", "condition", "detail"]] + r.conditions.map { ["\($0.outcome.mark)", "\($0.number). \($0.name)", $0.detail] },
                   cssClasses: r.conditions.map { $0.outcome == .fail ? "bad" : nil }, text: true)
        page.heading("Figures")
        for line in FailoverSummary.figureLines(r) { page.paragraph(line) }
        page.heading("Phases")
        page.table([["phase", "start (s)", "end (s)", "note"]] + r.phases.map { [$0.phase.rawValue, String(format: "%.1f", $0.start), String(format: "%.1f", $0.end), $0.note ?? ""] }, text: true)
        for n in r.notes { page.paragraph(n) }
        return page.html()
    }

    static func title(_ r: FailoverReport) -> String {
        let p = r.parameters
        return "failover-test \(p.target.name) --mode \(p.mode.rawValue): \(r.verdict)" + (r.runId.map { " (run \($0))" } ?? "")
    }
}

/// The human summary: phases, the six conditions, the figures.
public enum FailoverSummary {
    public static func figureLines(_ r: FailoverReport) -> [String] {
        let g = r.figures
        var out = ["sent \(g.sent), acked \(g.acked), consumed \(g.consumed), duplicates \(g.duplicates), acked during the fault \(g.ackedDuringFault)"]
        if g.ackedWithoutOffset > 0 { out.append("acked without an offset (a retried batch the broker already had): \(g.ackedWithoutOffset)") }
        out.append("failed sends: " + (g.failedByError.isEmpty ? "none" : g.failedByError.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")))
        out.append("max produce stall: " + (g.maxStall.map { String(format: "%.2f s (%.1f–%.1f s)", $0.seconds, $0.from, $0.to) } ?? "-"))
        for l in g.latency where l.acked > 0 {
            out.append(String(format: "ack latency %@: p50 %.1f ms, p99 %.1f ms (%d acked)", l.phase.rawValue, l.p50Ms ?? 0, l.p99Ms ?? 0, l.acked))
        }
        out.append("time to new leaders: \(g.timeToNewLeaders.text)")
        out.append("time from restore to back in every ISR, URP 0: \(g.timeToBackInIsr.text)")
        out.append("time from restore until \(r.parameters.target.service) answers: \(g.timeToTargetAnswering.text)")
        out.append("time from restore until healed: \(g.timeToHealed.text)")
        if let p = r.pipeline { out.append(p.line) }
        if g.missingCount > 0 {
            out.append("missing (first \(g.missing.count) of \(g.missingCount)): "
                       + g.missing.map { "seq \($0.sequence) p\($0.partition)@\($0.offset)" }.joined(separator: ", "))
        }
        return out
    }

    public static func text(_ r: FailoverReport) -> String {
        let p = r.parameters
        var lines = ["failover-test \(p.target.name) (\(p.target.service)), mode \(p.mode.rawValue), \(p.ratePerSecond) msg/s, topic \(p.topic), engine \(p.engine)"]
        lines.append("phases:")
        for s in r.phases {
            lines.append(String(format: "  %-9@ %7.1f s → %7.1f s", s.phase.rawValue, s.start, s.end) + (s.note.map { "  " + $0 } ?? ""))
        }
        if let d = r.targetDuringFault { lines.append("\(p.target.service) during the fault: \(d)") }
        lines.append(r.restore ?? "\(p.target.service) was not touched")
        if let a = r.targetAfter { lines.append("\(p.target.service) afterwards: \(a)") }
        lines.append("conditions:")
        for c in r.conditions { lines.append("  \(c.outcome.mark) \(c.number). \(c.name): \(c.detail)") }
        lines.append("figures:")
        lines += figureLines(r).map { "  " + $0 }
        lines += r.notes.map { "note: " + $0 }
        if let e = r.error { lines.append("error: \(e)") }
        if let i = r.interrupted { lines.append("interrupted by \(i)") }
        if let f = r.reportFile { lines.append("report: \(f)") }
        let violated = r.violated.map { "\($0.number). \($0.name)" }
        lines.append("verdict: \(r.verdict.uppercased())" + (violated.isEmpty ? "" : " — violated: " + violated.joined(separator: ", "))
                     + (r.runId.map { " (run \($0): cdcctl failover-test --show \($0))" } ?? ""))
        return lines.joined(separator: "\n")
    }
}
