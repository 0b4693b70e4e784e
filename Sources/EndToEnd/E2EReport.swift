import Foundation
import Manifest
import OperationsCore
import Reports
import State

/// `bench e2e --report FILE.html`: one self-contained page — the verdict, per-hop figures, the
/// latency distribution of every hop, and latency over time (per-second p50 of each hop and the
/// end-to-end p99).
public enum E2EReport {
    public static func html(_ r: E2EBench.Result) -> String {
        var page = HTMLPage(title: String(format: "cdcctl bench e2e — %.0f changes/s for %.0f s", r.rate, r.durationSeconds))
        page.paragraph(r.missed.isEmpty ? "Verdict: targets met" : "Verdict: missed — " + r.missed.joined(separator: "; "),
                       cssClass: r.missed.isEmpty ? "ok" : "bad")
        let c = r.analysis.consistency
        page.paragraph(String(format: "Consistency: %d committed, %d in Kafka, %d consumed, %d in ClickHouse (%.2f %%); %d not arrived; duplicates: %d in Kafka, %d in ClickHouse.",
                              c.committed, c.inKafka, c.consumed, c.inClickHouse, c.percent, c.notArrived, c.duplicatesInKafka, c.duplicatesInClickHouse))
        page.paragraph(String(format: "Throughput: %.1f changes/s reached ClickHouse (generator wrote %.1f/s). Processor flushInterval %d ms, Debezium poll.interval.ms %@; recovery mode %@.",
                              r.analysis.throughputPerSecond, r.writtenPerSecond, r.flushIntervalMs, r.pollIntervalMs.map(String.init) ?? "?",
                              r.recoveryMode ?? "?"))
        page.heading("Latency per hop (ms, measured window)")
        var rows = [["hop", "count", "p50", "p95", "p99", "max", "below 0"]]
        for hop in Hop.allCases {
            guard let s = r.analysis.hops[hop.rawValue] else { continue }
            rows.append([hop.rawValue, "\(s.count)", fmt(s.p50), fmt(s.p95), fmt(s.p99), fmt(s.max), "\(r.analysis.negative[hop.rawValue] ?? 0)"])
        }
        page.table(rows)
        page.paragraph("Clocks: " + r.clocks.note + String(format: ". MySQL − host: %+lld ms (±%lld ms).", r.clocks.mysqlSkewMs, r.clocks.mysqlRoundTripMs / 2))

        page.heading("Latency distribution per hop")
        var figures: [String: String] = [:]
        let measured = r.analysis.timelines.filter(\.measured)
        for hop in Hop.allCases {
            let values = measured.compactMap { $0.latency(hop) }
            guard !values.isEmpty else { continue }
            let h = Histogram(title: hop.rawValue, values: values, bounds: Histogram.latencyBounds(upTo: values.max() ?? 1), unit: "ms")
            figures[hop.rawValue] = h.svg()
            page.paragraph(HTMLPage.figurePlaceholder(hop.rawValue))
        }

        page.heading("Latency over time (per second of commit time)")
        var chart = TimeChart(title: "per-second p50 of each hop, and end-to-end p99 (ms)")
        chart.unitLabel = "ms"
        let bySecond = Dictionary(grouping: measured) { $0.commitMs / 1000 }
        for hop in Hop.allCases {
            let points = bySecond.keys.sorted().compactMap { sec -> (Int64, Double)? in
                let v = bySecond[sec]!.compactMap { $0.latency(hop) }.sorted()
                return Percentiles.nearestRank(v, 50).map { (sec * 1000, $0) }
            }
            if !points.isEmpty { chart.lines.append(.init(name: "\(hop.rawValue) p50", points: points)) }
        }
        let p99 = bySecond.keys.sorted().compactMap { sec -> (Int64, Double)? in
            let v = bySecond[sec]!.compactMap { $0.latency(.endToEnd) }.sorted()
            return Percentiles.nearestRank(v, 99).map { (sec * 1000, $0) }
        }
        if !p99.isEmpty { chart.lines.append(.init(name: "end-to-end p99", points: p99)) }
        chart.references.append(.init(label: "target p99", value: r.targets["p99Ms"] ?? 5000, color: "#D55E00"))
        page.chart(chart)
        return page.html(figures: figures)
    }

    static func fmt(_ v: Double) -> String { String(format: "%.0f", v) }
}

extension BenchLedger {
    /// Appends one run to `bench_runs` (the state store of the workspace).
    @discardableResult
    public static func record(_ ws: Workspace, manifest loaded: LoadedManifest?, name: String, startedAtMs: Int64, durationMs: Int64,
                              parameters: [String: String], results: [String: Double], verdict: String) throws -> BenchRunRecord {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let finite = results.filter { $0.value.isFinite }
        let record = BenchRunRecord(cluster: loaded?.manifest.cluster.name, name: name, startedAtMs: startedAtMs, durationMs: durationMs,
                                    cdcctlVersion: BuildInfo.version + (BuildInfo.commit.map { " (\($0.prefix(12)))" } ?? ""),
                                    manifestHash: loaded.map { InputsHash.of([$0.text]) } ?? "none",
                                    parameters: String(decoding: try encoder.encode(parameters), as: UTF8.self),
                                    results: String(decoding: try encoder.encode(finite), as: UTF8.self), verdict: verdict)
        var stored = record
        stored.id = try ws.openState().recordBenchRun(record)
        return stored
    }

    /// The figures of an e2e run the ledger compares (lower is better unless named a rate).
    public static func figures(_ r: E2EBench.Result) -> [String: Double] {
        var out: [String: Double] = ["throughputPerSecond": r.analysis.throughputPerSecond,
                                     "notArrived": Double(r.analysis.consistency.notArrived)]
        let keys: [(Hop, String)] = [(.endToEnd, "e2e"), (.debezium, "debezium"), (.kafka, "kafka"), (.processor, "processor"), (.clickhouse, "clickhouse")]
        for (hop, key) in keys {
            guard let s = r.analysis.hops[hop.rawValue] else { continue }
            out["\(key)P50Ms"] = s.p50
            out["\(key)P99Ms"] = s.p99
        }
        return out
    }
}
