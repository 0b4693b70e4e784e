/// One benchmark run (`cdcctl bench e2e|processor|producer`) as the ledger keeps it.
public struct BenchRunRecord: Sendable, Codable, Equatable {
    public var id: Int64?
    public var cluster: String?
    /// `e2e`, `processor`, `producer`.
    public var name: String
    public var startedAtMs: Int64
    public var durationMs: Int64
    public var cdcctlVersion: String
    public var manifestHash: String
    /// JSON object of the parameters that make runs comparable (rate, duration, …).
    public var parameters: String
    /// JSON object of the figures (`e2eP99Ms`, `throughput`, …): numbers a later run is compared with.
    public var results: String
    /// `met`, `missed`, or `measured` (no targets).
    public var verdict: String

    public init(id: Int64? = nil, cluster: String?, name: String, startedAtMs: Int64, durationMs: Int64, cdcctlVersion: String,
                manifestHash: String, parameters: String, results: String, verdict: String) {
        self.id = id
        self.cluster = cluster
        self.name = name
        self.startedAtMs = startedAtMs
        self.durationMs = durationMs
        self.cdcctlVersion = cdcctlVersion
        self.manifestHash = manifestHash
        self.parameters = parameters
        self.results = results
        self.verdict = verdict
    }
}

extension StateStore {
    // MARK: - Benchmark runs (the ledger)

    @discardableResult
    public func recordBenchRun(_ r: BenchRunRecord) throws -> Int64 {
        try db.query("""
            INSERT INTO bench_runs (cluster, name, started_at_ms, duration_ms, cdcctl_version, manifest_hash, parameters, results, verdict)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
            """, [r.cluster.map(SQLValue.text) ?? .null, .text(r.name), .int(r.startedAtMs), .int(r.durationMs), .text(r.cdcctlVersion),
                  .text(r.manifestHash), .text(r.parameters), .text(r.results), .text(r.verdict)])
        return db.lastInsertRowID
    }

    /// Oldest first (the order regressions are judged in), the newest `limit`.
    public func benchRuns(name: String? = nil, limit: Int = 200) throws -> [BenchRunRecord] {
        try db.query("""
            SELECT id, cluster, name, started_at_ms, duration_ms, cdcctl_version, manifest_hash, parameters, results, verdict
            FROM bench_runs WHERE (?1 IS NULL OR name = ?1) ORDER BY id DESC LIMIT ?2
            """, [name.map(SQLValue.text) ?? .null, .int(Int64(limit))]).reversed().map { r in
            BenchRunRecord(id: r[0].int, cluster: r[1].string, name: r[2].string ?? "", startedAtMs: r[3].int ?? 0, durationMs: r[4].int ?? 0,
                           cdcctlVersion: r[5].string ?? "", manifestHash: r[6].string ?? "", parameters: r[7].string ?? "{}",
                           results: r[8].string ?? "{}", verdict: r[9].string ?? "")
        }
    }
}
