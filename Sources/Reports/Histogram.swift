import Foundation

/// A bar chart of counts per bucket (a latency distribution), as self-contained SVG in the
/// style of `TimeChart`. Buckets are given by their upper bounds; the last bar counts what lies
/// beyond the last bound.
public struct Histogram: Sendable {
    public var title: String
    public var bounds: [Double]
    public var counts: [Int]
    public var unit: String
    public var width: Double = 560
    public var height: Double = 300
    public var color = TimeChart.palette[0]

    public init(title: String, values: [Double], bounds: [Double], unit: String) {
        self.title = title
        self.bounds = bounds
        self.unit = unit
        var counts = [Int](repeating: 0, count: bounds.count + 1)
        for v in values { counts[bounds.firstIndex { v <= $0 } ?? bounds.count] += 1 }
        self.counts = counts
    }

    /// Bounds that suit latencies in ms: 1-2-5 steps from 5 ms up to past the largest value.
    public static func latencyBounds(upTo maxValue: Double) -> [Double] {
        var out: [Double] = []
        var decade = 1.0
        while out.count < 24 {
            for m in [1.0, 2.0, 5.0] where decade * m >= 5 {
                out.append(decade * m)
                if decade * m >= maxValue { return out }
            }
            decade *= 10
        }
        return out
    }

    func label(_ i: Int) -> String {
        func n(_ v: Double) -> String { v >= 1000 && v.truncatingRemainder(dividingBy: 1000) == 0 ? "\(Int(v / 1000))k" : String(format: "%g", v) }
        return i < bounds.count ? "≤\(n(bounds[i]))" : ">\(n(bounds.last ?? 0))"
    }

    public func svg() -> String {
        let left = 60.0, top = 36.0, bottom = 44.0, right = 12.0
        let plotW = width - left - right, plotH = height - top - bottom
        let maxCount = max(1, counts.max() ?? 1)
        let step = TimeChart.niceStep(Double(maxCount) * 1.05 / 4)
        let steps = max(1, Int((Double(maxCount) * 1.05 / step).rounded(.up)))
        let yMax = step * Double(steps)
        func y(_ v: Double) -> Double { top + plotH - v / yMax * plotH }
        func f(_ v: Double) -> String { String(format: "%.1f", v) }
        let barW = plotW / Double(counts.count)
        var out = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(Int(width))\" height=\"\(Int(height))\" viewBox=\"0 0 \(Int(width)) \(Int(height))\" font-family=\"sans-serif\" font-size=\"11\">\n"
        out += "<title>\(TimeChart.escape(title))</title>\n<rect x=\"0\" y=\"0\" width=\"\(Int(width))\" height=\"\(Int(height))\" fill=\"#ffffff\"/>\n"
        out += "<text x=\"\(f(left))\" y=\"22\" font-size=\"14\" font-weight=\"bold\">\(TimeChart.escape(title))</text>\n"
        for i in 0...steps {
            let v = step * Double(i)
            out += "<line x1=\"\(f(left))\" y1=\"\(f(y(v)))\" x2=\"\(f(left + plotW))\" y2=\"\(f(y(v)))\" stroke=\"#dddddd\"/>\n"
            out += "<text x=\"\(f(left - 6))\" y=\"\(f(y(v) + 4))\" text-anchor=\"end\">\(Int(v))</text>\n"
        }
        for (i, c) in counts.enumerated() {
            let x = left + Double(i) * barW
            if c > 0 {
                out += "<rect x=\"\(f(x + 1))\" y=\"\(f(y(Double(c))))\" width=\"\(f(max(1, barW - 2)))\" height=\"\(f(y(0) - y(Double(c))))\" fill=\"\(color)\"><title>\(TimeChart.escape("\(label(i)) \(unit): \(c)"))</title></rect>\n"
            }
            if counts.count <= 14 || i % 2 == 0 {
                out += "<text x=\"\(f(x + barW / 2))\" y=\"\(f(top + plotH + 14))\" text-anchor=\"middle\">\(TimeChart.escape(label(i)))</text>\n"
            }
        }
        out += "<text x=\"\(f(left + plotW / 2))\" y=\"\(f(height - 6))\" text-anchor=\"middle\">\(TimeChart.escape(unit)) (count per bucket)</text>\n"
        return out + "</svg>\n"
    }
}

extension HTMLPage {
    /// A placeholder paragraph for a figure `HTMLPage` has no call for (a histogram).
    public static func figurePlaceholder(_ name: String) -> String { "[[figure:\(name)]]" }

    /// The page with each placeholder paragraph (`paragraph(HTMLPage.figurePlaceholder(name))`)
    /// replaced by the SVG given for it.
    public func html(figures: [String: String]) -> String {
        var text = html()
        for (name, svg) in figures {
            text = text.replacingOccurrences(of: "<p>\(TimeChart.escape(Self.figurePlaceholder(name)))</p>", with: "<figure>\n\(svg)</figure>")
        }
        return text
    }
}
