import Foundation
import State

/// The run ledger's judgement (pure): a run regressed when one of its figures is more than
/// `threshold` (20 %) worse than the median of the previous `window` (5) comparable runs — same
/// benchmark, same parameters. Whether lower or higher is better follows from the figure's name.
public enum BenchLedger {
    public static let threshold = 0.20
    public static let window = 5

    public struct Regression: Sendable, Codable, Equatable {
        public var figure: String
        public var value: Double
        public var baselineMedian: Double
        /// How much worse, as a fraction of the median (0.25 = 25 % worse).
        public var worseBy: Double
        public var comparedRuns: Int
    }

    public struct Row: Sendable, Codable, Equatable {
        public var id: Int64
        public var name: String
        public var startedAtMs: Int64
        public var cdcctlVersion: String
        public var manifestHash: String
        public var parameters: [String: String]
        public var results: [String: Double]
        public var verdict: String
        public var regressions: [Regression]
    }

    /// Higher is better for rates and throughput; lower for latencies, sizes, durations, counts of failures.
    public static func higherIsBetter(_ figure: String) -> Bool {
        let f = figure.lowercased()
        return f.contains("persecond") || f.contains("throughput") || f.hasSuffix("rate") || f.contains("consistency")
    }

    /// Flat parameters and figures of a run, from the ledger's JSON columns.
    public static func parameters(_ json: String) -> [String: String] {
        guard let o = try? JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any] else { return [:] }
        return o.mapValues { "\($0)" }
    }

    public static func figures(_ json: String) -> [String: Double] {
        guard let o = try? JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any] else { return [:] }
        var out: [String: Double] = [:]
        for (k, v) in o {
            // The ledger writes figures as numbers only (never booleans).
            if let n = v as? NSNumber { out[k] = n.doubleValue }
        }
        return out
    }

    public static func median(_ values: [Double]) -> Double {
        let s = values.sorted()
        guard !s.isEmpty else { return .nan }
        return s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2
    }

    /// The regressions of `value` against the previous comparable values (oldest first).
    public static func regression(figure: String, value: Double, previous: [Double]) -> Regression? {
        let base = Array(previous.suffix(window))
        guard !base.isEmpty else { return nil }
        let m = median(base)
        guard m.isFinite else { return nil }
        let worse: Double
        if higherIsBetter(figure) {
            guard m > 0 else { return nil }
            worse = (m - value) / m
        } else {
            // A latency of 0 that becomes 1 ms is not "infinitely worse": measure against at least 1.
            worse = (value - m) / max(abs(m), 1)
        }
        guard worse > threshold else { return nil }
        return Regression(figure: figure, value: value, baselineMedian: m, worseBy: worse, comparedRuns: base.count)
    }

    /// Every run (oldest first) with the regressions it shows against the runs before it.
    public static func judge(_ runs: [BenchRunRecord]) -> [Row] {
        var rows: [Row] = []
        for r in runs {
            let params = parameters(r.parameters)
            let figs = figures(r.results)
            let comparable = rows.filter { $0.name == r.name && $0.parameters == params }
            var regressions: [Regression] = []
            for (figure, value) in figs.sorted(by: { $0.key < $1.key }) {
                let previous = comparable.compactMap { $0.results[figure] }
                if let reg = regression(figure: figure, value: value, previous: previous) { regressions.append(reg) }
            }
            rows.append(Row(id: r.id ?? 0, name: r.name, startedAtMs: r.startedAtMs, cdcctlVersion: r.cdcctlVersion,
                            manifestHash: r.manifestHash, parameters: params, results: figs, verdict: r.verdict, regressions: regressions))
        }
        return rows
    }
}

/// Percentiles by nearest rank (the value at rank ⌈p/100 × n⌉ of the sorted samples), so every
/// reported figure is a measured sample, never an interpolation.
public enum Percentiles {
    public static func nearestRank(_ sorted: [Double], _ p: Double) -> Double? {
        guard !sorted.isEmpty else { return nil }
        let rank = Int((p / 100 * Double(sorted.count)).rounded(.up))
        return sorted[min(max(rank, 1), sorted.count) - 1]
    }

    public struct Summary: Sendable, Codable, Equatable {
        public var count: Int
        public var p50: Double
        public var p95: Double
        public var p99: Double
        public var max: Double
        public var min: Double
    }

    public static func summary(_ values: [Double]) -> Summary? {
        let s = values.sorted()
        guard let p50 = nearestRank(s, 50), let p95 = nearestRank(s, 95), let p99 = nearestRank(s, 99) else { return nil }
        return Summary(count: s.count, p50: p50, p95: p95, p99: p99, max: s.last!, min: s.first!)
    }
}
