import Diagnostics

/// cdcctl's memory: clusters, renders, and the journal of every operation. SQLite in WAL mode
/// so a reader (status, history) never blocks a writer.
public final class StateStore {
    let db: SQLiteDatabase

    /// Ordered schema migrations; the index + 1 is the schema version. Append, never edit.
    static let migrations: [String] = [
        """
        CREATE TABLE clusters (
            name TEXT PRIMARY KEY,
            manifest_path TEXT NOT NULL,
            manifest_hash TEXT NOT NULL,
            status TEXT NOT NULL DEFAULT 'defined',
            created_at_ms INTEGER NOT NULL,
            updated_at_ms INTEGER NOT NULL,
            last_up_at_ms INTEGER,
            last_down_at_ms INTEGER
        );
        CREATE TABLE renders (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            cluster TEXT NOT NULL,
            manifest_hash TEXT NOT NULL,
            output_dir TEXT NOT NULL,
            rendered_at_ms INTEGER NOT NULL
        );
        CREATE TABLE render_files (
            render_id INTEGER NOT NULL REFERENCES renders(id) ON DELETE CASCADE,
            path TEXT NOT NULL,
            sha256 TEXT NOT NULL,
            bytes INTEGER NOT NULL,
            mode INTEGER NOT NULL,
            PRIMARY KEY (render_id, path)
        );
        CREATE TABLE operations (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            cluster TEXT,
            command TEXT NOT NULL,
            arguments TEXT NOT NULL,
            inputs_hash TEXT NOT NULL,
            started_at_ms INTEGER NOT NULL,
            duration_ms INTEGER NOT NULL,
            outcome TEXT NOT NULL,
            exit_code INTEGER NOT NULL,
            detail TEXT NOT NULL DEFAULT ''
        );
        CREATE INDEX operations_by_time ON operations(started_at_ms);
        """,
        // 2: ClickHouse schema migrations applied per cluster and database (a mirror of the
        // server's cdcctl_schema_migrations table; version 0 rows are repeatable migrations).
        """
        CREATE TABLE clickhouse_migrations (
            cluster TEXT NOT NULL,
            database TEXT NOT NULL,
            version INTEGER NOT NULL,
            name TEXT NOT NULL,
            kind TEXT NOT NULL,
            checksum TEXT NOT NULL,
            statements INTEGER NOT NULL,
            applied_at_ms INTEGER NOT NULL,
            duration_ms INTEGER NOT NULL,
            PRIMARY KEY (cluster, database, version, name)
        );
        """,
        // 3: what `cdcctl up` left running (services, ports, images) and where it rendered.
        """
        ALTER TABLE clusters ADD COLUMN project_dir TEXT;
        CREATE TABLE cluster_services (
            cluster TEXT NOT NULL,
            service TEXT NOT NULL,
            container TEXT NOT NULL,
            container_id TEXT NOT NULL,
            image TEXT NOT NULL,
            image_id TEXT NOT NULL,
            state TEXT NOT NULL,
            health TEXT,
            ports TEXT NOT NULL,
            started_at TEXT NOT NULL,
            memory_limit_bytes INTEGER NOT NULL,
            recorded_at_ms INTEGER NOT NULL,
            PRIMARY KEY (cluster, service)
        );
        """,
        // 4: drills (`cdcctl failover-test`): one row per run, so runs can be compared over time.
        // Parameters, figures, conditions and the timeline are JSON written by the Drills module.
        """
        CREATE TABLE test_runs (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            cluster TEXT,
            kind TEXT NOT NULL,
            target TEXT NOT NULL,
            mode TEXT NOT NULL,
            started_at_ms INTEGER NOT NULL,
            duration_ms INTEGER NOT NULL,
            verdict TEXT NOT NULL,
            exit_code INTEGER NOT NULL,
            summary TEXT NOT NULL,
            parameters TEXT NOT NULL,
            figures TEXT NOT NULL,
            conditions TEXT NOT NULL,
            timeline TEXT NOT NULL
        );
        CREATE INDEX test_runs_by_time ON test_runs(started_at_ms);
        """,
        // 5: memory samples per service (`cdcctl report memory --record`): raw rows (resolution_s 0)
        // for 48 h, then one row per service and bucket (resolution_s the bucket width: usage the
        // mean, max_usage the highest); and the OOM-kill count each container had at the last
        // report, so "OOM-killed since the last report" survives between runs.
        """
        CREATE TABLE memory_samples (
            cluster TEXT NOT NULL,
            service TEXT NOT NULL,
            at_ms INTEGER NOT NULL,
            kind TEXT NOT NULL,
            usage_bytes INTEGER NOT NULL,
            max_usage_bytes INTEGER NOT NULL,
            limit_bytes INTEGER NOT NULL,
            rss_bytes INTEGER NOT NULL,
            anon_bytes INTEGER NOT NULL,
            file_bytes INTEGER NOT NULL,
            oom_kills INTEGER NOT NULL,
            resolution_s INTEGER NOT NULL DEFAULT 0,
            PRIMARY KEY (cluster, service, at_ms)
        );
        CREATE INDEX memory_samples_by_time ON memory_samples(cluster, at_ms);
        CREATE TABLE memory_oom_seen (
            cluster TEXT NOT NULL,
            service TEXT NOT NULL,
            container_id TEXT NOT NULL,
            oom_kills INTEGER NOT NULL,
            seen_at_ms INTEGER NOT NULL,
            PRIMARY KEY (cluster, service)
        );
        """,
        // 6 (table bench_runs): every `cdcctl bench e2e|processor|producer` run — when, which cdcctl,
        // the manifest's hash, the parameters and the figures (JSON), for `bench history`.
        """
        CREATE TABLE bench_runs (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            cluster TEXT,
            name TEXT NOT NULL,
            started_at_ms INTEGER NOT NULL,
            duration_ms INTEGER NOT NULL,
            cdcctl_version TEXT NOT NULL,
            manifest_hash TEXT NOT NULL,
            parameters TEXT NOT NULL,
            results TEXT NOT NULL,
            verdict TEXT NOT NULL
        );
        CREATE INDEX bench_runs_by_name ON bench_runs(name, id);
        """,
    ]

    public init(path: String) throws {
        db = try SQLiteDatabase(path: path)
        try db.execute("PRAGMA journal_mode=WAL; PRAGMA foreign_keys=ON; PRAGMA synchronous=NORMAL;")
        try migrate()
    }

    public var schemaVersion: Int {
        (try? db.query("PRAGMA user_version").first?.first?.int).flatMap { $0.map(Int.init) } ?? 0
    }

    public var journalMode: String {
        (try? db.query("PRAGMA journal_mode").first?.first?.string).flatMap { $0 } ?? ""
    }

    /// Applies the migrations this database has not seen, each in its own transaction.
    func migrate() throws {
        let current = schemaVersion
        guard current <= Self.migrations.count else {
            throw CdcError.failed("state database schema version \(current) is newer than this cdcctl knows (\(Self.migrations.count))",
                                  subject: db.path, fix: "upgrade cdcctl, or point --state-dir at another directory")
        }
        for (index, sql) in Self.migrations.enumerated().dropFirst(current) {
            try db.transaction {
                try db.execute(sql)
                try db.execute("PRAGMA user_version = \(index + 1)")
            }
        }
    }

    // MARK: - Operations journal

    @discardableResult
    public func record(_ op: JournalEntry) throws -> Int64 {
        try db.query("""
            INSERT INTO operations (cluster, command, arguments, inputs_hash, started_at_ms, duration_ms, outcome, exit_code, detail)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
            """, [op.cluster.map(SQLValue.text) ?? .null, .text(op.command), .text(Redact.secrets(in: op.arguments)),
                  .text(op.inputsHash), .int(op.startedAtMs), .int(op.durationMs), .text(op.outcome.rawValue),
                  .int(Int64(op.exitCode)), .text(Redact.secrets(in: op.detail))])
        return db.lastInsertRowID
    }

    /// Newest first.
    public func operations(limit: Int = 50, cluster: String? = nil) throws -> [JournalEntry] {
        let rows = try db.query("""
            SELECT id, cluster, command, arguments, inputs_hash, started_at_ms, duration_ms, outcome, exit_code, detail
            FROM operations WHERE (?1 IS NULL OR cluster = ?1) ORDER BY id DESC LIMIT ?2
            """, [cluster.map(SQLValue.text) ?? .null, .int(Int64(limit))])
        return rows.map { r in
            JournalEntry(id: r[0].int, cluster: r[1].string, command: r[2].string ?? "", arguments: r[3].string ?? "",
                      inputsHash: r[4].string ?? "", startedAtMs: r[5].int ?? 0, durationMs: r[6].int ?? 0,
                      outcome: JournalEntry.Outcome(rawValue: r[7].string ?? "") ?? .failed,
                      exitCode: Int32(r[8].int ?? 1), detail: r[9].string ?? "")
        }
    }

    // MARK: - Clusters and renders

    public func upsertCluster(name: String, manifestPath: String, manifestHash: String, nowMs: Int64) throws {
        try db.query("""
            INSERT INTO clusters (name, manifest_path, manifest_hash, created_at_ms, updated_at_ms) VALUES (?1, ?2, ?3, ?4, ?4)
            ON CONFLICT(name) DO UPDATE SET manifest_path = ?2, manifest_hash = ?3, updated_at_ms = ?4
            """, [.text(name), .text(manifestPath), .text(manifestHash), .int(nowMs)])
    }

    public func cluster(named name: String) throws -> ClusterRecord? {
        try db.query("""
            SELECT name, manifest_path, manifest_hash, status, created_at_ms, updated_at_ms, last_up_at_ms, last_down_at_ms, project_dir
            FROM clusters WHERE name = ?
            """, [.text(name)]).first.map { r in
            ClusterRecord(name: r[0].string ?? "", manifestPath: r[1].string ?? "", manifestHash: r[2].string ?? "",
                          status: r[3].string ?? "", createdAtMs: r[4].int ?? 0, updatedAtMs: r[5].int ?? 0,
                          lastUpAtMs: r[6].int, lastDownAtMs: r[7].int, projectDir: r[8].string)
        }
    }

    // MARK: - Cluster state (up / down)

    /// After `up`: the cluster is up, rendered into `projectDir`, with these services.
    public func recordUp(cluster: String, projectDir: String, services: [ServiceRecord], nowMs: Int64) throws {
        try db.transaction {
            try db.query("""
                UPDATE clusters SET status = 'up', project_dir = ?2, last_up_at_ms = ?3, updated_at_ms = ?3 WHERE name = ?1
                """, [.text(cluster), .text(projectDir), .int(nowMs)])
            try db.query("DELETE FROM cluster_services WHERE cluster = ?", [.text(cluster)])
            for s in services {
                try db.query("""
                    INSERT INTO cluster_services (cluster, service, container, container_id, image, image_id, state, health,
                                                  ports, started_at, memory_limit_bytes, recorded_at_ms)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                    """, [.text(cluster), .text(s.service), .text(s.container), .text(s.containerId), .text(s.image), .text(s.imageId),
                          .text(s.state), s.health.map(SQLValue.text) ?? .null, .text(s.ports), .text(s.startedAt),
                          .int(s.memoryLimitBytes), .int(nowMs)])
            }
        }
    }

    /// After `down`: nothing runs; `removed` when the volumes went too.
    public func recordDown(cluster: String, volumesRemoved: Bool, nowMs: Int64) throws {
        try db.transaction {
            try db.query("UPDATE clusters SET status = ?2, last_down_at_ms = ?3, updated_at_ms = ?3 WHERE name = ?1",
                         [.text(cluster), .text(volumesRemoved ? "removed" : "down"), .int(nowMs)])
            try db.query("DELETE FROM cluster_services WHERE cluster = ?", [.text(cluster)])
        }
    }

    public func services(cluster: String) throws -> [ServiceRecord] {
        try db.query("""
            SELECT service, container, container_id, image, image_id, state, health, ports, started_at, memory_limit_bytes, recorded_at_ms
            FROM cluster_services WHERE cluster = ? ORDER BY service
            """, [.text(cluster)]).map { r in
            ServiceRecord(service: r[0].string ?? "", container: r[1].string ?? "", containerId: r[2].string ?? "",
                          image: r[3].string ?? "", imageId: r[4].string ?? "", state: r[5].string ?? "", health: r[6].string,
                          ports: r[7].string ?? "", startedAt: r[8].string ?? "", memoryLimitBytes: r[9].int ?? 0,
                          recordedAtMs: r[10].int ?? 0)
        }
    }

    @discardableResult
    public func recordRender(cluster: String, manifestHash: String, outputDir: String, files: [RenderedFileRecord],
                             nowMs: Int64) throws -> Int64 {
        try db.transaction {
            try db.query("INSERT INTO renders (cluster, manifest_hash, output_dir, rendered_at_ms) VALUES (?, ?, ?, ?)",
                         [.text(cluster), .text(manifestHash), .text(outputDir), .int(nowMs)])
            let id = db.lastInsertRowID
            for f in files {
                try db.query("INSERT INTO render_files (render_id, path, sha256, bytes, mode) VALUES (?, ?, ?, ?, ?)",
                             [.int(id), .text(f.path), .text(f.sha256), .int(Int64(f.bytes)), .int(Int64(f.mode))])
            }
            return id
        }
    }

    /// The files of the newest render of a cluster, for drift checks.
    public func lastRender(cluster: String) throws -> (manifestHash: String, outputDir: String, files: [RenderedFileRecord])? {
        guard let head = try db.query("SELECT id, manifest_hash, output_dir FROM renders WHERE cluster = ? ORDER BY id DESC LIMIT 1",
                                      [.text(cluster)]).first, let id = head[0].int else { return nil }
        let files = try db.query("SELECT path, sha256, bytes, mode FROM render_files WHERE render_id = ? ORDER BY path", [.int(id)])
            .map { RenderedFileRecord(path: $0[0].string ?? "", sha256: $0[1].string ?? "", bytes: Int($0[2].int ?? 0), mode: Int($0[3].int ?? 0)) }
        return (head[1].string ?? "", head[2].string ?? "", files)
    }
}

extension StateStore {
    // MARK: - Test runs (drills)

    @discardableResult
    public func recordTestRun(_ r: TestRunRecord) throws -> Int64 {
        try db.query("""
            INSERT INTO test_runs (cluster, kind, target, mode, started_at_ms, duration_ms, verdict, exit_code, summary,
                                   parameters, figures, conditions, timeline)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            """, [r.cluster.map(SQLValue.text) ?? .null, .text(r.kind), .text(r.target), .text(r.mode), .int(r.startedAtMs),
                  .int(r.durationMs), .text(r.verdict), .int(Int64(r.exitCode)), .text(r.summary), .text(r.parameters),
                  .text(r.figures), .text(r.conditions), .text(r.timeline)])
        return db.lastInsertRowID
    }

    /// Newest first; without the large JSON columns unless `full`.
    public func testRuns(limit: Int = 50, cluster: String? = nil, kind: String? = nil) throws -> [TestRunRecord] {
        try db.query("""
            SELECT id, cluster, kind, target, mode, started_at_ms, duration_ms, verdict, exit_code, summary, parameters, figures, '', ''
            FROM test_runs WHERE (?1 IS NULL OR cluster = ?1) AND (?2 IS NULL OR kind = ?2) ORDER BY id DESC LIMIT ?3
            """, [cluster.map(SQLValue.text) ?? .null, kind.map(SQLValue.text) ?? .null, .int(Int64(limit))]).map(Self.testRun)
    }

    public func testRun(id: Int64) throws -> TestRunRecord? {
        try db.query("""
            SELECT id, cluster, kind, target, mode, started_at_ms, duration_ms, verdict, exit_code, summary, parameters, figures,
                   conditions, timeline
            FROM test_runs WHERE id = ?
            """, [.int(id)]).first.map(Self.testRun)
    }

    static func testRun(_ r: [SQLValue]) -> TestRunRecord {
        TestRunRecord(id: r[0].int, cluster: r[1].string, kind: r[2].string ?? "", target: r[3].string ?? "", mode: r[4].string ?? "",
                      startedAtMs: r[5].int ?? 0, durationMs: r[6].int ?? 0, verdict: r[7].string ?? "", exitCode: Int32(r[8].int ?? 1),
                      summary: r[9].string ?? "", parameters: r[10].string ?? "{}", figures: r[11].string ?? "{}",
                      conditions: r[12].string ?? "", timeline: r[13].string ?? "")
    }

    // MARK: - ClickHouse schema migrations

    /// Adds or replaces one applied migration (a repeatable one is replaced on each run).
    public func recordSchemaMigration(cluster: String, database: String, _ m: SchemaMigrationRecord) throws {
        try db.query("""
            INSERT INTO clickhouse_migrations (cluster, database, version, name, kind, checksum, statements, applied_at_ms, duration_ms)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
            ON CONFLICT(cluster, database, version, name) DO UPDATE SET kind = excluded.kind, checksum = excluded.checksum,
                statements = excluded.statements, applied_at_ms = excluded.applied_at_ms, duration_ms = excluded.duration_ms
            """, [.text(cluster), .text(database), .int(Int64(m.version)), .text(m.name), .text(m.kind), .text(m.checksum),
                  .int(Int64(m.statements)), .int(m.appliedAtMs), .int(m.durationMs)])
    }

    /// Makes the local record of a database equal `records` (what the server holds), in one transaction.
    public func replaceSchemaMigrations(cluster: String, database: String, with records: [SchemaMigrationRecord]) throws {
        try db.transaction {
            try db.query("DELETE FROM clickhouse_migrations WHERE cluster = ? AND database = ?", [.text(cluster), .text(database)])
            for r in records { try recordSchemaMigration(cluster: cluster, database: database, r) }
        }
    }

    /// Ordered by version, repeatable (version 0) ones by name.
    public func schemaMigrations(cluster: String, database: String) throws -> [SchemaMigrationRecord] {
        try db.query("""
            SELECT version, name, kind, checksum, statements, applied_at_ms, duration_ms FROM clickhouse_migrations
            WHERE cluster = ? AND database = ? ORDER BY version, name
            """, [.text(cluster), .text(database)]).map { r in
            SchemaMigrationRecord(version: Int(r[0].int ?? 0), name: r[1].string ?? "", kind: r[2].string ?? "",
                                  checksum: r[3].string ?? "", statements: Int(r[4].int ?? 0), appliedAtMs: r[5].int ?? 0,
                                  durationMs: r[6].int ?? 0)
        }
    }
}

/// One applied ClickHouse schema migration, as the server's bookkeeping table and the state store keep it.
public struct SchemaMigrationRecord: Sendable, Codable, Equatable {
    /// 0 for a repeatable migration.
    public var version: Int
    /// File name without `.sql`: `0002_orders_current`, `R__ttl`.
    public var name: String
    /// `versioned` or `repeatable`.
    public var kind: String
    /// SHA-256 of the rendered file, hex.
    public var checksum: String
    public var statements: Int
    public var appliedAtMs: Int64
    public var durationMs: Int64

    public init(version: Int, name: String, kind: String, checksum: String, statements: Int, appliedAtMs: Int64, durationMs: Int64) {
        self.version = version
        self.name = name
        self.kind = kind
        self.checksum = checksum
        self.statements = statements
        self.appliedAtMs = appliedAtMs
        self.durationMs = durationMs
    }
}

/// One drill run (`cdcctl failover-test`): what was asked, what was measured, the verdict.
public struct TestRunRecord: Sendable, Codable, Equatable {
    public var id: Int64?
    public var cluster: String?
    /// `failover`.
    public var kind: String
    /// The service the fault hit (`kafka-2`).
    public var target: String
    public var mode: String
    public var startedAtMs: Int64
    public var durationMs: Int64
    /// `passed`, `failed`, `refused` or `interrupted`.
    public var verdict: String
    public var exitCode: Int32
    /// One line: the violated conditions, or the headline figures.
    public var summary: String
    /// JSON documents written by the drill.
    public var parameters: String
    public var figures: String
    public var conditions: String
    public var timeline: String

    public init(id: Int64? = nil, cluster: String?, kind: String, target: String, mode: String, startedAtMs: Int64, durationMs: Int64,
                verdict: String, exitCode: Int32, summary: String, parameters: String, figures: String, conditions: String,
                timeline: String) {
        self.id = id
        self.cluster = cluster
        self.kind = kind
        self.target = target
        self.mode = mode
        self.startedAtMs = startedAtMs
        self.durationMs = durationMs
        self.verdict = verdict
        self.exitCode = exitCode
        self.summary = summary
        self.parameters = parameters
        self.figures = figures
        self.conditions = conditions
        self.timeline = timeline
    }
}

public struct JournalEntry: Sendable, Codable, Equatable {
    public enum Outcome: String, Sendable, Codable {
        case ok, failed, invalid, unhealthy
        /// Stopped by SIGINT/SIGTERM before it finished.
        case interrupted
    }

    public var id: Int64?
    public var cluster: String?
    public var command: String
    public var arguments: String
    public var inputsHash: String
    public var startedAtMs: Int64
    public var durationMs: Int64
    public var outcome: Outcome
    public var exitCode: Int32
    public var detail: String

    public init(id: Int64? = nil, cluster: String?, command: String, arguments: String, inputsHash: String,
                startedAtMs: Int64, durationMs: Int64, outcome: Outcome, exitCode: Int32, detail: String) {
        self.id = id
        self.cluster = cluster
        self.command = command
        self.arguments = arguments
        self.inputsHash = inputsHash
        self.startedAtMs = startedAtMs
        self.durationMs = durationMs
        self.outcome = outcome
        self.exitCode = exitCode
        self.detail = detail
    }
}

public struct ClusterRecord: Sendable, Codable, Equatable {
    public var name: String
    public var manifestPath: String
    public var manifestHash: String
    public var status: String
    public var createdAtMs: Int64
    public var updatedAtMs: Int64
    public var lastUpAtMs: Int64?
    public var lastDownAtMs: Int64?
    /// Where `up` rendered the compose project.
    public var projectDir: String?
}

/// One service of a cluster as `up` left it.
public struct ServiceRecord: Sendable, Codable, Equatable {
    public var service: String
    public var container: String
    public var containerId: String
    public var image: String
    public var imageId: String
    public var state: String
    public var health: String?
    /// Published ports, `127.0.0.1:3306->3306` joined by spaces.
    public var ports: String
    public var startedAt: String
    public var memoryLimitBytes: Int64
    public var recordedAtMs: Int64

    public init(service: String, container: String, containerId: String, image: String, imageId: String, state: String,
                health: String?, ports: String, startedAt: String, memoryLimitBytes: Int64, recordedAtMs: Int64 = 0) {
        self.service = service
        self.container = container
        self.containerId = containerId
        self.image = image
        self.imageId = imageId
        self.state = state
        self.health = health
        self.ports = ports
        self.startedAt = startedAt
        self.memoryLimitBytes = memoryLimitBytes
        self.recordedAtMs = recordedAtMs
    }
}

public struct RenderedFileRecord: Sendable, Codable, Equatable {
    public var path: String
    public var sha256: String
    public var bytes: Int
    public var mode: Int

    public init(path: String, sha256: String, bytes: Int, mode: Int) {
        self.path = path
        self.sha256 = sha256
        self.bytes = bytes
        self.mode = mode
    }
}
