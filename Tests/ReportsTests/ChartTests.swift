import Foundation
import Reports
import XCTest

/// The one chart writer's layout rules that a glance at a picture would catch: labels stay
/// inside the plot and off each other; the general features (windows, bars, traces, a right axis,
/// elapsed time) are drawn and named in the legend.
final class ChartTests: XCTestCase {
    /// (x, y, anchor, text) of every <text> element.
    static func texts(_ svg: String) -> [(x: Double, y: Double, anchor: String, text: String)] {
        let re = try! NSRegularExpression(pattern: #"<text x="([0-9.\-]+)" y="([0-9.\-]+)"[^>]*?(?:text-anchor="(\w+)"[^>]*)?>([^<]*)</text>"#)
        return re.matches(in: svg, range: NSRange(svg.startIndex..., in: svg)).map { m in
            func g(_ i: Int) -> String { Range(m.range(at: i), in: svg).map { String(svg[$0]) } ?? "" }
            return (Double(g(1))!, Double(g(2))!, g(3).isEmpty ? "start" : g(3), g(4))
        }
    }

    func testMarkerLabelsStayInsideThePlotAndOffEachOther() {
        var c = TimeChart(title: "memory")
        c.stacked = [TimeChart.Series(name: "kafka-1", points: [(0, 100), (600_000, 120)])]
        // An OOM kill at the very end (the label used to run into the legend) and two close together.
        c.markers = [TimeChart.Marker(atMs: 600_000, label: "OOM oom-probe ×2"),
                     TimeChart.Marker(atMs: 300_000, label: "OOM mysql"), TimeChart.Marker(atMs: 301_000, label: "OOM connect")]
        let svg = c.svg()
        let plotRight = c.width - 230  // legend on the right
        let labels = Self.texts(svg).filter { $0.text.hasPrefix("OOM ") && $0.text != "OOM kill" }  // not the legend entry
        XCTAssertEqual(labels.count, 3)
        let end = labels.first { $0.text == "OOM oom-probe ×2" }!
        XCTAssertEqual(end.anchor, "end", "a label at the right edge is drawn to the left of its line")
        XCTAssertLessThanOrEqual(end.x, plotRight)
        let a = labels.first { $0.text == "OOM mysql" }!, b = labels.first { $0.text == "OOM connect" }!
        XCTAssertNotEqual(a.y, b.y, "labels that would overlap go to different rows")
        XCTAssertTrue(svg.contains(">OOM kill</text>"), "the legend names the markers")
    }

    func testWindowsBarsTracesRightAxisAndElapsedTime() {
        var c = TimeChart(title: "run")
        let t0: Int64 = 1_700_000_000_000
        c.elapsedSinceMs = t0
        c.traces = [TimeChart.Trace(name: "acks/s", points: (0..<30).map { (t0 + Int64($0) * 1000, 100.0) }, color: "#1f5fa8"),
                    TimeChart.Trace(name: "ISR", points: [(t0, 3.0), (t0 + 29_000, 3.0)], color: "#e8710a", style: .dashed, rightAxis: true)]
        c.rightAxis = TimeChart.RightAxis(label: "min ISR", maximum: 3.5, ticks: [0, 1, 2, 3], color: "#e8710a")
        c.windows = [TimeChart.Window(fromMs: t0 + 10_000, toMs: t0 + 20_000, label: "fault: kill kafka-2", color: "#f8d7da")]
        c.bars = [TimeChart.Bar(fromMs: t0 + 12_000, toMs: t0 + 13_000, label: "longest stall 1.00 s", color: "#6f42c1")]
        c.markers = [TimeChart.Marker(atMs: t0 + 22_000, label: "healed", color: "#1e7e34", legend: "healed")]
        let svg = c.svg()
        let texts = Self.texts(svg).map(\.text)
        for want in ["0s", "10s", "20s", "min ISR", "fault: kill kafka-2", "longest stall 1.00 s", "healed", "acks/s", "ISR (right axis)"] {
            XCTAssertTrue(texts.contains(want), "\(want) missing from \(texts)")
        }
        XCTAssertFalse(texts.contains("OOM kill"), "markers name their own legend entry")
        XCTAssertTrue(svg.contains("stroke-dasharray=\"6 3\""), "the dashed trace")
    }
}
