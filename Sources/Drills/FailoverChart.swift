import Foundation

/// The picture of one run: acks per second and the test topic's smallest ISR over time, the
/// fault window shaded, the longest produce stall and the recovery marked. Self-contained SVG
/// (no scripts, fonts or network); `html` wraps it with the verdict. Kept minimal on purpose, so
/// it can move onto the shared chart writer of the `Reports` module when that lands.
public enum FailoverChart {
    public static func svg(_ r: FailoverReport) -> String {
        let w = 960.0, h = 370.0, left = 60.0, right = 60.0, top = 40.0, bottom = 60.0
        let plotW = w - left - right, plotH = h - top - bottom
        let duration = max(r.durationSeconds, Double(r.timeline.last?.second ?? 1), 1)
        let maxAcks = Double(max(r.timeline.map(\.acks).max() ?? 1, 1))
        let x = { (t: Double) in left + plotW * min(max(t, 0), duration) / duration }
        let yAcks = { (v: Double) in top + plotH * (1 - v / (maxAcks * 1.1)) }
        let brokers = 3.0
        let yIsr = { (v: Double) in top + plotH * (1 - v / (brokers + 0.5)) }
        var s = """
        <svg xmlns="http://www.w3.org/2000/svg" width="\(Int(w))" height="\(Int(h))" viewBox="0 0 \(Int(w)) \(Int(h))" font-family="sans-serif" font-size="12">
        <rect width="100%" height="100%" fill="#fff"/>
        <text x="\(left)" y="22" font-size="15" font-weight="bold">\(esc(title(r)))</text>

        """
        if let f = r.faultAt {
            let end = r.restoredAt ?? r.durationSeconds
            s += rect(x(f), top, x(end) - x(f), plotH, fill: "#f8d7da") + label(x(f) + 4, top + 14, "fault: \(r.parameters.mode.rawValue) \(r.parameters.target.service)", color: "#a71d2a")
        }
        if let restored = r.restoredAt {
            let end = r.healedAt ?? r.durationSeconds
            s += rect(x(restored), top, x(end) - x(restored), plotH, fill: "#fff3cd") + label(x(restored) + 4, top + 28, "recovery", color: "#856404")
        }
        for (i, span) in r.phases.enumerated() {
            // Short phases (restore, recovery) sit close together: alternate two label rows.
            s += line(x(span.start), top, x(span.start), top + plotH + Double(i % 2) * 13, color: "#999", dash: true)
            s += label(x(span.start) + 2, top + plotH + 28 + Double(i % 2) * 13, span.phase.rawValue, color: "#555")
        }
        if let healed = r.healedAt {
            s += line(x(healed), top, x(healed), top + plotH, color: "#1e7e34", width: 2) + label(x(healed) + 4, top + 42, "healed", color: "#1e7e34")
        }
        if let stall = r.figures.maxStall, stall.seconds > 0 {
            let y = top + plotH - 6
            s += "<rect x=\"\(f(x(stall.from)))\" y=\"\(f(y - 4))\" width=\"\(f(max(2, x(stall.to) - x(stall.from))))\" height=\"8\" fill=\"#6f42c1\"/>\n"
            s += label(x(stall.from), y - 8, String(format: "longest stall %.2f s", stall.seconds), color: "#6f42c1")
        }
        // Axes and grid.
        s += line(left, top + plotH, left + plotW, top + plotH, color: "#333") + line(left, top, left, top + plotH, color: "#333")
        for i in 0...4 {
            let v = maxAcks * 1.1 * Double(i) / 4
            s += label(left - 6, yAcks(v) + 4, String(Int(v)), color: "#1f5fa8", anchor: "end")
        }
        let step = max(1, Int(duration / 10))
        for t in stride(from: 0, through: Int(duration), by: step) {
            s += label(x(Double(t)), top + plotH + 15, "\(t)s", color: "#333", anchor: "middle")
        }
        s += label(14, top - 8, "acks/s", color: "#1f5fa8")
        // Acks per second.
        let points = r.timeline.map { "\(f(x(Double($0.second) + 0.5))),\(f(yAcks(Double($0.acks))))" }.joined(separator: " ")
        s += "<polyline fill=\"none\" stroke=\"#1f5fa8\" stroke-width=\"2\" points=\"\(points)\"/>\n"
        let failures = r.timeline.filter { $0.failures > 0 }
        for p in failures {
            s += "<circle cx=\"\(f(x(Double(p.second) + 0.5)))\" cy=\"\(f(yAcks(Double(p.failures))))\" r=\"3\" fill=\"#a71d2a\"/>\n"
        }
        // ISR size (right axis), or why there is none.
        s += label(w - right + 6, top - 8, "min ISR", color: "#e8710a")
        if r.parameters.replicationObservable {
            for i in 0...3 { s += label(w - right + 6, yIsr(Double(i)) + 4, String(i), color: "#e8710a") }
            let isr = r.timeline.compactMap { p in p.minIsr.map { "\(f(x(Double(p.second) + 0.5))),\(f(yIsr(Double($0))))" } }
            s += "<polyline fill=\"none\" stroke=\"#e8710a\" stroke-width=\"2\" stroke-dasharray=\"6 3\" points=\"\(isr.joined(separator: " "))\"/>\n"
        } else {
            s += label(w - 8, 22, "ISR: \(FailoverVerdict.notObservable) (\(r.parameters.engine))", color: "#e8710a", anchor: "end")
        }
        s += "</svg>\n"
        return s
    }

    public static func html(_ r: FailoverReport) -> String {
        var rows = r.conditions.map { c in
            "<tr><td>\(c.outcome.mark)</td><td>\(c.number). \(esc(c.name))</td><td>\(esc(c.detail))</td></tr>"
        }.joined(separator: "\n")
        rows += ""
        let figures = FailoverSummary.figureLines(r).map { "<li>\(esc($0))</li>" }.joined(separator: "\n")
        let phases = r.phases.map { "<li>\(esc(String(format: "%@: %.1f–%.1f s", $0.phase.rawValue, $0.start, $0.end)))</li>" }.joined(separator: "\n")
        return """
        <!DOCTYPE html>
        <html><head><meta charset="utf-8"><title>\(esc(title(r)))</title>
        <style>body{font-family:sans-serif;margin:24px;color:#222}table{border-collapse:collapse}td{border-bottom:1px solid #ddd;padding:4px 8px;vertical-align:top}.v{font-size:20px;font-weight:bold}</style>
        </head><body>
        <p class="v">\(esc(r.verdict.uppercased()))</p>
        \(svg(r))
        <h3>Conditions</h3><table>
        \(rows)
        </table>
        <h3>Figures</h3><ul>
        \(figures)
        </ul>
        <h3>Phases</h3><ul>
        \(phases)
        </ul>
        <p>\(r.notes.map(esc).joined(separator: "<br>"))</p>
        </body></html>

        """
    }

    static func title(_ r: FailoverReport) -> String {
        let p = r.parameters
        return "failover-test \(p.target.name) --mode \(p.mode.rawValue): \(r.verdict)" + (r.runId.map { " (run \($0))" } ?? "")
    }

    static func f(_ v: Double) -> String { String(format: "%.1f", v) }
    static func rect(_ x: Double, _ y: Double, _ w: Double, _ h: Double, fill: String) -> String {
        "<rect x=\"\(f(x))\" y=\"\(f(y))\" width=\"\(f(max(0, w)))\" height=\"\(f(h))\" fill=\"\(fill)\"/>\n"
    }
    static func line(_ x1: Double, _ y1: Double, _ x2: Double, _ y2: Double, color: String, width: Double = 1, dash: Bool = false) -> String {
        "<line x1=\"\(f(x1))\" y1=\"\(f(y1))\" x2=\"\(f(x2))\" y2=\"\(f(y2))\" stroke=\"\(color)\" stroke-width=\"\(f(width))\"\(dash ? " stroke-dasharray=\"3 3\"" : "")/>\n"
    }
    static func label(_ x: Double, _ y: Double, _ text: String, color: String, anchor: String = "start") -> String {
        "<text x=\"\(f(x))\" y=\"\(f(y))\" fill=\"\(color)\" text-anchor=\"\(anchor)\">\(esc(text))</text>\n"
    }
    static func esc(_ s: String) -> String {
        s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
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
