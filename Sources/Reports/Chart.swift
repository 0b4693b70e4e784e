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
        /// Red, solid: an event such as an OOM kill (the default).
        public var color: String = "#d00000"
        public var dashed = false
        /// The legend's entry for markers of this kind; nil: `markerLegend`.
        public var legend: String?
        public init(atMs: Int64, label: String) {
            self.atMs = atMs
            self.label = label
        }
        public init(atMs: Int64, label: String, color: String, dashed: Bool = false, legend: String? = nil) {
            self.atMs = atMs
            self.label = label
            self.color = color
            self.dashed = dashed
            self.legend = legend
        }
    }

    /// A stretch of time shaded over the whole plot (a fault window, a recovery), labelled in the legend.
    public struct Window: Sendable {
        public var fromMs: Int64
        public var toMs: Int64
        public var label: String
        public var color: String
        public init(fromMs: Int64, toMs: Int64, label: String, color: String) {
            self.fromMs = fromMs
            self.toMs = toMs
            self.label = label
            self.color = color
        }
    }

    /// A stretch of time drawn as a thin bar just above the time axis, labelled beside it (a stall).
    public struct Bar: Sendable {
        public var fromMs: Int64
        public var toMs: Int64
        public var label: String
        public var color: String
        public init(fromMs: Int64, toMs: Int64, label: String, color: String) {
            self.fromMs = fromMs
            self.toMs = toMs
            self.label = label
            self.color = color
        }
    }

    /// A series drawn as a line (or dots) in its own colour, on the left axis or the right one.
    public struct Trace: Sendable {
        public enum Style: String, Sendable { case line, dashed, dots }
        public var name: String
        public var points: [(Int64, Double)]
        public var color: String
        public var style: Style
        public var rightAxis: Bool
        public init(name: String, points: [(Int64, Double)], color: String, style: Style = .line, rightAxis: Bool = false) {
            self.name = name
            self.points = points
            self.color = color
            self.style = style
            self.rightAxis = rightAxis
        }
    }

    /// A second y axis on the right for `Trace`s with `rightAxis` (e.g. an ISR size beside a rate).
    public struct RightAxis: Sendable {
        public var label: String
        public var maximum: Double
        public var ticks: [Double]
        public var color: String
        public init(label: String, maximum: Double, ticks: [Double], color: String) {
            self.label = label
            self.maximum = maximum
            self.ticks = ticks
            self.color = color
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
    /// Shaded stretches of time, drawn under everything else.
    public var windows: [Window] = []
    /// Thin bars above the time axis.
    public var bars: [Bar] = []
    /// Lines and dots in their own colours (the left axis, or `rightAxis`).
    public var traces: [Trace] = []
    public var rightAxis: RightAxis?
    /// Time labels as seconds since this instant (`12s`) instead of UTC clock times.
    public var elapsedSinceMs: Int64?
    /// A line of text at the top right, e.g. why a series is missing.
    public var caption: String?
    /// The legend's entry for markers that name none.
    public var markerLegend = "OOM kill"

    public init(title: String) { self.title = title }

    /// A colour-blind-friendly palette (Okabe–Ito first, then Tableau), repeating.
    public static let palette = ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000",
                                 "#4E79A7", "#F28E2B", "#59A14F", "#B07AA1", "#76B7B2", "#EDC948", "#FF9DA7", "#9C755F"]

    public func color(of name: String) -> String {
        let names = stacked.map(\.name) + lines.map(\.name).filter { n in !stacked.contains { $0.name == n } }
        return Self.palette[(names.firstIndex(of: name) ?? 0) % Self.palette.count]
    }

    static let left = 90.0, top = 40.0, bottom = 50.0
    /// Room for the right axis' numbers (when there is one) and the legend.
    var right: Double { (legend ? 230 : 24) + (rightAxis == nil ? 0 : 40) }

    public func svg() -> String {
        let plotW = width - Self.left - right, plotH = height - Self.top - Self.bottom
        var allTimes: [Int64] = stacked.flatMap { $0.points.map(\.0) }
        allTimes += lines.flatMap { $0.points.map(\.0) }
        allTimes += markers.map(\.atMs)
        allTimes += traces.flatMap { $0.points.map(\.0) }
        for w in windows { allTimes += [w.fromMs, w.toMs] }
        for b in bars { allTimes += [b.fromMs, b.toMs] }
        let times: [Int64] = Set(allTimes).sorted()
        let t0: Int64 = span?.0 ?? times.first ?? 0
        let t1: Int64 = max(span?.1 ?? times.last ?? 1, t0 + 1)
        // The stack is drawn at the stacked series' own times only.
        let stackTimes: [Int64] = Set(stacked.flatMap { $0.points.map(\.0) }).sorted()
        // Stacked totals at every time (a series without a point at that time adds nothing).
        let values = stacked.map { Dictionary($0.points, uniquingKeysWith: { a, _ in a }) }
        var tops: [[Double]] = []
        var running = [Double](repeating: 0, count: stackTimes.count)
        for v in values {
            running = zip(running, stackTimes).map { $0 + (v[$1] ?? 0) }
            tops.append(running)
        }
        var candidates: [Double] = [running.max() ?? 0, minimumTop]
        candidates += lines.flatMap { $0.points.map(\.1) }
        candidates += references.map(\.value)
        candidates += traces.filter { !$0.rightAxis }.flatMap { $0.points.map(\.1) }
        let maxY: Double = candidates.max() ?? 1
        let step = Self.niceStep(maxY * 1.04 / 5, base: tickBase)
        let steps = max(1, Int((maxY * 1.04 / step).rounded(.up)))
        let yMax = step * Double(steps)
        let plotRight = Self.left + plotW
        func x(_ t: Int64) -> Double { Self.left + Double(min(max(t, t0), t1) - t0) / Double(t1 - t0) * plotW }
        func y(_ v: Double) -> Double { Self.top + plotH - v / yMax * plotH }
        func yRight(_ v: Double) -> Double { Self.top + plotH - v / max(rightAxis?.maximum ?? 1, 1e-9) * plotH }

        var out = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(Int(width))\" height=\"\(Int(height))\" viewBox=\"0 0 \(Int(width)) \(Int(height))\" font-family=\"sans-serif\" font-size=\"12\">\n"
        out += "<title>\(Self.escape(title))</title>\n"
        out += "<rect x=\"0\" y=\"0\" width=\"\(Int(width))\" height=\"\(Int(height))\" fill=\"#ffffff\"/>\n"
        out += "<text x=\"\(Self.left)\" y=\"24\" font-size=\"16\" font-weight=\"bold\">\(Self.escape(title))</text>\n"
        if let caption {
            out += "<text x=\"\(f(width - 8))\" y=\"24\" text-anchor=\"end\" fill=\"#555555\">\(Self.escape(caption))</text>\n"
        }
        // Shaded windows, under everything.
        for w in windows {
            out += "<rect x=\"\(f(x(w.fromMs)))\" y=\"\(f(Self.top))\" width=\"\(f(max(1, x(w.toMs) - x(w.fromMs))))\" height=\"\(f(plotH))\" fill=\"\(w.color)\"><title>\(Self.escape(w.label))</title></rect>\n"
        }
        // Grid and y axis.
        for i in 0...steps {
            let v = step * Double(i)
            out += "<line x1=\"\(f(Self.left))\" y1=\"\(f(y(v)))\" x2=\"\(f(plotRight))\" y2=\"\(f(y(v)))\" stroke=\"#dddddd\"/>\n"
            out += "<text x=\"\(f(Self.left - 6))\" y=\"\(f(y(v) + 4))\" text-anchor=\"end\">\(Self.escape(valueFormat(v)))</text>\n"
        }
        if !unitLabel.isEmpty {
            out += "<text x=\"16\" y=\"\(f(Self.top + plotH / 2))\" transform=\"rotate(-90 16 \(f(Self.top + plotH / 2)))\" text-anchor=\"middle\">\(Self.escape(unitLabel))</text>\n"
        }
        // Time axis: up to 6 ticks, UTC; or whole seconds since `elapsedSinceMs`.
        for t in timeTicks(t0, t1, distinct: times.count) {
            out += "<line x1=\"\(f(x(t)))\" y1=\"\(f(Self.top + plotH))\" x2=\"\(f(x(t)))\" y2=\"\(f(Self.top + plotH + 5))\" stroke=\"#333333\"/>\n"
            let text: String
            if let e = elapsedSinceMs { text = "\(Int((Double(t - e) / 1000).rounded()))s" } else { text = Self.timeLabel(t, span: t1 - t0) }
            out += "<text x=\"\(f(x(t)))\" y=\"\(f(Self.top + plotH + 20))\" text-anchor=\"middle\">\(Self.escape(text))</text>\n"
        }
        let axisName: String = elapsedSinceMs.map { (e: Int64) -> String in "seconds since " + Self.timeLabel(e, span: 0) + " UTC" } ?? "time (UTC)"
        out += "<text x=\"\(f(Self.left + plotW / 2))\" y=\"\(f(height - 8))\" text-anchor=\"middle\" fill=\"#555555\">\(Self.escape(axisName))</text>\n"
        // Stacked areas, drawn top series first so every band stays visible.
        for (i, s) in stacked.enumerated().reversed() where !stackTimes.isEmpty {
            let upper = zip(stackTimes, tops[i]).map { "\(f(x($0))),\(f(y($1)))" }
            let lower: [String] = i == 0 ? [] : Array(zip(stackTimes, tops[i - 1]).map { "\(f(x($0))),\(f(y($1)))" }.reversed())
            let base = i == 0 ? ["\(f(x(stackTimes.last!))),\(f(y(0)))", "\(f(x(stackTimes.first!))),\(f(y(0)))"] : lower
            let points = stackTimes.count == 1 ? singlePoint(upper[0], i == 0 ? 0 : tops[i - 1][0], tops[i][0], x(stackTimes[0]), y) : (upper + base).joined(separator: " ")
            out += "<polygon points=\"\(points)\" fill=\"\(color(of: s.name))\" fill-opacity=\"0.75\" stroke=\"\(color(of: s.name))\"><title>\(Self.escape(s.name))</title></polygon>\n"
        }
        // Lines (limits).
        for l in lines where !l.points.isEmpty {
            let pts = l.points.sorted { $0.0 < $1.0 }
            let drawn = pts.count == 1 ? [(t0, pts[0].1), (t1, pts[0].1)] : pts
            out += "<polyline points=\"\(drawn.map { "\(f(x($0.0))),\(f(y($0.1)))" }.joined(separator: " "))\" fill=\"none\" stroke=\"\(color(of: l.name))\" stroke-width=\"1.5\" stroke-dasharray=\"6 3\"><title>\(Self.escape(l.name)) limit</title></polyline>\n"
        }
        // Traces in their own colours.
        for tr in traces where !tr.points.isEmpty {
            let yOf: (Double) -> Double = tr.rightAxis ? yRight : y
            let pts = tr.points.sorted { $0.0 < $1.0 }
            switch tr.style {
            case .dots:
                for p in pts { out += "<circle cx=\"\(f(x(p.0)))\" cy=\"\(f(yOf(p.1)))\" r=\"3\" fill=\"\(tr.color)\"><title>\(Self.escape(tr.name))</title></circle>\n" }
            case .line, .dashed:
                let dash = tr.style == .dashed ? " stroke-dasharray=\"6 3\"" : ""
                out += "<polyline points=\"\(pts.map { "\(f(x($0.0))),\(f(yOf($0.1)))" }.joined(separator: " "))\" fill=\"none\" stroke=\"\(tr.color)\" stroke-width=\"2\"\(dash)><title>\(Self.escape(tr.name))</title></polyline>\n"
            }
        }
        // Reference lines (budget, host memory), labelled at the right end.
        for r in references {
            out += "<line x1=\"\(f(Self.left))\" y1=\"\(f(y(r.value)))\" x2=\"\(f(plotRight))\" y2=\"\(f(y(r.value)))\" stroke=\"\(r.color)\" stroke-width=\"2.5\"/>\n"
            out += "<text x=\"\(f(plotRight - 4))\" y=\"\(f(y(r.value) - 5))\" text-anchor=\"end\" fill=\"\(r.color)\" font-weight=\"bold\">\(Self.escape(r.label + " " + valueFormat(r.value)))</text>\n"
        }
        // Bars just above the time axis, labelled above their start.
        for b in bars {
            let by = Self.top + plotH - 8
            out += "<rect x=\"\(f(x(b.fromMs)))\" y=\"\(f(by - 4))\" width=\"\(f(max(2, x(b.toMs) - x(b.fromMs))))\" height=\"8\" fill=\"\(b.color)\"><title>\(Self.escape(b.label))</title></rect>\n"
            let (lx, anchor) = Self.placeLabel(at: x(b.fromMs), width: Self.textWidth(b.label, bold: false), left: Self.left, right: plotRight)
            out += "<text x=\"\(f(lx))\" y=\"\(f(by - 8))\" fill=\"\(b.color)\" text-anchor=\"\(anchor)\">\(Self.escape(b.label))</text>\n"
        }
        // Event markers: a vertical line, its label at the top of the plot, kept inside the plot
        // (flipped to the left of the line near the right edge) and moved to a lower row when it
        // would overlap an earlier label.
        var rows: [[(Double, Double)]] = []
        for m in markers.sorted(by: { $0.atMs < $1.atMs }) {
            let mx = x(m.atMs)
            let dash = m.dashed ? " stroke-dasharray=\"4 3\"" : ""
            out += "<line x1=\"\(f(mx))\" y1=\"\(f(Self.top))\" x2=\"\(f(mx))\" y2=\"\(f(Self.top + plotH))\" stroke=\"\(m.color)\" stroke-width=\"\(m.dashed ? "1" : "2")\"\(dash)/>\n"
            guard !m.label.isEmpty else { continue }
            let w = Self.textWidth(m.label, bold: true)
            let (lx, anchor) = Self.placeLabel(at: mx, width: w, left: Self.left, right: plotRight)
            let extent = anchor == "end" ? (lx - w, lx) : (lx, lx + w)
            let row = Self.freeRow(&rows, extent, maxRows: max(1, Int(plotH / 2 / 14)))
            out += "<text x=\"\(f(lx))\" y=\"\(f(Self.top + 13 + Double(row) * 14))\" fill=\"\(m.color)\" font-weight=\"bold\" text-anchor=\"\(anchor)\">\(Self.escape(m.label))</text>\n"
        }
        out += "<rect x=\"\(f(Self.left))\" y=\"\(f(Self.top))\" width=\"\(f(plotW))\" height=\"\(f(plotH))\" fill=\"none\" stroke=\"#333333\"/>\n"
        if let ra = rightAxis {
            out += "<text x=\"\(f(plotRight + 6))\" y=\"\(f(Self.top - 8))\" fill=\"\(ra.color)\">\(Self.escape(ra.label))</text>\n"
            for t in ra.ticks {
                out += "<text x=\"\(f(plotRight + 6))\" y=\"\(f(yRight(t) + 4))\" fill=\"\(ra.color)\">\(Self.escape(valueFormat(t)))</text>\n"
            }
        }
        guard legend else { return out + "</svg>\n" }
        // Legend: the stack from top to bottom, as it is drawn; then the rest.
        var ly = Self.top + 4
        let lx = plotRight + 16 + (rightAxis == nil ? 0 : 40)
        func entry(_ swatch: String, _ text: String) {
            out += swatch + "<text x=\"\(f(lx + 18))\" y=\"\(f(ly + 10))\">\(Self.escape(text))</text>\n"
            ly += 18
        }
        for s in stacked.reversed() {
            entry("<rect x=\"\(f(lx))\" y=\"\(f(ly))\" width=\"12\" height=\"12\" fill=\"\(color(of: s.name))\" fill-opacity=\"0.75\"/>\n", s.name)
        }
        if !lines.isEmpty {
            entry("<line x1=\"\(f(lx))\" y1=\"\(f(ly + 6))\" x2=\"\(f(lx + 12))\" y2=\"\(f(ly + 6))\" stroke=\"#333333\" stroke-dasharray=\"4 2\"/>\n", "limit (dashed, service colour)")
        }
        for tr in traces {
            switch tr.style {
            case .dots: entry("<circle cx=\"\(f(lx + 6))\" cy=\"\(f(ly + 6))\" r=\"3\" fill=\"\(tr.color)\"/>\n", tr.name)
            case .line, .dashed:
                entry("<line x1=\"\(f(lx))\" y1=\"\(f(ly + 6))\" x2=\"\(f(lx + 12))\" y2=\"\(f(ly + 6))\" stroke=\"\(tr.color)\" stroke-width=\"2\"\(tr.style == .dashed ? " stroke-dasharray=\"4 2\"" : "")/>\n",
                      tr.name + (tr.rightAxis ? " (right axis)" : ""))
            }
        }
        for w in windows {
            entry("<rect x=\"\(f(lx))\" y=\"\(f(ly))\" width=\"12\" height=\"12\" fill=\"\(w.color)\" stroke=\"#999999\"/>\n", w.label)
        }
        for b in bars {
            entry("<rect x=\"\(f(lx))\" y=\"\(f(ly + 3))\" width=\"12\" height=\"6\" fill=\"\(b.color)\"/>\n", b.label)
        }
        var seen = Set<String>()
        for m in markers.sorted(by: { $0.atMs < $1.atMs }) {
            let name = m.legend ?? markerLegend
            guard seen.insert(name).inserted else { continue }
            entry("<line x1=\"\(f(lx + 6))\" y1=\"\(f(ly))\" x2=\"\(f(lx + 6))\" y2=\"\(f(ly + 12))\" stroke=\"\(m.color)\" stroke-width=\"2\"\(m.dashed ? " stroke-dasharray=\"3 2\"" : "")/>\n", name)
        }
        out += "</svg>\n"
        return out
    }

    /// Where the time axis' ticks go: up to 6 evenly spaced UTC times, or whole multiples of a
    /// round number of seconds when the axis counts seconds since `elapsedSinceMs`.
    func timeTicks(_ t0: Int64, _ t1: Int64, distinct: Int) -> [Int64] {
        if let e = elapsedSinceMs {
            let stepS = max(1, Self.niceStep(Double(t1 - t0) / 1000 / 8))
            var out: [Int64] = []
            var s = (Double(t0 - e) / 1000 / stepS).rounded(.up) * stepS
            while e + Int64(s * 1000) <= t1 { out.append(e + Int64(s * 1000)); s += stepS }
            return out
        }
        let ticks = distinct > 1 ? 6 : 1
        return (0..<ticks).map { i in ticks == 1 ? t0 : t0 + (t1 - t0) * Int64(i) / Int64(ticks - 1) }
    }

    /// A label's estimated width in pixels at 12 px sans-serif (no font metrics without a browser):
    /// generous, so an estimate too small never lets two labels touch.
    static func textWidth(_ text: String, bold: Bool) -> Double { Double(text.count) * (bold ? 7.4 : 6.8) }

    /// A label beside a line at `x`: to its right when it fits inside the plot, else to its left,
    /// else pinned inside the plot's nearer edge. Returns x and the text-anchor.
    static func placeLabel(at x: Double, width: Double, left: Double, right: Double) -> (Double, String) {
        if x + 3 + width <= right { return (x + 3, "start") }
        if x - 3 - width >= left { return (x - 3, "end") }
        return x - left < right - x ? (left + 2, "start") : (right - 2, "end")
    }

    /// The first row whose labels do not overlap `extent` (with 6 px between), taken for it.
    static func freeRow(_ rows: inout [[(Double, Double)]], _ extent: (Double, Double), maxRows: Int) -> Int {
        for (i, row) in rows.enumerated() where !row.contains(where: { extent.0 < $0.1 + 6 && $0.0 < extent.1 + 6 }) {
            rows[i].append(extent)
            return i
        }
        if rows.count < maxRows { rows.append([extent]); return rows.count - 1 }
        rows[rows.count - 1].append(extent)
        return rows.count - 1
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

    /// A table of text (left-aligned, wrapping), e.g. conditions with long details; the first row is the header.
    public mutating func table(_ rows: [[String]], cssClasses: [String?] = [], text: Bool) {
        let before = body.count
        table(rows, cssClasses: cssClasses)
        if text, body.count > before { body[body.count - 1] = body[body.count - 1].replacingOccurrences(of: "<table>", with: "<table class=\"text\">") }
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
        table.text td, table.text th { text-align: left; white-space: normal; vertical-align: top; }
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
