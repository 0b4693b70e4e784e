import Foundation
import Manifest

/// One service's disk: used now, and the steady state the manifest's retentions imply.
public struct DiskRow: Sendable, Codable, Equatable {
    public var service: String
    public var usedBytes: Int64?
    /// nil when the manifest bounds it by time only and no rate was measured (`--sample`).
    public var steadyBytes: Int64?
    /// How the steady state was reckoned, in words.
    public var basis: String
    /// Growth measured over the sample, per day (nil without `--sample`).
    public var bytesPerDay: Int64?
}

public struct DiskFilesystem: Sendable, Codable, Equatable {
    public var volume: String
    public var path: String
    public var percentUsed: Double
}

public struct DiskReport: Sendable, Codable, Equatable {
    public var cluster: String
    public var diskBytes: Int64
    public var usedBytes: Int64
    /// Σ max(used now, steady state) over the services.
    public var predictedBytes: Int64
    public var predictedPercent: Double
    public var rows: [DiskRow]
    public var filesystems: [DiskFilesystem]
    public var notes: [String]
    public var problems: [String]
    public var healthy: Bool { problems.isEmpty }
}

/// Pure: the disk verdict from the volumes read, the rates measured and the manifest.
public enum DiskVerdict {
    public static let predictedLimit = 0.80
    public static let nowLimit = 0.85
    /// Prometheus' TSDB: ~1–2 bytes per sample after compression (its storage docs); 2 to be safe.
    public static let prometheusBytesPerSample = 2.0

    public struct Inputs: Sendable {
        public var volumes: [VolumeUsage]
        /// Measured growth per service, bytes per day.
        public var ratesPerDay: [String: Int64]
        /// Active series in Prometheus' head block (its /api/v1/status/tsdb), when it answered.
        public var prometheusSeries: Int?
        public init(volumes: [VolumeUsage], ratesPerDay: [String: Int64] = [:], prometheusSeries: Int? = nil) {
            self.volumes = volumes
            self.ratesPerDay = ratesPerDay
            self.prometheusSeries = prometheusSeries
        }
    }

    public static func build(_ m: Manifest, _ input: Inputs, sampleNote: String?) -> DiskReport {
        var used: [String: Int64] = [:]
        for v in input.volumes { if let u = v.usedBytes { used[v.service, default: 0] += u } }
        let services = Array(Set(input.volumes.map(\.service))).sorted()
        var rows: [DiskRow] = []
        let gib = 1_073_741_824.0
        for s in services {
            let rate = input.ratesPerDay[s]
            var steady: Int64?
            var basis: String
            if s.hasPrefix("kafka-") {
                // Per broker: each partition's retention.bytes × its replicas, spread over the brokers.
                var bounded: Int64 = 0
                var unbounded: [String] = []
                var timeBound: Double = 0
                for t in m.kafka.topics {
                    let replicasHere = Double(t.partitions * t.replicationFactor) / Double(max(1, m.kafka.brokers))
                    if t.retentionBytes > 0 {
                        bounded += Int64(Double(t.retentionBytes) * replicasHere)
                    } else if t.retentionHours > 0 {
                        unbounded.append(t.name)
                        timeBound = max(timeBound, Double(t.retentionHours) / 24)
                    } else {
                        unbounded.append(t.name + " (kept forever)")
                    }
                }
                steady = bounded
                basis = "retention.bytes × partitions × replicas / \(m.kafka.brokers) brokers = \(fmt(bounded))"
                if !unbounded.isEmpty {
                    if let rate, timeBound > 0 {
                        steady = bounded + Int64(Double(rate) * timeBound)
                        basis += " + \(fmt(rate))/day × \(Int(timeBound)) d for \(unbounded.joined(separator: ", "))"
                    } else {
                        steady = nil
                        basis += "; \(unbounded.joined(separator: ", ")) bounded by time only: measure with --sample"
                    }
                }
            } else if s == "mysql" {
                let days = Double(m.source.binlogExpireSeconds) / 86_400
                if let rate, let u = used[s] {
                    steady = u + Int64(Double(rate) * days)
                    basis = "now + binlog expiry \(String(format: "%.1f", days)) d × \(fmt(rate))/day"
                } else { basis = "binlog expiry \(String(format: "%.1f", days)) d × binlog rate: measure with --sample" }
            } else if s == "clickhouse" {
                let ttl = max(m.clickhouse.ttl.rawDays, m.clickhouse.ttl.tradesDays, m.clickhouse.ttl.aggregatesDays, m.clickhouse.ttl.alertsDays)
                if let rate {
                    steady = Int64(Double(rate) * Double(ttl))
                    basis = "longest TTL \(ttl) d × \(fmt(rate))/day"
                } else { basis = "longest TTL \(ttl) d × rows/day: measure with --sample" }
            } else if s == "prometheus" {
                let perDay = 86_400.0 / Double(max(1, m.prometheus.scrapeIntervalSeconds))
                if let series = input.prometheusSeries {
                    steady = Int64(Double(series) * perDay * Double(m.prometheus.retentionDays) * prometheusBytesPerSample)
                    basis = "\(m.prometheus.retentionDays) d retention × \(series) series × \(Int(perDay)) samples/day × 2 B"
                } else { basis = "retention × series: Prometheus did not answer at access.prometheusURL" }
            } else {
                steady = used[s]
                basis = "no retention to reckon: what it uses now"
            }
            rows.append(DiskRow(service: s, usedBytes: used[s], steadyBytes: steady, basis: basis, bytesPerDay: rate))
        }
        let disk = Int64(m.cluster.host.diskMiB) * 1_048_576
        let usedTotal = used.values.reduce(0, +)
        let predicted = rows.reduce(Int64(0)) { $0 + max($1.usedBytes ?? 0, $1.steadyBytes ?? 0) }
        var problems: [String] = []
        let pct = disk > 0 ? Double(predicted) / Double(disk) : 0
        if pct > predictedLimit {
            problems.append(String(format: "the steady state the manifest implies (%@) is %.0f %% of cluster.host.disk (%@), above 80 %%",
                                   fmt(predicted), pct * 100, fmt(disk)))
        }
        // One line per filesystem (volumes of one Docker data root share it): its size tells them apart.
        var seen = Set<Int64>()
        var filesystems: [DiskFilesystem] = []
        for v in input.volumes {
            guard let p = v.filesystemPercent, let size = v.filesystemBytes, seen.insert(size).inserted else { continue }
            filesystems.append(DiskFilesystem(volume: v.volume, path: v.path, percentUsed: (p * 10).rounded() / 10))
            if p / 100 > nowLimit { problems.append(String(format: "%@ (%@) is on a filesystem %.0f %% full, above 85 %%", v.volume, v.service, p)) }
        }
        var notes = ["Docker's own container logs are capped per container (json-file, 3 × 10 MB: x-logging in docker-compose.yml) and not counted here."]
        if let sampleNote { notes.append(sampleNote) }
        _ = gib
        return DiskReport(cluster: m.cluster.name, diskBytes: disk, usedBytes: usedTotal, predictedBytes: predicted,
                          predictedPercent: (pct * 1000).rounded() / 10, rows: rows, filesystems: filesystems, notes: notes, problems: problems)
    }

    public static func fmt(_ b: Int64) -> String {
        let d = Double(b)
        if d >= 1_073_741_824 { return String(format: "%.1f GiB", d / 1_073_741_824) }
        if d >= 1_048_576 { return String(format: "%.1f MiB", d / 1_048_576) }
        return String(format: "%.0f KiB", d / 1024)
    }
}
