/// One memory sample of one service (a raw reading, or a downsampled bucket).
public struct MemorySampleRecord: Sendable, Codable, Equatable {
    public var service: String
    public var atMs: Int64
    /// `container` or `process`.
    public var kind: String
    /// docker-stats usage (cgroup usage minus inactive file), or RSS for a process; a bucket's mean.
    public var usageBytes: Int64
    /// The highest usage inside a bucket (the usage itself for a raw sample).
    public var maxUsageBytes: Int64
    public var limitBytes: Int64
    public var rssBytes: Int64
    public var anonBytes: Int64
    public var fileBytes: Int64
    /// The container's OOM-kill counter at the time (it restarts with a new container).
    public var oomKills: Int64
    /// 0 for a raw sample; otherwise the bucket width in seconds.
    public var resolutionSeconds: Int64

    public init(service: String, atMs: Int64, kind: String, usageBytes: Int64, maxUsageBytes: Int64? = nil, limitBytes: Int64,
                rssBytes: Int64 = 0, anonBytes: Int64 = 0, fileBytes: Int64 = 0, oomKills: Int64 = 0, resolutionSeconds: Int64 = 0) {
        self.service = service
        self.atMs = atMs
        self.kind = kind
        self.usageBytes = usageBytes
        self.maxUsageBytes = maxUsageBytes ?? usageBytes
        self.limitBytes = limitBytes
        self.rssBytes = rssBytes
        self.anonBytes = anonBytes
        self.fileBytes = fileBytes
        self.oomKills = oomKills
        self.resolutionSeconds = resolutionSeconds
    }
}

/// The OOM-kill counter a container showed at the last report.
public struct OOMMark: Sendable, Codable, Equatable {
    public var service: String
    public var containerId: String
    public var oomKills: Int64
    public var seenAtMs: Int64

    public init(service: String, containerId: String, oomKills: Int64, seenAtMs: Int64) {
        self.service = service
        self.containerId = containerId
        self.oomKills = oomKills
        self.seenAtMs = seenAtMs
    }
}

extension StateStore {
    // MARK: - Memory samples

    /// Adds samples (a sample at an existing cluster/service/time replaces it).
    public func recordMemorySamples(cluster: String, _ samples: [MemorySampleRecord]) throws {
        try db.transaction {
            for s in samples { try insert(cluster: cluster, s) }
        }
    }

    private func insert(cluster: String, _ s: MemorySampleRecord) throws {
        try db.query("""
            INSERT OR REPLACE INTO memory_samples (cluster, service, at_ms, kind, usage_bytes, max_usage_bytes, limit_bytes,
                                                   rss_bytes, anon_bytes, file_bytes, oom_kills, resolution_s)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            """, [.text(cluster), .text(s.service), .int(s.atMs), .text(s.kind), .int(s.usageBytes), .int(s.maxUsageBytes),
                  .int(s.limitBytes), .int(s.rssBytes), .int(s.anonBytes), .int(s.fileBytes), .int(s.oomKills),
                  .int(s.resolutionSeconds)])
    }

    /// Samples with `fromMs <= at_ms < toMs`, oldest first; `rawOnly` leaves out downsampled buckets.
    public func memorySamples(cluster: String, fromMs: Int64, toMs: Int64 = .max, rawOnly: Bool = false) throws -> [MemorySampleRecord] {
        try db.query("""
            SELECT service, at_ms, kind, usage_bytes, max_usage_bytes, limit_bytes, rss_bytes, anon_bytes, file_bytes, oom_kills, resolution_s
            FROM memory_samples WHERE cluster = ? AND at_ms >= ? AND at_ms < ? AND (? = 0 OR resolution_s = 0)
            ORDER BY at_ms, service
            """, [.text(cluster), .int(fromMs), .int(toMs), .int(rawOnly ? 1 : 0)]).map { r in
            MemorySampleRecord(service: r[0].string ?? "", atMs: r[1].int ?? 0, kind: r[2].string ?? "", usageBytes: r[3].int ?? 0,
                               maxUsageBytes: r[4].int ?? 0, limitBytes: r[5].int ?? 0, rssBytes: r[6].int ?? 0,
                               anonBytes: r[7].int ?? 0, fileBytes: r[8].int ?? 0, oomKills: r[9].int ?? 0,
                               resolutionSeconds: r[10].int ?? 0)
        }
    }

    public func memorySampleCount(cluster: String) throws -> Int {
        Int(try db.query("SELECT count(*) FROM memory_samples WHERE cluster = ?", [.text(cluster)]).first?.first?.int ?? 0)
    }

    /// Retention in one transaction: the raw samples before `rawBeforeMs` are replaced by
    /// `buckets` (computed from them by the caller), and everything before `dropBeforeMs` goes.
    public func compactMemorySamples(cluster: String, rawBeforeMs: Int64, buckets: [MemorySampleRecord], dropBeforeMs: Int64) throws {
        try db.transaction {
            try db.query("DELETE FROM memory_samples WHERE cluster = ? AND at_ms < ? AND resolution_s = 0",
                         [.text(cluster), .int(rawBeforeMs)])
            for b in buckets { try insert(cluster: cluster, b) }
            try db.query("DELETE FROM memory_samples WHERE cluster = ? AND at_ms < ?", [.text(cluster), .int(dropBeforeMs)])
        }
    }

    // MARK: - OOM kills seen

    public func oomMarks(cluster: String) throws -> [OOMMark] {
        try db.query("SELECT service, container_id, oom_kills, seen_at_ms FROM memory_oom_seen WHERE cluster = ? ORDER BY service",
                     [.text(cluster)]).map { r in
            OOMMark(service: r[0].string ?? "", containerId: r[1].string ?? "", oomKills: r[2].int ?? 0, seenAtMs: r[3].int ?? 0)
        }
    }

    public func recordOOMMarks(cluster: String, _ marks: [OOMMark]) throws {
        try db.transaction {
            for m in marks {
                try db.query("""
                    INSERT OR REPLACE INTO memory_oom_seen (cluster, service, container_id, oom_kills, seen_at_ms) VALUES (?, ?, ?, ?, ?)
                    """, [.text(cluster), .text(m.service), .text(m.containerId), .int(m.oomKills), .int(m.seenAtMs)])
            }
        }
    }
}
