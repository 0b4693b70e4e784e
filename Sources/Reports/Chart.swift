import Foundation

/// A small time-series chart written as self-contained SVG (no scripts, no fonts or styles from
/// anywhere else), shared by every picture cdcctl draws: stacked areas, lines, horizontal
/// reference lines and event markers over a time axis. `HTMLPage` wraps charts and tables into
/// one file.
public struct TimeChart: Sendable {
    public struct Series: Sendable {
        public var name: String
        /// (time in ms, value)
        public var points: [(Int64, Double)]
        public init(name: String, points: [(Int64, Double)]) {
            self.name = name
            self.points = points
        }
    }

    public struct Reference: Sendable {
        public var label: String
        public var value: Double
        public var color: String
        public init(label: String, value: Double, color: String) {
            self.label = label
            self.value = value
            self.color = color
        }
    }

    public struct Marker: Sendable {
        public var atMs: Int64
        public var label: String
        public init(atMs: Int64, label: String) {
            self.atMs = atMs
            self.label = label
        }
    }

    public var title: String
    public var width: Double = 1200
    public var height: Double = 560
    /// Drawn as stacked areas, first at the bottom.
    public var stacked: [Series] = []
    /// Drawn as lines (thin, dashed), in the colour of the stacked series of the same name.
    public var lines: [Series] = []
    public var references: [Reference] = []
    public var markers: [Marker] = []
    public var valueFormat: @Sendable (Double) -> String = { String(format: "%.0f", $0) }
    public var unitLabel: String = ""
    /// Above this many units the y ticks are whole multiples of it (1024 for MiB: whole GiB).
    public var tickBase: Double = 1
    /// The legend on the right; a small chart whose title names its one series needs none.
    public var legend = true
    /// The y axis reaches at least this (so small charts of one service share a floor).
    public var minimumTop: Double = 0
    /// The time axis' ends, when several charts must share one; else the data's own.
    public var span: (Int64, Int64)?

    public init(title: String) { self.title = title }

    /// A colour-blind-friendly palette (Okabe–Ito first, then Tableau), repeating.
    public static let palette = ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000",
                                 "#4E79A7", "#F28E2B", "#59A14F", "#B07AA1", "#76B7B2", "#EDC948", "#FF9DA7", "#9C755F"]

    public func color(of name: String) -> String {
        let names = stacked.map(\.name) + lines.map(\.name).filter { n in !stacked.contains { $0.name == n } }
        return Self.palette[(names.firstIndex(of: name) ?? 0) % Self.palette.count]
    }

    static let left = 90.0, top = 40.0, bottom = 50.0
    var right: Double { legend ? 230 : 24 }

    public func svg() -> String {
        let plotW = width - Self.left - right, plotH = height - Self.top - Self.bottom
        let times = Set(stacked.flatMap { $0.points.map(\.0) } + lines.flatMap { $0.points.map(\.0) } + markers.map(\.atMs)).sorted()
        let t0 = span?.0 ?? times.first ?? 0, t1 = max(span?.1 ?? times.last ?? 1, t0 + 1)
        // Stacked totals at every time (a series without a point at that time adds nothing).
        let values = stacked.map { Dictionary($0.points, uniquingKeysWith: { a, _ in a }) }
        var tops: [[Double]] = []
        var running = [Double](repeating: 0, count: times.count)
        for v in values {
            running = zip(running, times).map { $0 + (v[$1] ?? 0) }
            tops.append(running)
        }
        let maxY = ([running.max() ?? 0, minimumTop] + lines.flatMap { $0.points.map(\.1) } + references.map(\.value)).max() ?? 1
        let step = Self.niceStep(maxY * 1.04 / 5, base: tickBase)
        let steps = max(1, Int((maxY * 1.04 / step).rounded(.up)))
        let yMax = step * Double(steps)
        func x(_ t: Int64) -> Double { Self.left + Double(t - t0) / Double(t1 - t0) * plotW }
        func y(_ v: Double) -> Double { Self.top + plotH - v / yMax * plotH }

        var out = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(Int(width))\" height=\"\(Int(height))\" viewBox=\"0 0 \(Int(width)) \(Int(height))\" font-family=\"sans-serif\" font-size=\"12\">\n"
        out += "<title>\(Self.escape(title))</title>\n"
        out += "<rect x=\"0\" y=\"0\" width=\"\(Int(width))\" height=\"\(Int(height))\" fill=\"#ffffff\"/>\n"
        out += "<text x=\"\(Self.left)\" y=\"24\" font-size=\"16\" font-weight=\"bold\">\(Self.escape(title))</text>\n"
        // Grid and y axis.
        for i in 0...steps {
            let v = step * Double(i)
            out += "<line x1=\"\(f(Self.left))\" y1=\"\(f(y(v)))\" x2=\"\(f(Self.left + plotW))\" y2=\"\(f(y(v)))\" stroke=\"#dddddd\"/>\n"
            out += "<text x=\"\(f(Self.left - 6))\" y=\"\(f(y(v) + 4))\" text-anchor=\"end\">\(Self.escape(valueFormat(v)))</text>\n"
        }
        if !unitLabel.isEmpty {
            out += "<text x=\"16\" y=\"\(f(Self.top + plotH / 2))\" transform=\"rotate(-90 16 \(f(Self.top + plotH / 2)))\" text-anchor=\"middle\">\(Self.escape(unitLabel))</text>\n"
        }
        // Time axis: up to 6 ticks, UTC.
        let ticks = times.count > 1 ? 6 : 1
        for i in 0..<ticks {
            let t = ticks == 1 ? t0 : t0 + (t1 - t0) * Int64(i) / Int64(ticks - 1)
            out += "<line x1=\"\(f(x(t)))\" y1=\"\(f(Self.top + plotH))\" x2=\"\(f(x(t)))\" y2=\"\(f(Self.top + plotH + 5))\" stroke=\"#333333\"/>\n"
            out += "<text x=\"\(f(x(t)))\" y=\"\(f(Self.top + plotH + 20))\" text-anchor=\"middle\">\(Self.escape(Self.timeLabel(t, span: t1 - t0)))</text>\n"
        }
        out += "<text x=\"\(f(Self.left + plotW / 2))\" y=\"\(f(height - 8))\" text-anchor=\"middle\" fill=\"#555555\">time (UTC)</text>\n"
        // Stacked areas, drawn top series first so every band stays visible.
        for (i, s) in stacked.enumerated().reversed() where !times.isEmpty {
            let upper = zip(times, tops[i]).map { "\(f(x($0))),\(f(y($1)))" }
            let lower: [String] = i == 0 ? [] : Array(zip(times, tops[i - 1]).map { "\(f(x($0))),\(f(y($1)))" }.reversed())
            let base = i == 0 ? ["\(f(x(times.last!))),\(f(y(0)))", "\(f(x(times.first!))),\(f(y(0)))"] : lower
            let points = times.count == 1 ? singlePoint(upper[0], i == 0 ? 0 : tops[i - 1][0], tops[i][0], x(times[0]), y) : (upper + base).joined(separator: " ")
            out += "<polygon points=\"\(points)\" fill=\"\(color(of: s.name))\" fill-opacity=\"0.75\" stroke=\"\(color(of: s.name))\"><title>\(Self.escape(s.name))</title></polygon>\n"
        }
        // Lines (limits).
        for l in lines where !l.points.isEmpty {
            let pts = l.points.sorted { $0.0 < $1.0 }
            let drawn = pts.count == 1 ? [(t0, pts[0].1), (t1, pts[0].1)] : pts
            out += "<polyline points=\"\(drawn.map { "\(f(x($0.0))),\(f(y($0.1)))" }.joined(separator: " "))\" fill=\"none\" stroke=\"\(color(of: l.name))\" stroke-width=\"1.5\" stroke-dasharray=\"6 3\"><title>\(Self.escape(l.name)) limit</title></polyline>\n"
        }
        // Reference lines (budget, host memory), labelled at the right end.
        for r in references {
            out += "<line x1=\"\(f(Self.left))\" y1=\"\(f(y(r.value)))\" x2=\"\(f(Self.left + plotW))\" y2=\"\(f(y(r.value)))\" stroke=\"\(r.color)\" stroke-width=\"2.5\"/>\n"
            out += "<text x=\"\(f(Self.left + plotW - 4))\" y=\"\(f(y(r.value) - 5))\" text-anchor=\"end\" fill=\"\(r.color)\" font-weight=\"bold\">\(Self.escape(r.label + " " + valueFormat(r.value)))</text>\n"
        }
        // Event markers (OOM kills): a red line and a label at the top.
        for m in markers {
            out += "<line x1=\"\(f(x(m.atMs)))\" y1=\"\(f(Self.top))\" x2=\"\(f(x(m.atMs)))\" y2=\"\(f(Self.top + plotH))\" stroke=\"#d00000\" stroke-width=\"2\"/>\n"
            out += "<text x=\"\(f(x(m.atMs) + 3))\" y=\"\(f(Self.top + 12))\" fill=\"#d00000\" font-weight=\"bold\">\(Self.escape(m.label))</text>\n"
        }
        out += "<rect x=\"\(f(Self.left))\" y=\"\(f(Self.top))\" width=\"\(f(plotW))\" height=\"\(f(plotH))\" fill=\"none\" stroke=\"#333333\"/>\n"
        guard legend else { return out + "</svg>\n" }
        // Legend: the stack from top to bottom, as it is drawn.
        var ly = Self.top + 4
        let lx = Self.left + plotW + 16
        for s in stacked.reversed() {
            out += "<rect x=\"\(f(lx))\" y=\"\(f(ly))\" width=\"12\" height=\"12\" fill=\"\(color(of: s.name))\" fill-opacity=\"0.75\"/>\n"
            out += "<text x=\"\(f(lx + 18))\" y=\"\(f(ly + 10))\">\(Self.escape(s.name))</text>\n"
            ly += 18
        }
        if !lines.isEmpty {
            out += "<line x1=\"\(f(lx))\" y1=\"\(f(ly + 6))\" x2=\"\(f(lx + 12))\" y2=\"\(f(ly + 6))\" stroke=\"#333333\" stroke-dasharray=\"4 2\"/>\n"
            out += "<text x=\"\(f(lx + 18))\" y=\"\(f(ly + 10))\">limit (dashed, service colour)</text>\n"
            ly += 18
        }
        if !markers.isEmpty {
            out += "<line x1=\"\(f(lx + 6))\" y1=\"\(f(ly))\" x2=\"\(f(lx + 6))\" y2=\"\(f(ly + 12))\" stroke=\"#d00000\" stroke-width=\"2\"/>\n"
            out += "<text x=\"\(f(lx + 18))\" y=\"\(f(ly + 10))\">OOM kill</text>\n"
        }
        out += "</svg>\n"
        return out
    }

    /// One sample in time: a band drawn as a narrow bar so it is still visible.
    private func singlePoint(_ upper: String, _ lowV: Double, _ highV: Double, _ cx: Double, _ y: (Double) -> Double) -> String {
        let w = 12.0
        return "\(f(cx - w)),\(f(y(highV))) \(f(cx + w)),\(f(y(highV))) \(f(cx + w)),\(f(y(lowV))) \(f(cx - w)),\(f(y(lowV)))"
    }

    private func f(_ v: Double) -> String { String(format: "%.1f", v) }

    /// A tick step at or above v: 1, 2, 2.5 or 5 × 10^n, counted in `base` units once v reaches one.
    public static func niceStep(_ v: Double, base: Double = 1) -> Double {
        guard v > 0 else { return 1 }
        let unit = v >= base ? base : 1
        let r = v / unit
        let p = pow(10, floor(log10(r)))
        for m in [1.0, 2.0, 2.5, 5.0, 10.0] where m * p >= r { return m * p * unit }
        return 10 * p * unit
    }

    static func timeLabel(_ ms: Int64, span: Int64) -> String {
        let d = Date(timeIntervalSince1970: Double(ms) / 1000)
        var c = Calendar(identifier: .gregorian)
        c.timeZone = TimeZone(identifier: "UTC")!
        let p = c.dateComponents([.month, .day, .hour, .minute, .second], from: d)
        let hm = String(format: "%02d:%02d", p.hour ?? 0, p.minute ?? 0)
        if span > 86_400_000 { return String(format: "%02d-%02d ", p.month ?? 0, p.day ?? 0) + hm }
        return span < 600_000 ? hm + String(format: ":%02d", p.second ?? 0) : hm
    }

    public static func escape(_ s: String) -> String {
        s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
    }
}

/// One self-contained HTML file: inline CSS, inline SVG, tables; no scripts, no links out.
public struct HTMLPage: Sendable {
    public var title: String
    private var body: [String] = []

    public init(title: String) { self.title = title }

    public mutating func heading(_ text: String) { body.append("<h2>\(TimeChart.escape(text))</h2>") }
    public mutating func paragraph(_ text: String, cssClass: String? = nil) {
        body.append("<p\(cssClass.map { " class=\"\($0)\"" } ?? "")>\(TimeChart.escape(text))</p>")
    }
    public mutating func chart(_ chart: TimeChart) { body.append("<figure>\n" + chart.svg() + "</figure>") }
    /// Small charts side by side, wrapping.
    public mutating func charts(_ charts: [TimeChart]) {
        body.append("<div class=\"grid\">\n" + charts.map { "<figure>\n" + $0.svg() + "</figure>" }.joined(separator: "\n") + "\n</div>")
    }

    /// A table; the first row is the header; cells after the first are right-aligned.
    public mutating func table(_ rows: [[String]], cssClasses: [String?] = []) {
        guard let head = rows.first else { return }
        var out = "<table>\n<thead><tr>" + head.map { "<th>\(TimeChart.escape($0))</th>" }.joined() + "</tr></thead>\n<tbody>\n"
        for (i, r) in rows.dropFirst().enumerated() {
            let cls = i < cssClasses.count ? cssClasses[i].map { " class=\"\($0)\"" } ?? "" : ""
            out += "<tr\(cls)>" + r.map { "<td>\(TimeChart.escape($0))</td>" }.joined() + "</tr>\n"
        }
        body.append(out + "</tbody>\n</table>")
    }

    public func html() -> String {
        """
        <!DOCTYPE html>
        <html lang="en">
        <head>
        <meta charset="utf-8">
        <title>\(TimeChart.escape(title))</title>
        <style>
        body { font-family: sans-serif; margin: 24px; color: #222; }
        h1 { font-size: 22px; margin: 0 0 8px; }
        h2 { font-size: 17px; margin: 24px 0 8px; }
        table { border-collapse: collapse; font-size: 13px; }
        th, td { border-bottom: 1px solid #ddd; padding: 4px 10px; text-align: right; white-space: nowrap; }
        th:first-child, td:first-child { text-align: left; }
        thead th { background: #f3f3f3; }
        tr.bad td { background: #ffe0e0; }
        p.bad { color: #b00000; font-weight: bold; }
        p.ok { color: #006000; font-weight: bold; }
        figure { margin: 0; }
        div.grid { display: flex; flex-wrap: wrap; gap: 8px; }
        </style>
        </head>
        <body>
        <h1>\(TimeChart.escape(title))</h1>
        \(body.joined(separator: "\n"))
        </body>
        </html>

        """
    }
}
