import Foundation
import State

/// One service over a period, from the recorded samples.
public struct MemorySummary: Sendable, Codable, Equatable {
    public var service: String
    public var samples: Int
    public var minBytes: Int64
    public var meanBytes: Int64
    public var p95Bytes: Int64
    public var maxBytes: Int64
    public var peakAtMs: Int64
    public var limitBytes: Int64
    /// OOM kills seen during the period (growth of the counter; a new container restarts it).
    public var oomKills: Int64
}

/// History: per-service statistics, retention and downsampling. Pure.
public enum MemoryHistory {
    /// Raw samples are kept this long, then folded into buckets.
    public static let rawRetentionMs: Int64 = 48 * 3_600_000
    public static let bucketSeconds: Int64 = 600
    /// Buckets are kept this long: the table holds at most 48 h of raw samples plus 30 days of
    /// 10-minute buckets per service (with `--every 60s` and 14 services: ~101,000 rows).
    public static let totalRetentionMs: Int64 = 30 * 24 * 3_600_000
    /// The sampler never samples faster than this, which bounds the raw rows (17,280 per service in 48 h).
    public static let minimumIntervalSeconds: Double = 10

    public static func summarize(_ samples: [MemorySampleRecord]) -> [MemorySummary] {
        Dictionary(grouping: samples, by: \.service).map { service, all in
            let s = all.sorted { $0.atMs < $1.atMs }
            let usages = s.map(\.usageBytes).sorted()
            let peak = s.max { ($0.maxUsageBytes, -$0.atMs) < ($1.maxUsageBytes, -$1.atMs) }!
            return MemorySummary(service: service, samples: s.count, minBytes: usages.first ?? 0,
                                 meanBytes: usages.reduce(0, +) / Int64(max(usages.count, 1)), p95Bytes: percentile(usages, 0.95),
                                 maxBytes: peak.maxUsageBytes, peakAtMs: peak.atMs, limitBytes: s.last?.limitBytes ?? 0,
                                 oomKills: oomGrowth(s.map(\.oomKills)))
        }.sorted { $0.service < $1.service }
    }

    /// Nearest-rank percentile of sorted values.
    public static func percentile(_ sorted: [Int64], _ p: Double) -> Int64 {
        guard !sorted.isEmpty else { return 0 }
        let rank = Int((p * Double(sorted.count)).rounded(.up))
        return sorted[min(max(rank, 1), sorted.count) - 1]
    }

    /// Kills during a series of counter readings: each rise counts; a drop means a new container
    /// whose counter started again, so its reading counts whole.
    public static func oomGrowth(_ counters: [Int64]) -> Int64 {
        var total: Int64 = 0
        var last: Int64? = nil
        for c in counters {
            if let l = last { total += c >= l ? c - l : c }
            last = c
        }
        return total
    }

    /// Folds samples into one per service and bucket (aligned to multiples of the width): usage
    /// and its parts the mean, `maxUsage` the highest, limit and OOM counter the last.
    public static func downsample(_ samples: [MemorySampleRecord], bucketSeconds: Int64 = bucketSeconds) -> [MemorySampleRecord] {
        let width = bucketSeconds * 1000
        struct Key: Hashable { var service: String; var bucket: Int64 }
        let groups = Dictionary(grouping: samples) { Key(service: $0.service, bucket: ($0.atMs / width) * width) }
        return groups.map { key, g in
            let s = g.sorted { $0.atMs < $1.atMs }
            func mean(_ f: (MemorySampleRecord) -> Int64) -> Int64 { s.map(f).reduce(0, +) / Int64(s.count) }
            return MemorySampleRecord(service: key.service, atMs: key.bucket, kind: s.last!.kind, usageBytes: mean(\.usageBytes),
                                      maxUsageBytes: s.map(\.maxUsageBytes).max()!, limitBytes: s.last!.limitBytes,
                                      rssBytes: mean(\.rssBytes), anonBytes: mean(\.anonBytes), fileBytes: mean(\.fileBytes),
                                      oomKills: s.last!.oomKills, resolutionSeconds: bucketSeconds)
        }.sorted { ($0.atMs, $0.service) < ($1.atMs, $1.service) }
    }

    /// Where retention cuts at `nowMs`: raw samples before `rawBeforeMs` (a bucket boundary, so
    /// no bucket is ever built from half its samples) become buckets; all before `dropBeforeMs` go.
    public static func cutoffs(nowMs: Int64) -> (rawBeforeMs: Int64, dropBeforeMs: Int64) {
        let width = bucketSeconds * 1000
        return (((nowMs - rawRetentionMs) / width) * width, nowMs - totalRetentionMs)
    }

    /// Applies retention to the store: reads the raw samples that aged out, writes their buckets.
    public static func compact(_ store: StateStore, cluster: String, nowMs: Int64) throws {
        let (rawBefore, dropBefore) = cutoffs(nowMs: nowMs)
        let old = try store.memorySamples(cluster: cluster, fromMs: 0, toMs: rawBefore, rawOnly: true)
        guard !old.isEmpty || dropBefore > 0 else { return }
        try store.compactMemorySamples(cluster: cluster, rawBeforeMs: rawBefore, buckets: downsample(old), dropBeforeMs: dropBefore)
    }

    /// "24h", "90m", "2d", "45s" → milliseconds.
    public static func parseDuration(_ text: String) -> Int64? {
        let units: [Character: Int64] = ["s": 1000, "m": 60_000, "h": 3_600_000, "d": 86_400_000]
        guard let unit = text.last, let factor = units[unit], let n = Double(text.dropLast()), n > 0 else { return nil }
        return Int64(n * Double(factor))
    }
}
